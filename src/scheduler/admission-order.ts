// Who goes first: the waiting sequence admitted next and the running sequence
// evicted when a worker's KV outgrows its budget, under either scheduling
// policy (vLLM's --scheduling-policy). 'fcfs' orders by arrival; 'priority'
// orders by the request's `priority` (lower first), then exactly as 'fcfs'
// among equal priorities. Pure functions of the scheduler's state.

import type { Sequence } from './sequence.js';
import { PRIORITY_MAX, PRIORITY_MIN, type SchedulingPolicy } from './types.js';

/** Why a request's `priority` cannot be accepted under `policy`, or null when it can. */
export function priorityProblem(priority: number, policy: SchedulingPolicy): string | null {
  if (!Number.isInteger(priority) || priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
    return `Invalid value for 'priority': must be an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}, got ${priority}.`;
  }
  // vLLM refuses a priority it would ignore rather than silently serving it FCFS.
  if (priority !== 0 && policy !== 'priority') {
    return `Got priority ${priority}, but priority scheduling is not enabled (the server runs --scheduling-policy fcfs).`;
  }
  return null;
}

/**
 * The waiting sequence to admit next. Among the admissible ones (`admissible`:
 * not held by a compiling grammar, not pinned to a worker outside this
 * schedule) — under 'priority', only those of the lowest priority value —
 * preempted ones come first (oldest first), then the one whose request (group)
 * has the fewest sequences running, oldest first among equals: the sequences
 * of one large request take turns with later requests instead of all going
 * first. `waiting` is sorted by arrival, oldest first.
 */
export function nextCandidate(
  waiting: readonly Sequence[],
  groupRunning: ReadonlyMap<string, number>,
  admissible: (seq: Sequence) => boolean,
  policy: SchedulingPolicy,
): Sequence | null {
  let eligible = admissible;
  if (policy === 'priority') {
    let top = Infinity;
    for (const seq of waiting) if (seq.priority < top && admissible(seq)) top = seq.priority;
    eligible = (seq) => seq.priority === top && admissible(seq);
  }
  const preempted = waiting.find((seq) => seq.numPreemptions > 0 && eligible(seq));
  if (preempted !== undefined) return preempted;
  let best: Sequence | null = null;
  let bestRunning = 0;
  for (const seq of waiting) {
    if (!eligible(seq)) continue;
    const running = groupRunning.get(seq.group) ?? 0;
    if (best === null || running < bestRunning) {
      best = seq;
      bestRunning = running;
      if (running === 0) break; // nothing beats the oldest sequence of an idle request
    }
  }
  return best;
}

/**
 * The sequence a worker evicts when its KV outgrows the budget. `running` is
 * sorted by arrival, oldest first, and holds at least two sequences. 'fcfs':
 * the youngest. 'priority': the largest (priority, arrival) — the lowest
 * priority, youngest among equals. Either way the first in that order is never
 * chosen, so it keeps running and the worker makes progress.
 */
export function preemptionVictim(running: readonly Sequence[], policy: SchedulingPolicy): Sequence {
  if (policy === 'fcfs') return running[running.length - 1];
  let victim = running[0];
  // Later arrivals win ties (>=): the youngest among the lowest priority.
  for (const seq of running) if (seq.priority >= victim.priority) victim = seq;
  return victim;
}

/** Insert keeping `list` sorted by arrival (oldest first). Lists are short (≤ slots or queue length). */
export function insertByArrival(list: Sequence[], seq: Sequence): void {
  let i = list.length;
  while (i > 0 && list[i - 1].arrival > seq.arrival) i--;
  list.splice(i, 0, seq);
}
