// Collects embedding inputs from concurrent requests into padded batches.
//
// Policy, in one place:
// - An input waits at most `windowMs` after it arrived for others to join it,
//   unless enough are pending to fill a batch, which leaves at once.
// - A batch is a run of pending inputs sorted by length (little padding),
//   within `maxBatchInputs` rows and `maxBatchTokens` padded positions
//   (rows × longest row). It always contains the oldest pending input, so
//   nothing starves behind a stream of newcomers.
// - At most `maxInFlight` batches are out at once (the server uses one per
//   worker): while the workers are busy, new inputs keep joining the sorted
//   pending set instead of being committed early to a queued batch.
// - A request whose signal aborts drops its inputs that have not run yet;
//   results of its inputs already in a running batch are discarded.
// Execution is injected (`RunBatch`), so the policy is testable without ORT.

import type { EncoderBatch } from '../../worker/encoder/types.js';

export interface BatcherOptions {
  windowMs: number;
  maxBatchInputs: number;
  maxBatchTokens: number;
  maxInFlight: number;
}

export type RunBatch = (batch: EncoderBatch) => Promise<{ embeddings: Float32Array; dimensions: number }>;

export interface BatcherStats {
  batches: number;
  rows: number;
  /** Real tokens run. */
  tokens: number;
  /** rows × longest row, summed over batches. */
  paddedTokens: number;
}

/** Rejection of an aborted request's promise. */
export class EmbeddingAbortedError extends Error {
  constructor() {
    super('embedding request aborted');
    this.name = 'AbortError';
  }
}

interface Group {
  results: (Float32Array | null)[];
  remaining: number;
  settled: boolean;
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: unknown) => void;
  detach: () => void;
}

interface Item {
  /** Arrival order; lower = older. */
  seq: number;
  arrival: number;
  ids: readonly number[];
  /** Segment ids of a cross-encoder pair (BERT); absent: all 0. */
  typeIds: readonly number[] | undefined;
  group: Group;
  slot: number;
}

export class EmbeddingBatcher {
  readonly stats: BatcherStats = { batches: 0, rows: 0, tokens: 0, paddedTokens: 0 };
  private pending: Item[] = [];
  private nextSeq = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly runBatch: RunBatch,
    private readonly options: BatcherOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (options.maxBatchInputs < 1 || options.maxBatchTokens < 1 || options.maxInFlight < 1) {
      throw new Error('maxBatchInputs, maxBatchTokens and maxInFlight must be at least 1');
    }
  }

  /**
   * Embeds (or, for a cross-encoder, scores) each token sequence (non-empty); resolves with
   * one vector per input, in input order. `typeIds[i]`, when given, are input i's segment ids.
   */
  submit(inputs: readonly (readonly number[])[], signal?: AbortSignal, typeIds?: readonly (readonly number[])[]): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(new Error('embedding batcher is closed'));
    if (signal?.aborted) return Promise.reject(new EmbeddingAbortedError());
    if (inputs.length === 0) return Promise.resolve([]);
    if (inputs.some((ids) => ids.length === 0)) return Promise.reject(new Error('cannot embed an empty token sequence'));
    return new Promise<Float32Array[]>((resolve, reject) => {
      const onAbort = (): void => this.fail(group, new EmbeddingAbortedError());
      const group: Group = {
        results: new Array<Float32Array | null>(inputs.length).fill(null),
        remaining: inputs.length,
        settled: false,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const arrival = this.now();
      inputs.forEach((ids, slot) => {
        this.pending.push({ seq: this.nextSeq++, arrival, ids, typeIds: typeIds?.[slot], group, slot });
      });
      this.pump();
    });
  }

  /** Inputs waiting for a batch (not yet running). */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Rejects every request with inputs still pending; batches already running still deliver to the others. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const groups = new Set(this.pending.map((item) => item.group));
    for (const group of groups) this.fail(group, new Error('embedding batcher is closed'));
  }

  private pump(): void {
    while (this.pending.length > 0 && this.inFlight < this.options.maxInFlight) {
      if (!this.canFillBatch()) {
        const oldest = this.pending.reduce((a, b) => (b.seq < a.seq ? b : a));
        const wait = oldest.arrival + this.options.windowMs - this.now();
        if (wait > 0) {
          this.schedule(wait);
          return;
        }
      }
      this.dispatch(this.takeBatch());
    }
  }

  private schedule(delayMs: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, delayMs);
  }

  private canFillBatch(): boolean {
    if (this.pending.length >= this.options.maxBatchInputs) return true;
    let tokens = 0;
    for (const item of this.pending) tokens += item.ids.length;
    return tokens >= this.options.maxBatchTokens;
  }

  /**
   * Removes and returns the next batch's items, sorted by length: pending
   * inputs sorted by length are cut greedily, shortest first, into runs that
   * fit the limits; the run holding the oldest input leaves. Cutting from one
   * end keeps the runs of a large request aligned as runs leave, so each
   * batch spans a narrow band of lengths.
   */
  private takeBatch(): Item[] {
    const sorted = this.pending.sort((a, b) => a.ids.length - b.ids.length || a.seq - b.seq);
    let oldest = 0;
    for (let i = 1; i < sorted.length; i++) if (sorted[i].seq < sorted[oldest].seq) oldest = i;
    const { maxBatchInputs, maxBatchTokens } = this.options;
    let start = 0;
    for (;;) {
      // A run always takes its first item, even one longer than the token budget.
      let end = start + 1;
      while (end < sorted.length && end - start < maxBatchInputs && (end - start + 1) * sorted[end].ids.length <= maxBatchTokens) end++;
      if (oldest < end) {
        const batch = sorted.splice(start, end - start);
        this.pending = sorted;
        return batch;
      }
      start = end;
    }
  }

  private dispatch(items: Item[]): void {
    let total = 0;
    for (const item of items) total += item.ids.length;
    const ids = new Int32Array(total);
    const offsets = new Int32Array(items.length + 1);
    const typeIds = items.some((item) => item.typeIds !== undefined) ? new Int32Array(total) : undefined;
    items.forEach((item, r) => {
      ids.set(item.ids, offsets[r]);
      if (item.typeIds !== undefined) typeIds?.set(item.typeIds, offsets[r]);
      offsets[r + 1] = offsets[r] + item.ids.length;
    });
    const longest = items[items.length - 1].ids.length;
    this.stats.batches++;
    this.stats.rows += items.length;
    this.stats.tokens += total;
    this.stats.paddedTokens += items.length * longest;
    this.inFlight++;
    this.runBatch(typeIds === undefined ? { ids, offsets } : { ids, offsets, typeIds }).then(
      ({ embeddings, dimensions }) => {
        items.forEach((item, r) => this.deliver(item, embeddings.slice(r * dimensions, (r + 1) * dimensions)));
      },
      (error: unknown) => {
        for (const item of items) this.fail(item.group, error);
      },
    ).finally(() => {
      this.inFlight--;
      this.pump();
    });
  }

  private deliver(item: Item, vector: Float32Array): void {
    const group = item.group;
    if (group.settled) return;
    group.results[item.slot] = vector;
    if (--group.remaining === 0) {
      group.settled = true;
      group.detach();
      group.resolve(group.results as Float32Array[]);
    }
  }

  private fail(group: Group, error: unknown): void {
    if (group.settled) return;
    group.settled = true;
    group.detach();
    this.pending = this.pending.filter((item) => item.group !== group);
    group.reject(error);
  }
}
