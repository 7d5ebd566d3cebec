// What a pipelined device worker remembers between steps about each sequence's
// sampled tokens. The scheduler forms a worker's next step while the current
// one runs, so a row may feed PENDING_TOKEN (the token its sequence samples in
// the step before) and may belong to a sequence that has just stopped on an
// EOS or stop id: this fills the former in and drops the latter.

import { PENDING_TOKEN, type RowSample, type StepRow } from './types.js';

interface SequenceTokens {
  /** Token ids that end the sequence (EOS unless ignored, plus stop ids). */
  stopIds: ReadonlySet<number>;
  lastSampled: number | null;
  stopped: boolean;
}

export class RowContinuity {
  private readonly bySeq = new Map<string, SequenceTokens>();

  admit(seqId: string, stopTokenIds: readonly number[]): void {
    this.bySeq.set(seqId, { stopIds: new Set(stopTokenIds), lastSampled: null, stopped: false });
  }

  forget(seqId: string): void {
    this.bySeq.delete(seqId);
  }

  forgetAll(): void {
    this.bySeq.clear();
  }

  record(samples: readonly RowSample[]): void {
    for (const sample of samples) {
      const entry = this.bySeq.get(sample.seqId);
      if (!entry) continue;
      entry.lastSampled = sample.token;
      if (entry.stopIds.has(sample.token)) entry.stopped = true;
    }
  }

  /** The rows to run: those of stopped sequences left out, pending tokens filled in. */
  resolve<R extends StepRow>(rows: readonly R[]): R[] {
    const runnable: R[] = [];
    for (const row of rows) {
      const entry = this.bySeq.get(row.seqId);
      if (entry?.stopped) continue;
      const last = row.tokens.length - 1;
      if (row.tokens[last] !== PENDING_TOKEN) {
        runnable.push(row);
        continue;
      }
      if (entry?.lastSampled === null || entry === undefined) {
        throw new Error(`sequence ${row.seqId} feeds a pending token but has sampled none on this worker`);
      }
      const tokens = row.tokens.slice();
      tokens[last] = entry.lastSampled;
      runnable.push({ ...row, tokens });
    }
    return runnable;
  }
}
