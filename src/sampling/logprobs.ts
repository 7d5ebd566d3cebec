// Log-softmax of one logits row, restricted to what is reported: the
// normaliser log Z and the top-N entries. One pass over the vocabulary.
//
// Stability: Z is accumulated as Σ e^(l − max), so nothing overflows whatever
// the logits' magnitude; log Z = max + log Σ. Tokens more than `skipNats`
// below the maximum are left out of the sum: with skipNats = ln V + 18 their
// total is < e^-18 of the maximum's share, so log Z moves by < 2e-8.

import { expNeg } from './fast-exp.js';

/** Log-probabilities of one emitted (or prompt) token, as the device worker reports them. */
export interface TokenLogprob {
  logprob: number;
  /** Top alternatives as [tokenId, logprob], most likely first. */
  top: [number, number][];
}

/** Reported tokens are capped here (OpenAI allows 20 top_logprobs; leave headroom). */
export const MAX_TOP_LOGPROBS = 64;

export function skipNatsFor(vocab: number): number {
  return Math.log(vocab) + 18;
}

/** Index and value of the row maximum; ties → lowest index. -1 when no entry exceeds -∞ (all masked or NaN). */
export function rowArgmax(logits: Float32Array, offset: number, vocab: number): number {
  let best = -Infinity;
  let arg = -1;
  const end = offset + vocab;
  for (let k = offset; k < end; k++) {
    const v = logits[k];
    if (v > best) {
      best = v;
      arg = k;
    }
  }
  return arg < 0 ? -1 : arg - offset;
}

/**
 * log Z of the row, and its top-n tokens (by logit, ties → lower id) written
 * into topIds/topLogits [0, count). `max` must be the row maximum (finite).
 * Returns log Z; the count is written to counts[0].
 */
export function logNormaliserAndTop(
  logits: Float32Array,
  offset: number,
  vocab: number,
  max: number,
  n: number,
  skipNats: number,
  topIds: Int32Array,
  topLogits: Float64Array,
  counts: Int32Array,
): number {
  let sum = 0;
  let count = 0;
  // Entry threshold for the top list; -∞ never enters (masked tokens are not alternatives).
  let threshold = n > 0 ? -Infinity : Infinity;
  for (let i = 0; i < vocab; i++) {
    const v = logits[offset + i];
    const d = max - v;
    if (d <= skipNats) sum += expNeg(d);
    if (v > threshold) {
      // Insertion into the descending list; strict comparison keeps earlier (lower) ids ahead on ties.
      let j = count < n ? count++ : n - 1;
      while (j > 0 && topLogits[j - 1] < v) {
        topLogits[j] = topLogits[j - 1];
        topIds[j] = topIds[j - 1];
        j--;
      }
      topLogits[j] = v;
      topIds[j] = i;
      if (count === n) threshold = topLogits[n - 1];
    }
  }
  counts[0] = count;
  return max + Math.log(sum);
}
