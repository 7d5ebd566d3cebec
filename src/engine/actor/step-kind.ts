// What a device step ran, for serval:engine_step_duration_seconds: decode rows
// only, prompt chunks only (each maybe with its follow-on row, the same
// sequence's next token), or both. Every running stream waits for the whole
// step it is in, so the inter-token tail under load follows the 'mixed' steps.
// A one-token prompt chunk runs in the decode call and counts as a decode row.

import type { StepKind } from '../channel/messages.js';
import type { StepRow } from '../../worker/types.js';

export function stepKind(rows: readonly StepRow[]): StepKind | null {
  const chunked = new Set(rows.filter((row) => row.tokens.length > 1).map((row) => row.seqId));
  const decoding = rows.some((row) => row.tokens.length === 1 && !chunked.has(row.seqId));
  if (chunked.size === 0) return decoding ? 'decode' : null;
  return decoding ? 'mixed' : 'prompt';
}
