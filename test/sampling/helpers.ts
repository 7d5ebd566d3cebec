// Test-side references for the sampler: written for clarity, in float64, with a
// full sort — deliberately unlike the implementation.

import { compileSamplerParams, DEFAULT_SAMPLING_PARAMS, parseLogitBias, type LogitBias, type SamplerParams } from '../../src/sampling/params.js';
import { SequenceSamplingState } from '../../src/sampling/sequence-state.js';
import type { SamplerRow } from '../../src/sampling/sampler.js';

export { mulberry32 } from '../support/random.js';

export function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function randomLogits(rand: () => number, vocab: number, scale: number): Float32Array {
  const x = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) x[i] = gaussian(rand) * scale;
  return x;
}

export function params(overrides: Partial<SamplerParams> = {}): SamplerParams {
  return { ...compileSamplerParams(DEFAULT_SAMPLING_PARAMS), ...overrides };
}

/** A logit bias in the sampler's form, from a logit_bias request object. */
export function logitBias(record: Record<number, number>): LogitBias | null {
  const parsed = parseLogitBias(record, Number.MAX_SAFE_INTEGER);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return compileSamplerParams({ ...DEFAULT_SAMPLING_PARAMS, logitBias: parsed.bias }).logitBias;
}

export function row(p: SamplerParams, seed: number | null = p.seed, extra: Partial<SamplerRow> = {}): SamplerRow {
  return { state: new SequenceSamplingState({ seed, trackSeen: p.repetitionPenalty !== 1 }), params: p, ...extra };
}

/** log-softmax in float64, max-shifted. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}

/**
 * The distribution the sampler should draw from: temperature → top_k → top_p → min_p,
 * each renormalising; token order = logit descending, id ascending.
 */
export function referenceDistribution(logits: ArrayLike<number>, p: SamplerParams): Float64Array {
  const V = logits.length;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  const probs = new Float64Array(V);
  if (p.temperature === 0) {
    probs[order[0]] = 1;
    return probs;
  }
  const lp = logSoftmax(Array.from(logits, (v) => v / p.temperature));
  let kept = order.filter((i) => Number.isFinite(lp[i]));
  if (p.topK > 0) kept = kept.slice(0, p.topK);
  const renorm = (ids: number[]): Map<number, number> => {
    const total = ids.reduce((s, i) => s + Math.exp(lp[i]), 0);
    return new Map(ids.map((i) => [i, Math.exp(lp[i]) / total]));
  };
  if (p.topP < 1) {
    const q = renorm(kept);
    let cum = 0;
    let n = 0;
    while (n < kept.length) {
      cum += q.get(kept[n]) as number;
      n++;
      if (cum >= p.topP) break;
    }
    kept = kept.slice(0, n);
  }
  if (p.minP > 0) {
    const q = renorm(kept);
    const pmax = Math.max(...q.values());
    kept = kept.filter((i) => (q.get(i) as number) >= p.minP * pmax);
  }
  for (const [i, v] of renorm(kept)) probs[i] = v;
  return probs;
}

/** Upper critical value of χ²(df) at tail probability alpha (Wilson–Hilferty), for z of alpha. */
export function chiSquareCritical(df: number, z: number): number {
  const a = 2 / (9 * df);
  return df * Math.pow(1 - a + z * Math.sqrt(a), 3);
}

/**
 * Pearson χ² of observed counts against expected probabilities; cells with expected < 5
 * are pooled. Also reports draws that landed where the expected probability is 0.
 */
export function chiSquare(
  counts: ArrayLike<number>,
  probs: ArrayLike<number>,
  draws: number,
): { stat: number; df: number; impossible: number } {
  let stat = 0;
  let df = -1;
  let pooledObs = 0;
  let pooledExp = 0;
  let impossible = 0;
  for (let i = 0; i < probs.length; i++) {
    const e = probs[i] * draws;
    if (probs[i] === 0) {
      impossible += counts[i];
      continue;
    }
    if (e < 5) {
      pooledObs += counts[i];
      pooledExp += e;
      continue;
    }
    stat += (counts[i] - e) ** 2 / e;
    df++;
  }
  if (pooledExp > 0) {
    stat += (pooledObs - pooledExp) ** 2 / Math.max(pooledExp, 1e-12);
    df++;
  }
  return { stat, df: Math.max(df, 1), impossible };
}

/** z for a one-sided tail of 1e-3. */
export const Z_1E3 = 3.0902;
