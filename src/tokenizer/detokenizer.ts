// Streaming ids → text for one generated sequence.
//
// Contract: `push(id)` returns text that will never change; `flush()` returns
// the rest. The concatenation of everything returned equals
// `tokenizer.decode(allIds)`, and no emitted text is ever retracted.
//
// For the two decoder pipelines almost every chat model uses we replay the
// decoder token by token from precomputed byte tables (no library call, no
// re-decoding of a window; ~0.1 µs per token):
// - byte-level BPE: bytes of each token → incremental UTF-8 decode; text is held
//   back only while a multi-byte character is incomplete.
// - SentencePiece BPE with byte fallback: `▁` → space, `<0xXX>` byte tokens are
//   grouped into runs, the whole output's first space is stripped. With the Rust
//   library a run that is not valid UTF-8 becomes one U+FFFD *per byte* — a later
//   byte can turn an earlier valid character into U+FFFD — so a run is held until
//   a non-byte token (or the end) closes it. The JS library decodes runs lossily,
//   so with it complete characters are emitted at once.
// Any other decoder (WordPiece, Metaspace, ...) uses the window method of vLLM /
// TGI: decode ids[prefix..] and ids[prefix..read] and emit the difference once it
// does not end in U+FFFD. That costs a synchronous library call per token and is
// exact for ordinary text, but not guaranteed for adversarial id sequences.

import type { TextTokenizer } from './tokenizer.js';
import { Utf8StreamDecoder, decodeUtf8Strict } from './utf8-stream.js';

export interface DetokenizerOptions {
  skipSpecialTokens: boolean;
}

export interface Detokenizer {
  push(tokenId: number): string;
  flush(): string;
}

export function createDetokenizer(tokenizer: TextTokenizer, options: DetokenizerOptions): Detokenizer {
  const plan = tokenizer.decoderPlan;
  switch (plan.kind) {
    case 'byte_level':
      return new ByteLevelDetokenizer(tokenizer, options);
    case 'sentencepiece':
      return new SentencePieceDetokenizer(tokenizer, options, plan.stripLeadingSpaces, plan.byteRuns);
    case 'generic':
      return new WindowDetokenizer(tokenizer, options);
  }
}

/** GPT-2 style: the text is the lossy UTF-8 decoding of all tokens' bytes. */
export class ByteLevelDetokenizer implements Detokenizer {
  private readonly utf8 = new Utf8StreamDecoder();

  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly options: DetokenizerOptions,
  ) {}

  push(tokenId: number): string {
    if (this.options.skipSpecialTokens && this.tokenizer.isSpecial(tokenId)) return '';
    if (!this.utf8.pending) {
      const text = this.tokenizer.tokenText(tokenId);
      if (text !== null) return text;
    }
    return this.utf8.write(this.tokenizer.tokenBytes(tokenId));
  }

  flush(): string {
    return this.utf8.end();
  }
}

/** Replays Sequence[Replace(▁→' '), ByteFallback, Fuse, Strip(' ', n, 0)]. */
export class SentencePieceDetokenizer implements Detokenizer {
  private readonly utf8 = new Utf8StreamDecoder();
  /** Strict mode: the bytes of the open byte run. */
  private run: number[] = [];
  /** Lossy mode: whether the open run has produced text yet (for the BOM rule). */
  private runEmitted = false;
  private runOpen = false;
  private stripLeft: number;

  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly options: DetokenizerOptions,
    stripLeadingSpaces: number,
    private readonly byteRuns: 'strict' | 'lossy',
  ) {
    this.stripLeft = stripLeadingSpaces;
  }

  push(tokenId: number): string {
    if (this.options.skipSpecialTokens && this.tokenizer.isSpecial(tokenId)) return '';
    if (this.tokenizer.idToToken(tokenId) === null) return '';
    const byte = this.tokenizer.byteValue(tokenId);
    if (byte >= 0) return this.strip(this.pushByte(byte));
    const closed = this.closeRun();
    // Non-byte SentencePiece pieces are always valid UTF-8.
    return this.strip(closed + (this.tokenizer.tokenText(tokenId) ?? ''));
  }

  flush(): string {
    return this.strip(this.closeRun());
  }

  private pushByte(byte: number): string {
    this.runOpen = true;
    if (this.byteRuns === 'strict') {
      this.run.push(byte);
      return '';
    }
    let text = this.utf8.write(Uint8Array.of(byte));
    if (!this.runEmitted && text.length > 0) {
      // The JS library decodes each run with a default TextDecoder, which drops a leading BOM.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.runEmitted = true;
    }
    return text;
  }

  private closeRun(): string {
    if (!this.runOpen) return '';
    this.runOpen = false;
    if (this.byteRuns === 'lossy') {
      let text = this.utf8.end();
      if (!this.runEmitted && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.runEmitted = false;
      return text;
    }
    const bytes = Uint8Array.from(this.run);
    this.run = [];
    return decodeUtf8Strict(bytes) ?? '\uFFFD'.repeat(bytes.length);
  }

  /** Strip applies to the start of the whole decoded text, however it was split. */
  private strip(text: string): string {
    let cut = 0;
    while (this.stripLeft > 0 && cut < text.length) {
      if (text.charCodeAt(cut) === 0x20) {
        cut++;
        this.stripLeft--;
      } else {
        this.stripLeft = 0;
      }
    }
    return cut === 0 ? text : text.slice(cut);
  }
}

/**
 * vLLM/TGI window method for decoders we do not replay: keep a short window of
 * already-emitted ids as context (so leading-space rules see the same
 * neighbours), decode it with and without the new ids, emit the difference once
 * it does not end in an incomplete character.
 */
export class WindowDetokenizer implements Detokenizer {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;
  private emitted = 0;
  /** Whole-text view used by flush() to return exactly decode(all) minus what was emitted. */
  private emittedText = '';

  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly options: DetokenizerOptions,
  ) {}

  push(tokenId: number): string {
    if (this.options.skipSpecialTokens && this.tokenizer.isSpecial(tokenId)) return '';
    if (this.tokenizer.idToToken(tokenId) === null) return '';
    this.ids.push(tokenId);
    const opts = this.options;
    const prefixText = this.tokenizer.decodeSync(this.ids.slice(this.prefixOffset, this.readOffset), opts);
    const newText = this.tokenizer.decodeSync(this.ids.slice(this.prefixOffset), opts);
    if (newText.length <= prefixText.length || newText.endsWith('\uFFFD') || !newText.startsWith(prefixText)) {
      return '';
    }
    const delta = newText.slice(prefixText.length);
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    this.emitted += delta.length;
    this.emittedText += delta;
    return delta;
  }

  flush(): string {
    const full = this.tokenizer.decodeSync(this.ids, this.options);
    // For ordinary text the emitted text is a prefix of the full decode.
    if (full.startsWith(this.emittedText)) return full.slice(this.emitted);
    return '';
  }
}
