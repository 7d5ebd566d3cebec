// Turns one choice's token ids into text events: incremental detokenization,
// stop strings, and logprob records. Lives on the front thread, so the
// scheduler never sees text.

import type { TokenLogprob as EngineTokenLogprob } from '../ipc/messages.js';
import { createDetokenizer, type Detokenizer } from '../tokenizer/detokenizer.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { TokenLogprob, TopLogprob } from './backend.js';
import { StopStringMatcher } from './stop-strings.js';

export interface ChoiceStreamOptions {
  stop: string[];
  includeStopStrInOutput: boolean;
  skipSpecialTokens: boolean;
  logprobs: boolean;
  /** Special tokens rendered as text even when special tokens are skipped (tool-call markers). */
  textSpecialTokenIds?: ReadonlySet<number>;
}

export interface ChoiceChunk {
  text: string;
  logprobs: TokenLogprob[] | undefined;
  /** A stop string matched: generation of this choice must end now. */
  stopped: boolean;
}

export class ChoiceStream {
  /** Generated tokens counted for usage (up to and including the one that hit a stop string). */
  completionTokens = 0;
  private readonly tokenizer: TextTokenizer;
  private readonly detokenizer: Detokenizer;
  private readonly stops: StopStringMatcher;
  private readonly wantLogprobs: boolean;
  private readonly textSpecial: ReadonlySet<number>;
  private stopped = false;
  /** Length of the choice's text so far, held-back text included: the next token's text offset. */
  private textLength = 0;

  constructor(tokenizer: TextTokenizer, options: ChoiceStreamOptions) {
    this.tokenizer = tokenizer;
    this.detokenizer = createDetokenizer(tokenizer, { skipSpecialTokens: options.skipSpecialTokens });
    this.stops = new StopStringMatcher(options.stop, options.includeStopStrInOutput);
    this.wantLogprobs = options.logprobs;
    this.textSpecial = options.skipSpecialTokens ? (options.textSpecialTokenIds ?? new Set()) : new Set();
  }

  get hitStopString(): boolean {
    return this.stopped;
  }

  push(tokenIds: number[], logprobs: EngineTokenLogprob[] | undefined): ChoiceChunk {
    let text = '';
    const records: TokenLogprob[] | undefined = this.wantLogprobs ? [] : undefined;
    for (let i = 0; i < tokenIds.length && !this.stopped; i++) {
      this.completionTokens += 1;
      const id = tokenIds[i];
      const offset = this.textLength;
      const piece = this.detokenizer.push(id) + (this.textSpecial.has(id) ? (this.tokenizer.idToToken(id) ?? '') : '');
      this.textLength += piece.length;
      const check = this.stops.push(piece);
      text += check.text;
      if (records && logprobs?.[i]) records.push(this.record(id, logprobs[i], offset));
      if (check.stopped) this.stopped = true;
    }
    return { text, logprobs: records, stopped: this.stopped };
  }

  /** The text still held back at the natural end of generation. */
  finish(): string {
    if (this.stopped) return '';
    const tail = this.stops.push(this.detokenizer.flush());
    return tail.text + this.stops.flush();
  }

  /**
   * Records for echoed prompt tokens (with their prompt logprobs), offsets
   * counted from the start of the text; the generated text then starts after
   * `echoedText`.
   */
  recordPrompt(tokenIds: readonly number[], entries: readonly (EngineTokenLogprob | null)[], echoedText: string): TokenLogprob[] {
    const detokenizer = createDetokenizer(this.tokenizer, { skipSpecialTokens: false });
    let length = 0;
    const records = tokenIds.map((id, i) => {
      const record = this.record(id, entries[i] ?? null, length);
      length += detokenizer.push(id).length;
      return record;
    });
    this.textLength = echoedText.length;
    return records;
  }

  private record(tokenId: number, entry: EngineTokenLogprob | null, textOffset: number): TokenLogprob {
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
