// Constrained output is always well-formed UTF-8.
//
// xgrammar matches grammars byte by byte and decodes UTF-8 loosely: a
// character class such as `[^"\\]` accepts surrogates (ED A0–BF), overlong
// forms (F0 80–8F) and code points past U+10FFFF (F4 90+), and nothing stops
// one token ending in a lead byte and the next starting with a continuation
// byte that lead may not take. The front then decoded such bytes to U+FFFD and
// a `maxLength: 10` string came back 12 characters long (issue 15).
//
// Two layers:
// - neverValidUtf8: tokens whose own bytes can never be valid are hidden from
//   xgrammar (it never considers them). This alone missed the cross-token case.
// - Utf8Masks / Utf8Cursor: the mask of every constrained step is ANDed with
//   the tokens valid from the decoder state left by the tokens before — the
//   bytes still owed and the range the next byte must fall in. Only narrowing
//   the grammar's mask, it never changes what a grammar means; a string's
//   closing quote (ASCII) is only allowed once its last character is complete.

/**
 * True when `bytes` contain a byte that never occurs in UTF-8 (0xC0, 0xC1,
 * 0xF5–0xFF) or a lead byte followed, within the token, by a continuation byte
 * it may not take (overlong or surrogate forms: E0 80–9F, ED A0–BF, F0 80–8F,
 * F4 90–BF).
 */
export function neverValidUtf8(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0xc0 || b === 0xc1 || b >= 0xf5) return true;
    if (i + 1 >= bytes.length) continue;
    const next = bytes[i + 1];
    if (b === 0xe0 && next >= 0x80 && next <= 0x9f) return true;
    if (b === 0xed && next >= 0xa0 && next <= 0xbf) return true;
    if (b === 0xf0 && next >= 0x80 && next <= 0x8f) return true;
    if (b === 0xf4 && next >= 0x90 && next <= 0xbf) return true;
  }
  return false;
}

/**
 * Decoder states: 0 = between characters; otherwise continuation bytes are
 * owed and the next one must lie in a range (Unicode table 3-7).
 */
const enum State {
  Complete = 0,
  Owe1 = 1,
  Owe2 = 2,
  Owe3 = 3,
  /** After E0: 2 owed, next A0–BF (no overlongs). */
  AfterE0 = 4,
  /** After ED: 2 owed, next 80–9F (no surrogates). */
  AfterED = 5,
  /** After F0: 3 owed, next 90–BF (no overlongs). */
  AfterF0 = 6,
  /** After F4: 3 owed, next 80–8F (nothing past U+10FFFF). */
  AfterF4 = 7,
}
const STATES = 8;
const INVALID = 0xff;
/** [lowest, highest, state after] for the next continuation byte, per owing state. */
const CONTINUATION: ReadonlyArray<readonly [number, number, State]> = [
  [0, 0, State.Complete],
  [0x80, 0xbf, State.Complete],
  [0x80, 0xbf, State.Owe1],
  [0x80, 0xbf, State.Owe2],
  [0xa0, 0xbf, State.Owe1],
  [0x80, 0x9f, State.Owe1],
  [0x90, 0xbf, State.Owe2],
  [0x80, 0x8f, State.Owe2],
];

/** The decoder state after `byte` in `state`, or INVALID. */
export function utf8Step(state: number, byte: number): number {
  if (state === State.Complete) {
    if (byte < 0x80) return State.Complete;
    if (byte >= 0xc2 && byte <= 0xdf) return State.Owe1;
    if (byte === 0xe0) return State.AfterE0;
    if (byte === 0xed) return State.AfterED;
    if (byte >= 0xe1 && byte <= 0xef) return State.Owe2;
    if (byte === 0xf0) return State.AfterF0;
    if (byte >= 0xf1 && byte <= 0xf3) return State.Owe3;
    if (byte === 0xf4) return State.AfterF4;
    return INVALID;
  }
  const [lo, hi, next] = CONTINUATION[state];
  return byte >= lo && byte <= hi ? next : INVALID;
}

/**
 * Per vocabulary: for each token and decoder state, the state after the
 * token's bytes (or invalid), and per state the mask of tokens allowed.
 */
export class Utf8Masks {
  private readonly after: Uint8Array;
  private readonly masks: Int32Array[];

  /**
   * `bytesOf(id)`: the token's text bytes, or null for a token that is not
   * text (a special token such as a stop id or `<tool_call>`), allowed only
   * between characters. Ids from the tokenizer's size up to `vocabSize`
   * (padding of the logits) are never allowed.
   */
  constructor(
    readonly vocabSize: number,
    tokenizerSize: number,
    bytesOf: (id: number) => Uint8Array | null,
  ) {
    const words = Math.ceil(vocabSize / 32);
    this.after = new Uint8Array(vocabSize * STATES).fill(INVALID);
    this.masks = Array.from({ length: STATES }, () => new Int32Array(words));
    for (let id = 0; id < tokenizerSize; id++) {
      const bytes = bytesOf(id);
      for (let start = 0; start < STATES; start++) {
        let state = start;
        if (bytes === null) state = start === State.Complete ? State.Complete : INVALID;
        else for (let i = 0; i < bytes.length && state !== INVALID; i++) state = utf8Step(state, bytes[i]);
        this.after[id * STATES + start] = state;
        if (state !== INVALID) this.masks[start][id >>> 5] |= 1 << (id & 31);
      }
    }
  }

  /** Tokens that may follow in `state`. */
  allowedIn(state: number): Int32Array {
    return this.masks[state];
  }

  /** State after `id` in `state`; INVALID (0xff) when the token may not follow. */
  next(state: number, id: number): number {
    return id >= 0 && id < this.vocabSize ? this.after[id * STATES + state] : INVALID;
  }
}

/** One sequence's position in the byte stream: the state after each accepted token (for rollback). */
export class Utf8Cursor {
  private readonly states: number[] = [State.Complete];

  constructor(private readonly masks: Utf8Masks) {}

  get state(): number {
    return this.states[this.states.length - 1];
  }

  /** Clears from `mask` the tokens that would make the bytes so far invalid. */
  narrow(mask: Int32Array): void {
    const allowed = this.masks.allowedIn(this.state);
    for (let w = 0; w < mask.length && w < allowed.length; w++) mask[w] &= allowed[w];
  }

  /** Records an accepted token; false (nothing recorded) when it breaks UTF-8. */
  accept(id: number): boolean {
    const next = this.masks.next(this.state, id);
    if (next === INVALID) return false;
    this.states.push(next);
    return true;
  }

  rollback(n: number): void {
    this.states.length -= n;
  }
}
