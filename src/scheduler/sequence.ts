// The data for one request: its tokens, limits and where it is in its life.
// Owned and mutated only by the Scheduler; everyone else sees SequenceView.

import { PENDING_TOKEN } from '../worker/types.js';
import { PREFIX_BLOCK_SIZE, chainHash, type BlockSource } from './prefix-cache.js';
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
  /** Lower runs first under the 'priority' policy; 0 by default. */
  readonly priority: number;
  readonly length: number;
  /** Sampled ids that end the sequence with reason 'stop': EOS ids (unless ignoreEos) and stop ids. */
  readonly endTokenIds: ReadonlySet<number>;
}

export class Sequence implements SequenceView, BlockSource {
  readonly id: SeqId;
  readonly promptTokenIds: readonly number[];
  readonly requestedMaxTokens: number;
  readonly maxTokens: number;
  /** Sampled ids that end the sequence with reason 'stop': EOS ids (unless ignoreEos) and stop ids. */
  readonly endTokenIds: ReadonlySet<number>;
  /** Admission order; smaller = older. Kept across preemption so FCFS survives it. */
  readonly arrival: number;
  readonly priority: number;
  /** The prompt as one comparable value: sequences with the same prompt are placed together. */
  readonly promptKey: string;
  /** The client request it belongs to (fairness across requests). */
  readonly group: string;
  /** Its request and prompt: the `n` choices of one prompt share it, and run on one worker. */
  readonly choiceKey: string;
  /** Admissible only on this worker (set when its grammar is compiled there), or not yet at all (`held`). */
  pinnedWorker: number | null = null;
  held: boolean;

  status: SeqStatus = 'waiting';
  worker: number | null = null;
  /**
   * How many of this sequence's tokens (prompt then output) are in its KV slot
   * once the rows planned so far have run (advanced when a row is planned).
   */
  numComputedTokens = 0;
  /** Generated ids, kept across preemption (they were already streamed to the client). */
  readonly outputTokenIds: number[] = [];
  /** Tokens planned to be sampled (rows in flight) whose ids are not known yet. */
  pendingSamples = 0;
  /** Also the sequence's incarnation: results planned before a preemption are dropped. */
  numPreemptions = 0;
  /** May its admission take KV from the prefix cache (not when every prompt position's logits are wanted). */
  readonly reusesPrefix: boolean;
  /** Leading blocks its worker's prefix cache holds (loaded or saved since its admission). */
  savedBlocks = 0;
  private readonly hashes: number[] = [];

  constructor(request: SequenceRequest, maxTokens: number, arrival: number) {
    this.id = request.id;
    this.promptTokenIds = request.promptTokenIds.slice();
    this.requestedMaxTokens = request.maxTokens;
    this.maxTokens = maxTokens;
    this.endTokenIds = new Set([...(request.ignoreEos ? [] : (request.eosTokenIds ?? [])), ...(request.stopTokenIds ?? [])]);
    this.arrival = arrival;
    this.priority = request.priority ?? 0;
    this.promptKey = this.promptTokenIds.join(',');
    this.group = request.group ?? request.id;
    this.choiceKey = `${this.group}\n${this.promptKey}`;
    this.held = request.held === true;
    this.reusesPrefix = request.reusesPrefix !== false;
  }

  blockHash(i: number): number {
    while (this.hashes.length <= i) {
      const n = this.hashes.length;
      this.hashes.push(chainHash(n === 0 ? 0 : this.hashes[n - 1], this.blockTokens(n)));
    }
    return this.hashes[i];
  }

  /** Tokens of block i; only asked of blocks within the known tokens. */
  blockTokens(i: number): number[] {
    return this.tokens(i * PREFIX_BLOCK_SIZE, (i + 1) * PREFIX_BLOCK_SIZE);
  }

  /** Prompt + generated tokens. */
  get length(): number {
    return this.promptTokenIds.length + this.outputTokenIds.length;
  }

  /** Length once the samples in flight are known. */
  get plannedLength(): number {
    return this.length + this.pendingSamples;
  }

  /** Tokens known or pending but not yet planned into KV. ≥ 1 for every running sequence that is not at its limit. */
  get numUncomputed(): number {
    return this.plannedLength - this.numComputedTokens;
  }

  /** Tokens [start, end) of prompt ++ output, without building the whole concatenation; PENDING_TOKEN past the known ones. */
  tokens(start: number, end: number): number[] {
    const p = this.promptTokenIds.length;
    const known = this.length;
    const out: number[] = [];
    for (let i = start; i < end; i++) out.push(i >= known ? PENDING_TOKEN : i < p ? this.promptTokenIds[i] : this.outputTokenIds[i - p]);
    return out;
  }
}
