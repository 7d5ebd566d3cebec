// Test-side driver for the slot-KV graph: each sequence owns its KV cache in
// JS (as the device worker will), rows are packed into one batch per call,
// right-padded, and the returned new K/V are appended to each sequence.

import ort from 'onnxruntime-node';
import { argmax } from '../../src/model/reference/llama-reference.js';
import type { DecoderConfig } from '../../src/model/types.js';
import {
  INPUT_IDS,
  LOGITS,
  LOGITS_ROWS,
  NEW_LENS,
  PAST_LENS,
  POSITION_IDS,
  kvKeyInput,
  kvValueInput,
  newKeyOutput,
  newValueOutput,
} from '../../src/model/graph/graph-io.js';

/**
 * One sequence's cache: per layer [kvH, capacity, D] for K and V, the first `length` positions valid.
 * `firstPosition` shifts the position ids (cache index i holds position firstPosition + i), so a test
 * can reach far positions (LongRoPE's switch) without computing thousands of tokens before them.
 */
export class SequenceCache {
  length = 0;
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  constructor(readonly config: DecoderConfig, readonly capacity: number, readonly firstPosition = 0) {
    const size = config.numKvHeads * capacity * config.headDim;
    this.keys = Array.from({ length: config.numLayers }, () => new Float32Array(size));
    this.values = Array.from({ length: config.numLayers }, () => new Float32Array(size));
  }
}

export interface BatchRow {
  cache: SequenceCache | null; // null = idle row
  tokens: number[];
  /** Which new positions (indices into tokens) to return logits for; default: the last. */
  logitsAt?: number[];
}

export interface RunOptions {
  /** KV capacity fed to the graph (≥ every row's past length); default max past length. */
  capacity?: number;
  /** Fill positions ≥ past_len in the fed buffer with this value (to prove they are masked). */
  garbage?: number;
}

/** Runs one batched step; returns per row the requested logits (Float32Array per requested position). */
export async function runBatch(session: ort.InferenceSession, config: DecoderConfig, rows: BatchRow[], options: RunOptions = {}): Promise<Float32Array[][]> {
  const B = rows.length;
  const S = Math.max(1, ...rows.map((r) => r.tokens.length));
  const maxPast = Math.max(0, ...rows.map((r) => r.cache?.length ?? 0));
  const cap = options.capacity ?? maxPast;
  const { numKvHeads: kvH, headDim: D, numLayers } = config;

  const ids = new BigInt64Array(B * S);
  const pos = new BigInt64Array(B * S);
  const pastLens = new BigInt64Array(B);
  const newLens = new BigInt64Array(B);
  const logitsRows: number[] = [];
  const rowSlices: Array<[number, number]> = [];
  rows.forEach((r, b) => {
    const past = r.cache?.length ?? 0;
    pastLens[b] = BigInt(past);
    newLens[b] = BigInt(r.tokens.length);
    for (let s = 0; s < S; s++) {
      ids[b * S + s] = BigInt(s < r.tokens.length ? r.tokens[s] : 0);
      pos[b * S + s] = BigInt((r.cache?.firstPosition ?? 0) + past + Math.min(s, Math.max(0, r.tokens.length - 1)));
    }
    const at = r.tokens.length === 0 ? [] : (r.logitsAt ?? [r.tokens.length - 1]);
    rowSlices.push([logitsRows.length, at.length]);
    for (const s of at) logitsRows.push(b * S + s);
  });
  if (logitsRows.length === 0) logitsRows.push(0);

  const feeds: Record<string, ort.Tensor> = {
    [INPUT_IDS]: new ort.Tensor('int64', ids, [B, S]),
    [POSITION_IDS]: new ort.Tensor('int64', pos, [B, S]),
    [PAST_LENS]: new ort.Tensor('int64', pastLens, [B]),
    [NEW_LENS]: new ort.Tensor('int64', newLens, [B]),
    [LOGITS_ROWS]: new ort.Tensor('int64', BigInt64Array.from(logitsRows.map(BigInt)), [logitsRows.length]),
  };
  for (let l = 0; l < numLayers; l++) {
    for (const [name, pick] of [
      [kvKeyInput(l), (c: SequenceCache) => c.keys[l]],
      [kvValueInput(l), (c: SequenceCache) => c.values[l]],
    ] as const) {
      const buf = new Float32Array(B * kvH * cap * D);
      if (options.garbage !== undefined) buf.fill(options.garbage);
      rows.forEach((r, b) => {
        if (!r.cache) return;
        const src = pick(r.cache);
        for (let h = 0; h < kvH; h++) {
          const n = r.cache.length * D;
          const from = h * r.cache.capacity * D;
          buf.set(src.subarray(from, from + n), ((b * kvH + h) * cap) * D);
        }
      });
      feeds[name] = new ort.Tensor('float32', buf, [B, kvH, cap, D]);
    }
  }
  const out = await session.run(feeds);
  const logits = out[LOGITS].data as Float32Array;
  const V = config.vocabSize;

  rows.forEach((r, b) => {
    if (!r.cache) return;
    const c = r.cache;
    const n = r.tokens.length;
    if (c.length + n > c.capacity) throw new Error('sequence cache overflow');
    for (let l = 0; l < numLayers; l++) {
      const nk = out[newKeyOutput(l)].data as Float32Array;
      const nv = out[newValueOutput(l)].data as Float32Array;
      for (let h = 0; h < kvH; h++) {
        const from = ((b * kvH + h) * S) * D;
        const to = (h * c.capacity + c.length) * D;
        c.keys[l].set(nk.subarray(from, from + n * D), to);
        c.values[l].set(nv.subarray(from, from + n * D), to);
      }
    }
    c.length += n;
  });
  return rowSlices.map(([start, count]) =>
    Array.from({ length: count }, (_, i) => logits.slice((start + i) * V, (start + i + 1) * V)),
  );
}

export { maxAbsDiff } from '../support/compare.js';

/** Deterministic token ids in [lo, vocab) for prompts. */
export function promptTokens(seed: number, length: number, vocab: number, lo = 3): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (vocab - lo));
  });
}

/**
 * Greedy top-1 agreement of `candidate` with `baseline`: the baseline decodes
 * greedily for `steps` tokens; the candidate is teacher-forced along the same
 * tokens and we count the steps whose argmax matches.
 */
export async function greedyAgreement(
  config: DecoderConfig,
  baseline: ort.InferenceSession,
  candidate: ort.InferenceSession,
  prompt: number[],
  steps: number,
  /** Sees both logits rows of every step (before the next token is fed). */
  onStep?: (baseLogits: Float32Array, candidateLogits: Float32Array) => void,
): Promise<{ agree: number; total: number }> {
  const capacity = prompt.length + steps;
  const base = new SequenceCache(config, capacity);
  const cand = new SequenceCache(config, capacity);
  let [[baseLogits]] = await runBatch(baseline, config, [{ cache: base, tokens: prompt }]);
  let [[candLogits]] = await runBatch(candidate, config, [{ cache: cand, tokens: prompt }]);
  let agree = 0;
  for (let s = 0; s < steps; s++) {
    const next = argmax(baseLogits);
    if (argmax(candLogits) === next) agree++;
    onStep?.(baseLogits, candLogits);
    if (s + 1 === steps) break;
    [[baseLogits]] = await runBatch(baseline, config, [{ cache: base, tokens: [next] }]);
    [[candLogits]] = await runBatch(candidate, config, [{ cache: cand, tokens: [next] }]);
  }
  return { agree, total: steps };
}
