// The data for one request: its tokens, limits and where it is in its life.
// Owned and mutated only by the Scheduler; everyone else sees SequenceView.

import type { SeqId, SequenceRequest } from './types.js';

export type { SequenceRequest };

export type SeqStatus = 'waiting' | 'running' | 'finished';

export interface SequenceView {
  readonly id: SeqId;
  readonly promptTokenIds: readonly number[];
  readonly outputTokenIds: readonly number[];
  /** After clipping to maxModelLen. */
  readonly maxTokens: number;
  readonly requestedMaxTokens: number;
  readonly status: SeqStatus;
  readonly worker: number | null;
  readonly numComputedTokens: number;
  readonly numPreemptions: number;
  readonly arrival: number;
  readonly length: number;
}

export class Sequence implements SequenceView {
  readonly id: SeqId;
  readonly promptTokenIds: readonly number[];
  readonly requestedMaxTokens: number;
  readonly maxTokens: number;
  readonly eosTokenIds: ReadonlySet<number>;
  readonly ignoreEos: boolean;
  readonly stopTokenIds: ReadonlySet<number>;
  /** Admission order; smaller = older. Kept across preemption so FCFS survives it. */
  readonly arrival: number;

  status: SeqStatus = 'waiting';
  worker: number | null = null;
  /** How many of this sequence's tokens (prompt then output) are in its KV slot. */
  numComputedTokens = 0;
  /** Generated ids, kept across preemption (they were already streamed to the client). */
  readonly outputTokenIds: number[] = [];
  numPreemptions = 0;

  constructor(request: SequenceRequest, maxTokens: number, arrival: number) {
    this.id = request.id;
    this.promptTokenIds = request.promptTokenIds.slice();
    this.requestedMaxTokens = request.maxTokens;
    this.maxTokens = maxTokens;
    this.eosTokenIds = new Set(request.eosTokenIds ?? []);
    this.ignoreEos = request.ignoreEos ?? false;
    this.stopTokenIds = new Set(request.stopTokenIds ?? []);
    this.arrival = arrival;
  }

  /** Prompt + generated tokens. */
  get length(): number {
    return this.promptTokenIds.length + this.outputTokenIds.length;
  }

  /** Tokens known but not yet in KV. ≥ 1 for every running sequence (the last sampled token at least). */
  get numUncomputed(): number {
    return this.length - this.numComputedTokens;
  }

  /** Tokens [start, end) of prompt ++ output, without building the whole concatenation. */
  tokens(start: number, end: number): number[] {
    const p = this.promptTokenIds.length;
    const out: number[] = [];
    for (let i = start; i < end; i++) out.push(i < p ? this.promptTokenIds[i] : this.outputTokenIds[i - p]);
    return out;
  }
}
