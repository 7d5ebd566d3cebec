// How many tokens one worker's step may carry. A step runs as long as its
// tokens take, and every decode row in it waits for the whole step: a 512-token
// prefill chunk next to 32 decode rows makes that step's inter-token gap
// several times the usual one. So while decode rows are waiting, prefill
// chunks and admissions share a smaller budget; a step with no decode row
// (an idle worker taking a new prompt) still gets the whole maxBatchTokens,
// so time to first token on a quiet server is unchanged.

import type { SchedulerConfig } from './types.js';

export type StepBudgetConfig = Pick<SchedulerConfig, 'maxBatchTokens' | 'maxPrefillTokensWithDecode'>;

/** Token budget of a step that starts with `decodeRows` one-token decode rows (those always fit). */
export function stepTokenBudget(config: StepBudgetConfig, decodeRows: number): number {
  if (decodeRows === 0) return config.maxBatchTokens;
  return Math.max(decodeRows, Math.min(config.maxBatchTokens, decodeRows + config.maxPrefillTokensWithDecode));
}
