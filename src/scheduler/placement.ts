// Which idle worker takes the next admission. Among the workers being planned
// that have step tokens left, KV room for the sequence's look-ahead and no pin
// elsewhere (its grammar compiled on another worker, or its sibling choices
// running there): one running a sequence with the same prompt (the
// worker copies that prompt's KV), then the one caching the longest prefix of
// it (unless it runs more than PLACEMENT_SLACK sequences beyond the least
// loaded), then the least loaded.

import type { WorkerKvAccount } from './kv-accounting.js';
import type { Sequence } from './sequence.js';
import type { WorkerCache } from './worker-cache.js';

/**
 * How many more sequences than the least-loaded worker one may run and still
 * win a request by its cached prefix: beyond it, a second copy of the prefix
 * costs less than the imbalance.
 */
export const PLACEMENT_SLACK = 4;

export interface PlacementDraft {
  readonly worker: { readonly index: number; readonly kv: WorkerKvAccount; readonly cache: WorkerCache; readonly running: readonly Sequence[] };
  tokensLeft: number;
}

/** `pin`: the only worker `head` may go to (its grammar is compiled there, or its sibling choices run there), if any. */
export function chooseWorker<D extends PlacementDraft>(drafts: readonly D[], head: Sequence, pin: number | null, lookahead: number): D | null {
  const open = drafts.filter((d) => d.tokensLeft > 0 && d.worker.cache.canAdmit(lookahead) && (pin === null || d.worker.index === pin));
  if (open.length === 0) return null;
  const leastActive = Math.min(...open.map((d) => d.worker.kv.activeSlots));
  const rank = (d: D): number[] => [
    d.worker.running.some((s) => s.promptKey === head.promptKey) ? 1 : 0,
    d.worker.kv.activeSlots <= leastActive + PLACEMENT_SLACK ? d.worker.cache.cachedBlocks(head) : 0,
    -d.worker.kv.activeSlots,
  ];
  return open.reduce((best, d) => (compareRanks(rank(d), rank(best)) > 0 ? d : best));
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}
