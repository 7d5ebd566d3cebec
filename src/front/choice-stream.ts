// Turns one choice's token ids into its delta events: incremental
// detokenization, stop strings, and logprob records. Lives on the front
// thread, so the scheduler never sees text.

import type { TextTokenLogprob, TopLogprob } from '../protocol/generation.js';
import type { TokenLogprob } from '../sampling/logprobs.js';
import { createDetokenizer, type Detokenizer } from '../tokenizer/detokenizer.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { DeltaEvent } from './backend.js';
import { StopStringMatcher } from './stop-strings.js';

export interface ChoiceStreamOptions {
  stop: string[];
  includeStopStrInOutput: boolean;
  skipSpecialTokens: boolean;
  logprobs: boolean;
  /** Special tokens rendered as text even when special tokens are skipped (tool-call markers). */
  textSpecialTokenIds?: ReadonlySet<number>;
}

export class ChoiceStream {
  /** Generated tokens counted for usage (up to and including the one that hit a stop string). */
  completionTokens = 0;
  /** A stop string matched: generation of this choice must end now. */
  stopped = false;
  /** The stop string that matched, once `stopped`. */
  stopString: string | undefined;
  private readonly choiceIndex: number;
  private readonly tokenizer: TextTokenizer;
  private readonly detokenizer: Detokenizer;
  private readonly stops: StopStringMatcher;
  private readonly wantLogprobs: boolean;
  private readonly textSpecial: ReadonlySet<number>;
  /** Length of the choice's text so far, held-back text included: the next token's text offset. */
  private textLength = 0;

  constructor(tokenizer: TextTokenizer, choiceIndex: number, options: ChoiceStreamOptions) {
    this.choiceIndex = choiceIndex;
    this.tokenizer = tokenizer;
    this.detokenizer = createDetokenizer(tokenizer, { skipSpecialTokens: options.skipSpecialTokens });
    this.stops = new StopStringMatcher(options.stop, options.includeStopStrInOutput);
    this.wantLogprobs = options.logprobs;
    this.textSpecial = options.skipSpecialTokens ? (options.textSpecialTokenIds ?? new Set()) : new Set();
  }

  /** The delta for newly generated tokens; null when they add neither text nor logprobs yet. */
  push(tokenIds: number[], logprobs: TokenLogprob[] | undefined): DeltaEvent | null {
    let text = '';
    const records: TextTokenLogprob[] | undefined = this.wantLogprobs ? [] : undefined;
    for (let i = 0; i < tokenIds.length && !this.stopped; i++) {
      this.completionTokens += 1;
      const id = tokenIds[i];
      const offset = this.textLength;
      const piece = this.detokenizer.push(id) + (this.textSpecial.has(id) ? (this.tokenizer.idToToken(id) ?? '') : '');
      this.textLength += piece.length;
      const check = this.stops.push(piece);
      text += check.text;
      if (records && logprobs?.[i]) records.push(this.record(id, logprobs[i], offset));
      if (check.stopped) {
        this.stopped = true;
        this.stopString = check.matched;
      }
    }
    if (text === '' && !records?.length) return null;
    return this.delta(text, records);
  }

  /** The text still held back at the natural end of generation, if any. */
  finish(): DeltaEvent | null {
    if (this.stopped) return null;
    const tail = this.stops.push(this.detokenizer.flush()).text + this.stops.flush();
    return tail === '' ? null : this.delta(tail);
  }

  /** Completions echo: the prompt's text, before anything generated. */
  echo(text: string): DeltaEvent {
    this.textLength = text.length;
    return this.delta(text);
  }

  /**
   * Completions echo with logprobs: the prompt's text with a record per
   * prompt token (offsets from the start of the text); the generated text
   * then starts after it.
   */
  echoWithLogprobs(text: string, tokenIds: readonly number[], entries: readonly (TokenLogprob | null)[]): DeltaEvent {
    const detokenizer = createDetokenizer(this.tokenizer, { skipSpecialTokens: false });
    let length = 0;
    const records = tokenIds.map((id, i) => {
      const record = this.record(id, entries[i] ?? null, length);
      length += detokenizer.push(id).length;
      return record;
    });
    this.textLength = text.length;
    return this.delta(text, records);
  }

  private delta(text: string, logprobs?: TextTokenLogprob[]): DeltaEvent {
    return { type: 'delta', choiceIndex: this.choiceIndex, text, ...(logprobs ? { logprobs } : {}) };
  }

  private record(tokenId: number, entry: TokenLogprob | null, textOffset: number): TextTokenLogprob {
    return {
      ...this.describe(tokenId),
      textOffset,
      logprob: entry ? entry.logprob : null,
      top: entry ? entry.top.map(([id, logprob]): TopLogprob => ({ ...this.describe(id), logprob })) : [],
    };
  }

  private describe(tokenId: number): { token: string; bytes: number[] } {
    const bytes = this.tokenizer.tokenBytes(tokenId);
    return { token: this.tokenizer.tokenText(tokenId) ?? Buffer.from(bytes).toString('utf8'), bytes: Array.from(bytes) };
  }
}
