// Which sampled token belongs to which row of a plan. A sequence has one
// sampling row in a plan, or two: a prompt's last chunk may be followed by a
// decode row fed the chunk's token (its follow-on row, see scheduler.ts), and
// the worker skips that row when the chunk's token ended the sequence.

import { SchedulerProtocolError } from './errors.js';
import type { PlannedRow, SampledToken } from './types.js';

export interface RowOwner {
  /** The row's sequence is still the one planned (not aborted or preempted since). */
  alive: boolean;
  /** Sampling this token ends the sequence ('stop'). */
  endsOn(token: number): boolean;
}

/**
 * Each row's token (null: the row does not sample, its sequence is gone, or it
 * was skipped after its sequence stopped). Throws SchedulerProtocolError when a
 * live sequence lacks a token, has one too many, or a token names no sampling row.
 * Tokens of sequences no longer alive are accepted and dropped.
 */
export function matchSamples<S extends SampledToken>(rows: readonly PlannedRow[], owners: readonly RowOwner[], sampled: readonly S[]): (S | null)[] {
  const queues = new Map<string, S[]>();
  for (const s of sampled) {
    const queue = queues.get(s.seqId);
    if (queue) queue.push(s);
    else queues.set(s.seqId, [s]);
  }
  const sampling = new Set<string>();
  const stopped = new Set<string>();
  const matched = rows.map((row, i): S | null => {
    if (!row.sample) return null;
    sampling.add(row.seqId);
    const queue = queues.get(row.seqId) ?? [];
    if (!owners[i].alive) {
      queues.delete(row.seqId);
      return null;
    }
    if (stopped.has(row.seqId)) return null;
    const sample = queue.shift();
    if (sample === undefined) throw new SchedulerProtocolError(`postprocess: no token for ${row.seqId}`);
    if (owners[i].endsOn(sample.token)) stopped.add(row.seqId);
    return sample;
  });
  for (const [seqId, queue] of queues) {
    if (!sampling.has(seqId)) throw new SchedulerProtocolError(`postprocess: ${seqId} did not ask for a token`);
    if (queue.length > 0) throw new SchedulerProtocolError(`postprocess: two tokens for one row of ${seqId}`);
  }
  return matched;
}
