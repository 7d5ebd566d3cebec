// One tool-call object, `{"name": ..., "arguments": ...}` (or "parameters"),
// scanned a character at a time: the parser feeds it generated text and learns
// the function's name as soon as it is complete, and the argument text as it
// arrives, raw, exactly as generated.

const WS = /\s/;

type CallState = 'start' | 'key_or_end' | 'key' | 'colon' | 'value_start' | 'value' | 'comma_or_end';

export class CallScanner {
  /** The function's name, once its string is complete. */
  name: string | null = null;
  /** Set by the parser once it has announced this call. */
  headerSent = false;
  /** The arguments value has begun. */
  argsStarted = false;
  /** Argument text scanned but not yet handed out; the parser takes it. */
  pendingArgs = '';
  private state: CallState = 'start';
  private keyRaw = '';
  private keyEscape = false;
  private key = '';
  private value: ValueScanner | null = null;
  private nameRaw = '';
  private argsDone = false;

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
