// A Serval server's serval:engine_step_duration_seconds series, read before and
// after a run: how many device steps of each kind the run took, and their mean
// time. Mixed steps (running streams waiting for prompt chunks) are where an
// inter-token tail comes from.

import { STEP_KINDS, type StepKind } from '../src/engine/channel/messages.js';

export type StepTotals = Record<StepKind, { count: number; sum: number }>;

/** Null when the server does not export the series (not Serval, or an older build). */
export async function readStepTotals(base: URL): Promise<StepTotals | null> {
  const res = await fetch(new URL('/metrics', base));
  if (!res.ok) return null;
  const lines = (await res.text()).split('\n');
  const value = (series: string, kind: StepKind): number => Number(lines.find((line) => line.startsWith(`${series}{kind="${kind}"} `))?.split(' ').at(-1));
  const totals = Object.fromEntries(
    STEP_KINDS.map((kind) => [kind, { count: value('serval:engine_step_duration_seconds_count', kind), sum: value('serval:engine_step_duration_seconds_sum', kind) }]),
  ) as StepTotals;
  return STEP_KINDS.every((kind) => Number.isFinite(totals[kind].count)) ? totals : null;
}

/** "decode 610 × 25.1 ms, prompt 2 × 140.2 ms, mixed 60 × 68.0 ms" for the steps between two readings. */
export function stepSummary(before: StepTotals, after: StepTotals): string {
  return STEP_KINDS.map((kind) => {
    const count = after[kind].count - before[kind].count;
    const meanMs = count > 0 ? ((after[kind].sum - before[kind].sum) * 1000) / count : 0;
    return `${kind} ${count} × ${meanMs.toFixed(1)} ms`;
  }).join(', ');
}
