// Per-sequence sampling state living in the device worker: the seeded random
// stream and the token statistics the penalties need.
//
// Randomness: the uniform used for generated token s is Philox(seed, s). It
// depends only on the request's seed and its own step index — not on batch
// composition, batch position, or other requests — and a sequence rebuilt after
// preemption (from its prompt and generated ids) continues the same stream.

import { randomFillSync } from 'node:crypto';
import { uniformAt } from './philox.js';
import type { SamplerParams } from './params.js';

const TWO_POW_32 = 4294967296;
const seedWords = new Uint32Array(2);

export interface SequenceStateInit {
  /** null: draw a random 64-bit seed now. */
  seed: number | null;
  /** Tracked (as a set) only when the repetition penalty is active. */
  promptTokenIds?: ArrayLike<number>;
  /** Tokens generated before a preemption: they restore the counts and the RNG step. */
  generatedTokenIds?: ArrayLike<number>;
  /** Track prompt ∪ generated ids for the repetition penalty. Default false. */
  trackSeen?: boolean;
}

export class SequenceSamplingState {
  /** The 64-bit Philox key (two's complement of the integer seed). */
  readonly seedLo: number;
  readonly seedHi: number;

  private generated = 0;

  /** Distinct generated ids and their counts, in first-seen order: [0, outputUnique). */
  outputIds: Int32Array = new Int32Array(16);
  outputCounts: Int32Array = new Int32Array(16);
  outputUnique = 0;
  private readonly outputIndex = new Map<number, number>();

  /** Distinct prompt ∪ generated ids (only when trackSeen): [0, seenUnique). */
  seenIds: Int32Array;
  seenUnique = 0;
  private readonly seen: Set<number> | null;

  constructor(init: SequenceStateInit) {
    if (init.seed === null) {
      randomFillSync(seedWords);
      this.seedLo = seedWords[0];
      this.seedHi = seedWords[1];
    } else {
      // ToUint32 is exact modulo 2^32 for every integer-valued double, so this is
      // the 64-bit two's-complement split of the seed (exact for |seed| < 2^63).
      this.seedLo = init.seed >>> 0;
      this.seedHi = Math.floor(init.seed / TWO_POW_32) >>> 0;
    }
    this.seen = init.trackSeen ? new Set<number>() : null;
    this.seenIds = new Int32Array(init.trackSeen ? 16 : 0);
    if (init.promptTokenIds && this.seen) {
      for (let i = 0; i < init.promptTokenIds.length; i++) this.markSeen(init.promptTokenIds[i]);
    }
    if (init.generatedTokenIds) {
      for (let i = 0; i < init.generatedTokenIds.length; i++) this.accept(init.generatedTokenIds[i]);
    }
  }

  /** State for a sequence with these params (tracks prompt ids only when repetition_penalty ≠ 1). */
  static forParams(
    params: SamplerParams,
    promptTokenIds: ArrayLike<number>,
    generatedTokenIds?: ArrayLike<number>,
  ): SequenceSamplingState {
    return new SequenceSamplingState({
      seed: params.seed,
      promptTokenIds,
      generatedTokenIds,
      trackSeen: params.repetitionPenalty !== 1,
    });
  }

  /** Number of tokens generated so far = index of the next sample. */
  get step(): number {
    return this.generated;
  }

  /** The uniform in [0, 1) for the next sample (does not advance). */
  uniform(): number {
    return uniformAt(this.seedLo, this.seedHi, this.generated);
  }

  /** Record a generated token: advances the step and updates counts. */
  accept(tokenId: number): void {
    this.generated++;
    const at = this.outputIndex.get(tokenId);
    if (at !== undefined) {
      this.outputCounts[at]++;
    } else {
      if (this.outputUnique === this.outputIds.length) {
        this.outputIds = grow(this.outputIds);
        this.outputCounts = grow(this.outputCounts);
      }
      this.outputIndex.set(tokenId, this.outputUnique);
      this.outputIds[this.outputUnique] = tokenId;
      this.outputCounts[this.outputUnique] = 1;
      this.outputUnique++;
    }
    if (this.seen) this.markSeen(tokenId);
  }

  /** How often tokenId was generated so far. */
  countOf(tokenId: number): number {
    const at = this.outputIndex.get(tokenId);
    return at === undefined ? 0 : this.outputCounts[at];
  }

  private markSeen(tokenId: number): void {
    const seen = this.seen as Set<number>;
    if (seen.has(tokenId)) return;
    seen.add(tokenId);
    if (this.seenUnique === this.seenIds.length) this.seenIds = grow(this.seenIds);
    this.seenIds[this.seenUnique++] = tokenId;
  }
}

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(Math.max(16, a.length * 2));
  b.set(a);
  return b;
}
