// Tool calling: which textual format a model uses for calls, parsing calls
// out of generated text (complete and streaming), the prompt for models whose
// chat template knows nothing about tools, and the grammar that forces a call
// for tool_choice "required" or a named function.
//
// Formats:
//  - hermes   <tool_call>{"name": "f", "arguments": {...}}</tool_call>  (Qwen 2.5/3, Hermes, our built-in models)
//  - llama3   {"name": "f", "parameters": {...}}, optionally after <|python_tag|>, calls separated by ";"
//  - mistral  [TOOL_CALLS][{"name": "f", "arguments": {...}}, ...]
//
// The complete parser is the streaming parser fed the whole text at once, so
// streamed deltas always reassemble into the complete result; the parser's
// decisions depend only on the text, never on where chunks split it.

import { jsonSchemaGrammar, UnsupportedSchemaError, type JsonGrammar, type JsonGrammarOptions } from './schema-grammar.js';
import { findUnsupportedKeyword } from './schema-support.js';

export type ToolCallFormat = 'hermes' | 'llama3' | 'mistral';

export interface ToolFormatInfo {
  format: ToolCallFormat;
  /**
   * Render `tools` (and tool_calls / tool messages) through the chat template.
   * False when the template ignores tools, or speaks a call format we cannot
   * parse (Gemma's `<|tool_call>call:`, Phi-4's `<|tool_call|>`, gpt-oss
   * harmony): then do not pass tools to the template; prepend
   * defaultToolPrompt() to the system message and pass history through
   * toPlainToolMessages(), and the model is asked for hermes calls.
   */
  templateSupportsTools: boolean;
}

/** Picks the call format from the chat template; hermes (via the default prompt) otherwise. */
export function detectToolCallFormat(chatTemplate: string | null | undefined): ToolFormatInfo {
  const template = chatTemplate ?? '';
  const mentionsTools = /\btools\b/.test(template);
  if (template.includes('[TOOL_CALLS]')) return { format: 'mistral', templateSupportsTools: mentionsTools };
  if (template.includes('<tool_call>')) return { format: 'hermes', templateSupportsTools: mentionsTools };
  if (template.includes('<|python_tag|>') || (template.includes('<|start_header_id|>') && template.includes('"parameters"'))) {
    return { format: 'llama3', templateSupportsTools: mentionsTools };
  }
  return { format: 'hermes', templateSupportsTools: false };
}

/** Special tokens of each format that must stay visible as text (GrammarVocab textSpecialTokens, detokenizer). */
export const FORMAT_MARKERS: Record<ToolCallFormat, readonly string[]> = {
  hermes: ['<tool_call>', '</tool_call>'],
  llama3: ['<|python_tag|>'],
  mistral: ['[TOOL_CALLS]'],
};

// ---- parsed results and deltas -------------------------------------------------

export interface ParsedToolCall {
  id: string;
  name: string;
  /** The arguments exactly as generated (normally a JSON object text). */
  arguments: string;
}

export interface ParsedOutput {
  /** Text outside calls; null when there is none (OpenAI sends null beside tool_calls). */
  content: string | null;
  toolCalls: ParsedToolCall[];
}

/** An OpenAI `choices[].delta.tool_calls[]` element. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export type StreamEvent = { kind: 'content'; text: string } | { kind: 'tool_call'; delta: ToolCallDelta };

export interface ParserOptions {
  /** Id for each new call; default `call_` + 24 random characters. */
  newId?: () => string;
}

export function parseToolCalls(text: string, format: ToolCallFormat, options: ParserOptions = {}): ParsedOutput {
  const parser = new ToolCallStreamParser(format, options);
  return assembleEvents([...parser.push(text), ...parser.finish()]);
}

/** Folds stream events into the complete result (what a client reassembles). */
export function assembleEvents(events: readonly StreamEvent[]): ParsedOutput {
  let content = '';
  const calls: ParsedToolCall[] = [];
  for (const event of events) {
    if (event.kind === 'content') {
      content += event.text;
      continue;
    }
    const d = event.delta;
    if (d.index === calls.length) calls.push({ id: d.id ?? '', name: d.function.name ?? '', arguments: '' });
    const call = calls[d.index];
    if (call === undefined) throw new Error(`tool call delta for index ${d.index} before index ${calls.length}`);
    call.arguments += d.function.arguments;
  }
  return { content: content === '' ? null : content, toolCalls: calls };
}

// ---- streaming parser -------------------------------------------------------------

type Mode =
  /** Free text; watching for the format's trigger. */
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

const TRIGGER: Record<ToolCallFormat, string> = { hermes: '<tool_call>', llama3: '<|python_tag|>', mistral: '[TOOL_CALLS]' };
const WS = /\s/;

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
  private events: StreamEvent[] = [];

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

  push(text: string): StreamEvent[] {
    this.buf += text;
    this.drain(false);
    return this.take();
  }

  /** End of output: flushes held text and closes a call cut short. */
  finish(): StreamEvent[] {
    this.drain(true);
    if (this.mode === 'call') this.abandonCall();
    const rest = this.buf;
    this.buf = '';
    // Whitespace after the last call is not content.
    if (rest !== '' && !(this.calls > 0 && rest.trim() === '')) this.content(rest);
    return this.take();
  }

  private take(): StreamEvent[] {
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
    const trigger = TRIGGER[this.format];
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
    let end = this.buf.length - (this.format === 'llama3' ? 0 : partialSuffix(this.buf, trigger));
    while (end > 0 && WS.test(this.buf[end - 1])) end--;
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
    const trigger = TRIGGER.llama3;
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
    const expect = this.format === 'hermes' ? '</tool_call>' : null;
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

// ---- one call object, a character at a time ------------------------------------------

type CallState = 'start' | 'key_or_end' | 'key' | 'colon' | 'value_start' | 'value' | 'comma_or_end';

/**
 * Scans `{"name": ..., "arguments": ...}` (or "parameters") incrementally.
 * Collects the name; passes argument text through raw, as generated.
 */
class CallScanner {
  name: string | null = null;
  headerSent = false;
  argsStarted = false;
  pendingArgs = '';
  private state: CallState = 'start';
  private keyRaw = '';
  private keyEscape = false;
  private key = '';
  private value: ValueScanner | null = null;
  private nameRaw = '';

  feed(ch: string): 'more' | 'done' | 'error' {
    switch (this.state) {
      case 'start':
        if (WS.test(ch)) return 'more';
        if (ch !== '{') return 'error';
        this.state = 'key_or_end';
        return 'more';
      case 'key_or_end':
        if (WS.test(ch)) return 'more';
        if (ch === '}') return 'done';
        return this.startKey(ch);
      case 'key':
        this.keyRaw += ch;
        if (this.keyEscape) this.keyEscape = false;
        else if (ch === '\\') this.keyEscape = true;
        else if (ch === '"') {
          try {
            this.key = JSON.parse(this.keyRaw) as string;
          } catch {
            return 'error';
          }
          this.state = 'colon';
        }
        return 'more';
      case 'colon':
        if (WS.test(ch)) return 'more';
        if (ch !== ':') return 'error';
        this.state = 'value_start';
        return 'more';
      case 'value_start':
        if (WS.test(ch)) return 'more';
        this.value = new ValueScanner();
        this.state = 'value';
        if (this.isArgsKey()) this.argsStarted = true;
        return this.feedValue(ch);
      case 'value':
        return this.feedValue(ch);
      case 'comma_or_end':
        if (WS.test(ch)) return 'more';
        if (ch === '}') return 'done';
        if (ch !== ',') return 'error';
        this.state = 'key_or_end';
        return 'more';
    }
  }

  private startKey(ch: string): 'more' | 'error' {
    if (ch !== '"') return 'error';
    this.keyRaw = '"';
    this.keyEscape = false;
    this.state = 'key';
    return 'more';
  }

  private isArgsKey(): boolean {
    return (this.key === 'arguments' || this.key === 'parameters') && !this.argsDone;
  }

  private argsDone = false;

  private feedValue(ch: string): 'more' | 'done' | 'error' {
    const value = this.value!;
    const result = value.feed(ch);
    if (result === 'error') return 'error';
    const consumed = result !== 'ended_before';
    const streaming = this.argsStarted && !this.argsDone && (this.key === 'arguments' || this.key === 'parameters');
    if (consumed) {
      if (streaming) this.pendingArgs += ch;
      else if (this.key === 'name') this.nameRaw += ch;
    }
    if (result === 'more') return 'more';
    // The value is complete.
    if (streaming) this.argsDone = true;
    if (this.key === 'name' && this.name === null) {
      try {
        const parsed: unknown = JSON.parse(this.nameRaw);
        if (typeof parsed !== 'string' || parsed === '') return 'error';
        this.name = parsed;
      } catch {
        return 'error';
      }
    }
    this.value = null;
    this.state = 'comma_or_end';
    return consumed ? 'more' : this.feed(ch);
  }
}

/** Finds where one JSON value ends; checks brackets and scalars, not every rule. */
class ValueScanner {
  private stack: string[] = [];
  private inString = false;
  private escape = false;
  private scalar = '';
  private started = false;

  /** `ended` = this char closed the value; `ended_before` = the value ended just before it. */
  feed(ch: string): 'more' | 'ended' | 'ended_before' | 'error' {
    if (this.inString) {
      if (this.escape) this.escape = false;
      else if (ch === '\\') this.escape = true;
      else if (ch === '"') {
        this.inString = false;
        if (this.stack.length === 0) return 'ended';
      } else if (ch < ' ') return 'error';
      return 'more';
    }
    if (this.scalar !== '') {
      if (/[0-9A-Za-z.+-]/.test(ch)) {
        this.scalar += ch;
        return 'more';
      }
      if (!isJsonScalar(this.scalar)) return 'error';
      this.scalar = '';
      if (this.stack.length === 0) return 'ended_before';
    }
    if (WS.test(ch)) return this.started ? 'more' : 'error';
    this.started = true;
    if (ch === '"') {
      this.inString = true;
      return 'more';
    }
    if (ch === '{' || ch === '[') {
      this.stack.push(ch === '{' ? '}' : ']');
      return 'more';
    }
    if (ch === '}' || ch === ']') {
      if (this.stack.pop() !== ch) return 'error';
      return this.stack.length === 0 ? 'ended' : 'more';
    }
    if (ch === ',' || ch === ':') return this.stack.length > 0 ? 'more' : 'error';
    if (/[0-9tfn-]/.test(ch)) {
      this.scalar = ch;
      return 'more';
    }
    return 'error';
  }
}

function isJsonScalar(text: string): boolean {
  return text === 'true' || text === 'false' || text === 'null' || /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(text);
}

// ---- prompts for templates without tool support ---------------------------------------

/** An OpenAI `tools[]` element (type "function"). */
export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

/**
 * System-prompt text describing the tools in the hermes format, for chat
 * templates that do not render `tools`. Appended to the system message (or
 * sent as one). Same wording as the built-in models' template.
 */
export function defaultToolPrompt(tools: readonly ToolDefinition[]): string {
  const signatures = tools.map((t) => JSON.stringify(t)).join('\n');
  return (
    '# Tools\n\nYou may call one or more functions to assist with the user query. ' +
    'Function signatures are given in <tools></tools> tags:\n' +
    `<tools>\n${signatures}\n</tools>\n\n` +
    'To call a function, reply with a JSON object inside tags: ' +
    '<tool_call>{"name": <function-name>, "arguments": <args-json-object>}</tool_call>'
  );
}

/** Minimal chat message shape this module needs. */
export interface PlainMessage {
  role: string;
  content: string | null;
  tool_calls?: readonly { id?: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

/**
 * Rewrites assistant tool calls and tool results as plain text in the hermes
 * format, for templates that only know system/user/assistant with string
 * content: calls become `<tool_call>` lines in the assistant turn, results
 * become user turns wrapped in `<tool_response>`.
 */
export function toPlainToolMessages(messages: readonly PlainMessage[]): { role: string; content: string }[] {
  return messages.map((m) => {
    if (m.role === 'assistant' && m.tool_calls && m.tool_calls.length > 0) {
      const calls = m.tool_calls.map((c) => `<tool_call>{"name": ${JSON.stringify(c.function.name)}, "arguments": ${c.function.arguments || '{}'}}</tool_call>`);
      return { role: 'assistant', content: [m.content ?? '', ...calls].filter((s) => s !== '').join('\n') };
    }
    if (m.role === 'tool') return { role: 'user', content: `<tool_response>\n${m.content ?? ''}\n</tool_response>` };
    return { role: m.role, content: m.content ?? '' };
  });
}

// ---- forcing a call: tool_choice "required" / named ------------------------------------------

export interface ToolGrammarOptions extends JsonGrammarOptions {
  /** Allow several calls in one turn (OpenAI parallel_tool_calls, default true). */
  parallel?: boolean;
}

/**
 * Grammar whose every complete output is one or more calls (in the model's
 * format) to the given tools, with arguments valid against each tool's
 * parameters schema. Pass only the named tool for `tool_choice: {function}`.
 * Throws UnsupportedSchemaError; its path starts with `#/tools/<i>/function/parameters`.
 */
export async function toolCallGrammar(tools: readonly ToolDefinition[], format: ToolCallFormat, options: ToolGrammarOptions = {}): Promise<JsonGrammar> {
  if (tools.length === 0) throw new Error('toolCallGrammar needs at least one tool');
  const argsKey = format === 'llama3' ? 'parameters' : 'arguments';
  const defs: Record<string, unknown> = {};
  const branches = tools.map((tool, i) => {
    const params = tool.function.parameters ?? { type: 'object', properties: {} };
    // Check each tool on its own, so paths and $refs are relative to its parameters.
    const unsupported = findUnsupportedKeyword(params);
    if (unsupported !== null) {
      throw new UnsupportedSchemaError({ ...unsupported, path: `#/tools/${i}/function/parameters${unsupported.path.slice(1)}` });
    }
    return {
      type: 'object',
      properties: { name: { const: tool.function.name }, [argsKey]: hoistDefinitions(params, i, defs) },
      required: ['name', argsKey],
      additionalProperties: false,
    };
  });
  const schema: Record<string, unknown> = branches.length === 1 ? { ...branches[0] } : { anyOf: branches };
  if (Object.keys(defs).length > 0) schema.$defs = defs;
  let call: JsonGrammar;
  try {
    call = await jsonSchemaGrammar(schema, options);
  } catch (err) {
    if (!(err instanceof UnsupportedSchemaError)) throw err;
    throw new UnsupportedSchemaError({ ...err.unsupported, path: toolPath(err.unsupported.path, branches.length > 1) });
  }
  const parallel = options.parallel ?? true;
  const repeat = (item: string, separator: string): string => (parallel ? `${item} (${separator} ${item})*` : item);
  let top: string;
  switch (format) {
    case 'hermes':
      top = repeat('"<tool_call>" root "</tool_call>"', '"\\n"');
      break;
    case 'llama3':
      top = repeat('root', '"; "');
      break;
    case 'mistral':
      top = `"[TOOL_CALLS]" "[" ${repeat('root', '", "')} "]"`;
      break;
  }
  return { ebnf: `${call.ebnf.trimEnd()}\nserval_tool_calls ::= ${top}\n`, root: 'serval_tool_calls' };
}

/**
 * Tool parameters may carry `$defs` and refer to them (or to themselves, `#`).
 * In the combined schema `#` is no longer their root, so their definitions
 * move to the combined root's `$defs` under `t<i>_<name>` (their root as
 * `t<i>__root`) and their references are rewritten. Returns what stands in
 * for the parameters.
 */
function hoistDefinitions(params: Record<string, unknown>, tool: number, defs: Record<string, unknown>): unknown {
  const own = { ...(params.$defs as Record<string, unknown> | undefined), ...(params.definitions as Record<string, unknown> | undefined) };
  const text = JSON.stringify(params);
  const usesRefs = text.includes('"$ref"');
  if (!usesRefs) return params;
  const rootKey = `t${tool}__root`;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' && typeof v === 'string') out.$ref = rewriteRef(v, tool, rootKey);
      else out[key] = rewrite(v);
    }
    return out;
  };
  for (const [name, def] of Object.entries(own)) defs[`t${tool}_${name}`] = rewrite(def);
  const { $defs: _d, definitions: _e, ...body } = params;
  defs[rootKey] = rewrite(body);
  return { $ref: `#/$defs/${rootKey}` };
}

function rewriteRef(ref: string, tool: number, rootKey: string): string {
  if (ref === '#') return `#/$defs/${rootKey}`;
  const m = /^#\/(?:\$defs|definitions)\/([^/]+)$/.exec(ref);
  if (m === null) return ref;
  const name = m[1].replaceAll('~1', '/').replaceAll('~0', '~');
  return `#/$defs/${`t${tool}_${name}`.replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

/** Maps a path inside the combined call schema back to the request's tools[]. */
function toolPath(path: string, multiple: boolean): string {
  const m = multiple ? /^#\/anyOf\/(\d+)\/properties\/(?:arguments|parameters)(.*)$/.exec(path) : /^#()\/properties\/(?:arguments|parameters)(.*)$/.exec(path);
  if (m === null) return path;
  return `#/tools/${multiple ? m[1] : '0'}/function/parameters${m[2]}`;
}
