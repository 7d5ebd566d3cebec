// Parsing tool calls out of generated text as it streams: text outside calls
// passes through as content, and each call goes out as OpenAI tool-call deltas
// as soon as its name is known (header), then its argument text as it arrives.
// Decisions depend only on the text, never on where chunks split it, so the
// deltas of any chunking reassemble into the same calls (property-tested).

import { CallScanner } from './call-object-scanner.js';
import { CALL_START, HERMES_CALL_END, type ToolCallFormat } from './tool-call-format.js';
import type { ToolCallDelta } from './tool-call-deltas.js';

/** What the parser emits, in order: content text, or a delta of a call. */
export type ParserEvent = { kind: 'content'; text: string } | { kind: 'tool_call'; delta: ToolCallDelta };

export interface ParserOptions {
  /** Id for each new call; default `call_` + 24 random characters. */
  newId?: () => string;
}

type Mode =
  /** Free text; watching for the format's trigger (CALL_START). */
  | 'text'
  /** llama3 only: start of output, deciding between a call and plain text. */
  | 'lead'
  /** mistral: after [TOOL_CALLS], expecting '['. */
  | 'open'
  /** Inside a call object. */
  | 'call'
  /** After a call: expecting the closing tag, a separator or the list end. */
  | 'after'
  /** Plain text to the end; no more calls recognised. */
  | 'rest';

export class ToolCallStreamParser {
  private buf = '';
  private mode: Mode;
  private call: CallScanner | null = null;
  private callRaw = '';
  /** Text consumed since the last emission that led into the current call (trigger, '['). */
  private opener = '';
  private calls = 0;
  /** A call whose header went out was never completed (output cut short, or not a valid call after all). */
  private incompleteCall = false;
  private readonly newId: () => string;
  private events: ParserEvent[] = [];

  constructor(
    readonly format: ToolCallFormat,
    options: ParserOptions = {},
  ) {
    this.newId = options.newId ?? randomCallId;
    this.mode = format === 'llama3' ? 'lead' : 'text';
  }

  /** True when every call the parser announced was completed. */
  get callsComplete(): boolean {
    return !this.incompleteCall;
  }

  push(text: string): ParserEvent[] {
    this.buf += text;
    this.drain(false);
    return this.take();
  }

  /** End of output: flushes held text and closes a call cut short. */
  finish(): ParserEvent[] {
    this.drain(true);
    if (this.mode === 'call') this.abandonCall();
    const rest = this.buf;
    this.buf = '';
    // Whitespace after the last call is not content.
    if (rest !== '' && !(this.calls > 0 && rest.trim() === '')) this.content(rest);
    return this.take();
  }

  private take(): ParserEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  private content(text: string): void {
    if (text === '') return;
    const last = this.events[this.events.length - 1];
    if (last?.kind === 'content') last.text += text;
    else this.events.push({ kind: 'content', text });
  }

  private drain(final: boolean): void {
    for (;;) {
      const before = this.buf.length + this.mode;
      switch (this.mode) {
        case 'text':
          this.text(final);
          break;
        case 'lead':
          this.lead(final);
          break;
        case 'open':
          this.open(final);
          break;
        case 'call':
          this.feedCall();
          break;
        case 'after':
          this.after(final);
          break;
        case 'rest':
          this.content(this.buf);
          this.buf = '';
          break;
      }
      if (this.buf.length + this.mode === before) return;
    }
  }

  private text(final: boolean): void {
    const trigger = CALL_START[this.format];
    const at = this.format === 'llama3' ? -1 : this.buf.indexOf(trigger);
    if (at >= 0) {
      // Whitespace just before a call is layout, not content (unless the call
      // turns out not to be one: abandonCall() emits the opener as text).
      const before = this.buf.slice(0, at);
      const kept = before.trimEnd();
      this.content(kept);
      this.opener = before.slice(kept.length) + trigger;
      this.buf = this.buf.slice(at + trigger.length);
      this.mode = this.format === 'mistral' ? 'open' : 'call';
      return;
    }
    if (final) return;
    // Hold back what could still become the trigger, and trailing whitespace
    // (dropped if a call follows, emitted once more text arrives).
    const held = this.format === 'llama3' ? 0 : partialSuffix(this.buf, trigger);
    const end = this.buf.slice(0, this.buf.length - held).trimEnd().length;
    this.content(this.buf.slice(0, end));
    this.buf = this.buf.slice(end);
  }

  private lead(final: boolean): void {
    const start = this.buf.search(/\S/);
    if (start < 0) {
      if (final) this.mode = 'rest';
      return;
    }
    const rest = this.buf.slice(start);
    const trigger = CALL_START.llama3;
    if (rest.startsWith(trigger)) {
      this.opener = this.buf.slice(0, start) + trigger;
      this.buf = rest.slice(trigger.length);
      this.mode = 'call';
    } else if (rest.startsWith('{')) {
      this.mode = 'call';
    } else if (trigger.startsWith(rest) && !final) {
      return;
    } else {
      this.mode = 'rest';
    }
  }

  private open(final: boolean): void {
    const start = this.buf.search(/\S/);
    if (start < 0) {
      if (final) {
        this.content(this.opener);
        this.opener = '';
        this.mode = 'rest';
      }
      return;
    }
    if (this.buf[start] === '[') {
      this.opener += this.buf.slice(0, start + 1);
      this.buf = this.buf.slice(start + 1);
      this.mode = 'call';
    } else if (this.buf[start] === '{') {
      // [TOOL_CALLS] followed by a bare object: accept it as a one-call list.
      this.mode = 'call';
    } else {
      this.content(this.opener);
      this.opener = '';
      this.mode = 'rest';
    }
  }

  private feedCall(): void {
    if (this.call === null) {
      const start = this.buf.search(/\S/);
      if (start < 0) return;
      this.callRaw = this.buf.slice(0, start);
      this.buf = this.buf.slice(start);
      this.call = new CallScanner();
    }
    const scanner = this.call;
    let i = 0;
    let outcome: 'more' | 'done' | 'error' = 'more';
    while (i < this.buf.length && outcome === 'more') {
      outcome = scanner.feed(this.buf[i]);
      i++;
    }
    this.callRaw += this.buf.slice(0, i);
    if (scanner.headerSent || scanner.name !== null) this.opener = '';
    this.buf = this.buf.slice(i);
    this.flushCall(scanner);
    if (outcome === 'done') {
      if (scanner.headerSent) {
        if (!scanner.argsStarted) this.args('{}');
        this.call = null;
        this.callRaw = '';
        this.mode = 'after';
      } else {
        this.abandonCall();
      }
    } else if (outcome === 'error') {
      this.abandonCall();
    }
  }

  /** Sends the call header once the name is known, then argument text as it arrives. */
  private flushCall(scanner: CallScanner): void {
    if (!scanner.headerSent && scanner.name !== null) {
      scanner.headerSent = true;
      this.events.push({ kind: 'tool_call', delta: { index: this.calls, id: this.newId(), type: 'function', function: { name: scanner.name, arguments: '' } } });
      this.calls++;
    }
    if (scanner.headerSent && scanner.pendingArgs !== '') {
      const text = scanner.pendingArgs;
      scanner.pendingArgs = '';
      this.args(text);
    }
  }

  private args(text: string): void {
    const index = this.calls - 1;
    const last = this.events[this.events.length - 1];
    if (last?.kind === 'tool_call' && last.delta.index === index && last.delta.id === undefined) last.delta.function.arguments += text;
    else this.events.push({ kind: 'tool_call', delta: { index, function: { arguments: text } } });
  }

  /**
   * The call broke off or never named a function. A call already announced
   * stays as streamed; otherwise its text was never a call and becomes content.
   */
  private abandonCall(): void {
    const scanner = this.call;
    this.call = null;
    if (scanner !== null && scanner.headerSent) {
      this.incompleteCall = true;
      this.mode = 'rest';
      return;
    }
    this.content(this.opener + this.callRaw);
    this.opener = '';
    this.callRaw = '';
    this.mode = 'rest';
  }

  private after(final: boolean): void {
    const start = this.buf.search(/\S/);
    if (start < 0) {
      if (final) this.buf = '';
      return;
    }
    const rest = this.buf.slice(start);
    const expect = this.format === 'hermes' ? HERMES_CALL_END : null;
    if (expect !== null) {
      if (rest.startsWith(expect)) {
        this.buf = rest.slice(expect.length);
        this.mode = 'text';
      } else if (expect.startsWith(rest) && !final) {
        return;
      } else {
        this.buf = rest;
        this.mode = 'text';
      }
      return;
    }
    const separator = this.format === 'mistral' ? ',' : ';';
    if (rest[0] === separator) {
      this.buf = rest.slice(1);
      this.mode = 'call';
    } else if (this.format === 'mistral' && rest[0] === ']') {
      this.buf = rest.slice(1);
      this.mode = 'text';
    } else if (this.format === 'llama3' && rest[0] === '{') {
      this.buf = rest;
      this.mode = 'call';
    } else {
      this.buf = rest;
      this.mode = 'rest';
    }
  }
}

/** Length of the longest suffix of `text` that is a proper prefix of `tag`. */
function partialSuffix(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(tag.slice(0, n))) return n;
  }
  return 0;
}

function randomCallId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let id = 'call_';
  for (let i = 0; i < 24; i++) id += alphabet[Math.floor(Math.random() * alphabet.length)];
  return id;
}
