// Seeded request mixes shared by the benches, and small statistics helpers.

import { SplitMix32 } from '../src/model/testmodels/prng.js';

export interface BenchRequest {
  /** Offset from the start of the run at which the request is submitted (ms). */
  arrivalMs: number;
  promptIds: number[];
  maxTokens: number;
}

export interface WorkloadSpec {
  count: number;
  seed: number;
  /** Inclusive ranges, drawn uniformly. */
  promptLen: [number, number];
  outputLen: [number, number];
  /** Mean gap of Poisson arrivals; 0 = all at t = 0. */
  meanGapMs: number;
  vocabSize: number;
  /** Ids below this are left out of prompts (special tokens). */
  firstOrdinaryId?: number;
}

export function makeWorkload(spec: WorkloadSpec): BenchRequest[] {
  const rng = new SplitMix32(spec.seed);
  const first = spec.firstOrdinaryId ?? 16;
  const between = ([lo, hi]: [number, number]): number => lo + Math.floor(rng.nextFloat() * (hi - lo + 1));
  const requests: BenchRequest[] = [];
  let t = 0;
  for (let i = 0; i < spec.count; i++) {
    if (i > 0 && spec.meanGapMs > 0) t += -Math.log(1 - rng.nextFloat()) * spec.meanGapMs;
    const promptIds = Array.from({ length: between(spec.promptLen) }, () => first + Math.floor(rng.nextFloat() * (spec.vocabSize - first)));
    requests.push({ arrivalMs: t, promptIds, maxTokens: between(spec.outputLen) });
  }
  return requests;
}

/** Nearest-rank percentile (p in [0, 100]) of an unsorted sample; NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export function mean(values: number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function fmt(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}
