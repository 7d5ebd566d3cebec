// Batched token selection for the device worker: one token per logits row.
//
// Order of operations per row (vLLM's):
//   1. logit_bias                       ┐
//   2. repetition penalty               │ in place on the logits row
//   3. frequency, presence penalties    │ (see logit-processors.ts)
//   4. allowed-token mask (-∞)          ┘
//   5. logprobs capture ← log-softmax of these processed logits, before temperature
//   6. temperature        (0 → greedy: argmax of step 4, ties → lowest id, no RNG)
//   7. top_k              (keep the k highest logits; ties → lower ids)
//   8. top_p              (minimal prefix, in descending order, with mass ≥ top_p of the top-k renormalised distribution)
//   9. min_p              (keep p ≥ min_p · p_max; a ratio, so renormalisation does not change it)
//  10. sample             (inverse CDF of the kept set with the row's uniform)
// vLLM v1 applies min_p before top-k/top-p; the two orders only differ when
// min_p and top_p are both set (top_p's mass is then measured with or without
// the min_p-removed tail).
//
// Logprob convention (step 5): logprobs are those of the distribution after
// bias, penalties and mask but before temperature and truncation. Why:
// - temperature 0 has no distribution of its own, and logprobs that move with
//   temperature are not comparable between requests; OpenAI's logprobs likewise
//   do not change with temperature;
// - a grammar-masked or banned (bias −100) token is never offered as an
//   alternative, and the chosen token is always top-1 under greedy decoding,
//   which raw-model logprobs (vLLM's default) cannot promise;
// - truncation (top_k/top_p/min_p) is left out so the chosen token's logprob
//   is the model's (processed) belief, not a renormalised share that is 0 for
//   everything outside the nucleus.
//
// The row's logits are modified in place (steps 1–4): the worker discards them
// after sampling, and this saves a copy of up to 150k floats per row.
//
// Cost per row: greedy is one max pass. top_k replaces it with a heap pass
// (one compare per token) and needs only k exponentials. Full-softmax and
// top_p sampling add one exp pass over the tokens within `skipNats` of the max;
// top_p never sorts the vocabulary: a histogram of (max − l)/T finds the bucket
// where the cumulative mass crosses top_p, and only that bucket's members are
// sorted. Logprobs add one exp pass at temperature 1. No allocation per step.

import { expNeg } from './fast-exp.js';
import { sortCandidates } from './candidate-sort.js';
import { applyAllowedMask, applyBiasAndPenalties } from './logit-processors.js';
import { logNormaliserAndTop, MAX_TOP_LOGPROBS, rowArgmax, skipNatsFor } from './logprobs.js';
import type { SamplerParams } from './params.js';
import type { SequenceSamplingState } from './sequence-state.js';

export interface SamplerRow {
  state: SequenceSamplingState;
  params: SamplerParams;
  /** xgrammar-style allowed-token bitmask (bit t of word t>>5 set = allowed); null/absent = all allowed. */
  allowedMask?: Int32Array | null;
  /** Ids that cannot be sampled this step (end ids before min_tokens); null/absent = none. */
  suppressedIds?: Int32Array | null;
}

/**
 * Per-row results, preallocated and reused: transferable typed arrays so only
 * these numbers cross threads. Rows with logprobs === null have logprobs NaN
 * and topCounts 0. tokenIds[r] = -1 when the row had no allowed token (every
 * logit -∞ or NaN); the caller must end that sequence with an error.
 */
export interface SamplerOutput {
  readonly maxRows: number;
  readonly maxTop: number;
  tokenIds: Int32Array;
  logprobs: Float64Array;
  topCounts: Int32Array;
  /** Row r's alternatives at [r·maxTop, r·maxTop + topCounts[r]), logprob descending. */
  topIds: Int32Array;
  topLogprobs: Float64Array;
}

export function createSamplerOutput(maxRows: number, maxTop = 20): SamplerOutput {
  if (maxTop > MAX_TOP_LOGPROBS) throw new RangeError(`maxTop ${maxTop} exceeds ${MAX_TOP_LOGPROBS}`);
  return {
    maxRows,
    maxTop,
    tokenIds: new Int32Array(maxRows),
    logprobs: new Float64Array(maxRows),
    topCounts: new Int32Array(maxRows),
    topIds: new Int32Array(maxRows * maxTop),
    topLogprobs: new Float64Array(maxRows * maxTop),
  };
}

/** Histogram resolution of (max − l)/T, per nat. 8 → neighbouring buckets differ by ≤ 13% in probability. */
const BUCKETS_PER_NAT = 8;

export class Sampler {
  readonly vocab: number;
  /** Tokens further than this below the max (in tempered nats) carry < e^-18 of the max's mass in total. */
  private readonly skipNats: number;

  // Compact candidate list: id, unnormalised probability, histogram bucket.
  private readonly candId: Int32Array;
  private readonly candE: Float64Array;
  private readonly candBucket: Int32Array;
  // Sort / heap scratch: logits as keys with their ids.
  private readonly keyScratch: Float64Array;
  private readonly idScratch: Int32Array;
  private readonly histMass: Float64Array;
  private readonly topIds = new Int32Array(MAX_TOP_LOGPROBS);
  private readonly topLogits = new Float64Array(MAX_TOP_LOGPROBS);
  private readonly topCount = new Int32Array(1);
  /** Second return value of the pass functions (their total mass). */
  private readonly sum = new Float64Array(1);

  constructor(vocab: number) {
    if (!Number.isInteger(vocab) || vocab <= 0) throw new RangeError(`vocab must be a positive integer, got ${vocab}`);
    this.vocab = vocab;
    this.skipNats = skipNatsFor(vocab);
    this.candId = new Int32Array(vocab);
    this.candE = new Float64Array(vocab);
    this.candBucket = new Int32Array(vocab);
    this.keyScratch = new Float64Array(vocab);
    this.idScratch = new Int32Array(vocab);
    this.histMass = new Float64Array(Math.ceil(this.skipNats * BUCKETS_PER_NAT) + 2);
  }

  /**
   * Choose one token for each row. Row r reads logits[r·V, (r+1)·V) (which it
   * modifies), draws its uniform from its state, writes out[r] and records the
   * token in its state (advancing its step).
   */
  sampleBatch(logits: Float32Array, rows: readonly SamplerRow[], out: SamplerOutput): void {
    const V = this.vocab;
    if (logits.length < rows.length * V) {
      throw new RangeError(`logits hold ${logits.length / V} rows of ${V}, ${rows.length} requested`);
    }
    if (rows.length > out.maxRows) throw new RangeError(`${rows.length} rows exceed output capacity ${out.maxRows}`);
    // Check before touching any state, so a bad row cannot leave the batch half-advanced.
    for (let r = 0; r < rows.length; r++) {
      const n = rows[r].params.logprobs;
      if (n !== null && n > out.maxTop) throw new RangeError(`row ${r}: logprobs ${n} exceeds output maxTop ${out.maxTop}`);
    }
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      const token = this.sampleRow(logits, r * V, row, row.state.uniform(), out, r);
      if (token >= 0) row.state.accept(token);
    }
  }

  /**
   * One row with an explicit uniform u ∈ [0, 1): steps 1–10 above. Exposed for
   * tests that check the inverse CDF directly; the state is read, not advanced.
   */
  sampleRow(logits: Float32Array, offset: number, row: SamplerRow, u: number, out: SamplerOutput, r: number): number {
    const V = this.vocab;
    const p = row.params;
    applyBiasAndPenalties(logits, offset, p, row.state);
    if (row.suppressedIds) for (const id of row.suppressedIds) logits[offset + id] = -Infinity;
    if (row.allowedMask) applyAllowedMask(logits, offset, V, row.allowedMask);

    // Top-k finds the maximum itself (its first sorted candidate), so it skips the max pass.
    const T = p.temperature;
    const useTopK = T !== 0 && p.topK > 0 && p.topK < V;
    let max: number;
    let arg: number;
    if (useTopK) {
      heapSelect(logits, offset, V, p.topK, this.keyScratch, this.idScratch);
      sortCandidates(this.keyScratch, this.idScratch, 0, p.topK);
      max = this.keyScratch[0];
      arg = max > -Infinity ? this.idScratch[0] : -1;
    } else {
      arg = rowArgmax(logits, offset, V);
      max = arg < 0 ? -Infinity : logits[offset + arg];
    }
    if (arg < 0) {
      out.tokenIds[r] = -1;
      out.logprobs[r] = NaN;
      out.topCounts[r] = 0;
      return -1;
    }

    let token: number;
    if (T === 0) {
      token = arg;
    } else {
      const invT = 1 / T;
      if (useTopK) token = this.sampleSortedTopK(max, invT, p.topK, p.topP, p.minP, u);
      else if (p.topP < 1) token = this.sampleTopP(logits, offset, max, invT, p.topP, p.minP, u);
      else token = this.sampleFull(logits, offset, max, invT, p.minP, u);
    }
    out.tokenIds[r] = token;

    if (p.logprobs === null) {
      out.logprobs[r] = NaN;
      out.topCounts[r] = 0;
    } else {
      const n = p.logprobs;
      if (n > out.maxTop) throw new RangeError(`logprobs ${n} exceeds output maxTop ${out.maxTop}`);
      const logZ = logNormaliserAndTop(
        logits,
        offset,
        V,
        max,
        n,
        this.skipNats,
        this.topIds,
        this.topLogits,
        this.topCount,
      );
      out.logprobs[r] = logits[offset + token] - logZ;
      const count = this.topCount[0];
      out.topCounts[r] = count;
      const base = r * out.maxTop;
      for (let j = 0; j < count; j++) {
        out.topIds[base + j] = this.topIds[j];
        out.topLogprobs[base + j] = this.topLogits[j] - logZ;
      }
    }
    return token;
  }

  /** No truncation except min_p: one exp pass into the compact list, then the inverse CDF over it. */
  private sampleFull(logits: Float32Array, offset: number, max: number, invT: number, minP: number, u: number): number {
    const skip = minP > 0 ? Math.min(this.skipNats, -Math.log(minP) + 1e-9) : this.skipNats;
    const n = expPass(logits, offset, this.vocab, max, invT, skip, minP, this.candId, this.candE, this.sum);
    return pick(this.candId, this.candE, 0, n, u * this.sum[0]);
  }

  /** top_k candidates already in keyScratch/idScratch [0, k), sorted: tempered weights, then top_p, min_p. */
  private sampleSortedTopK(max: number, invT: number, k: number, topP: number, minP: number, u: number): number {
    const keys = this.keyScratch;
    const es = this.candE;
    let n = 0;
    while (n < k) {
      const e = expNeg((max - keys[n]) * invT);
      if (e === 0) break; // sorted: the rest are 0 too (or -∞ masked entries)
      es[n] = e;
      n++;
    }
    return truncateSortedAndPick(this.idScratch, es, n, topP, minP, u);
  }

  /**
   * top_p without top_k. Histogram the tempered distance d = (max − l)/T into
   * buckets of 1/8 nat; find the bucket where cumulative mass (in descending
   * order) first reaches top_p·Z; keep every lower bucket whole and sort only
   * the crossing bucket to cut it exactly.
   */
  private sampleTopP(
    logits: Float32Array,
    offset: number,
    max: number,
    invT: number,
    topP: number,
    minP: number,
    u: number,
  ): number {
    const ids = this.candId;
    const es = this.candE;
    const buckets = this.candBucket;
    const hist = this.histMass;
    const n = histogramPass(logits, offset, this.vocab, max, invT, this.skipNats, ids, es, buckets, hist, this.sum);
    const z = this.sum[0];

    const target = topP * z;
    let below = 0;
    let crossing = hist.length - 1;
    for (let b = 0; b < hist.length; b++) {
      if (below + hist[b] >= target) {
        crossing = b;
        break;
      }
      below += hist[b];
    }

    // Keep buckets < crossing in place (id order); move the crossing bucket's members to scratch.
    const keys = this.keyScratch;
    const gIds = this.idScratch;
    let kept = 0;
    let g = 0;
    for (let j = 0; j < n; j++) {
      const b = buckets[j];
      if (b < crossing) {
        ids[kept] = ids[j];
        es[kept] = es[j];
        kept++;
      } else if (b === crossing) {
        gIds[g] = ids[j];
        keys[g] = logits[offset + ids[j]];
        g++;
      }
    }
    sortCandidates(keys, gIds, 0, g);
    let cum = below;
    for (let j = 0; j < g; j++) {
      const e = expNeg((max - keys[j]) * invT);
      ids[kept] = gIds[j];
      es[kept] = e;
      kept++;
      cum += e;
      if (cum >= target) break;
    }

    if (minP > 0) kept = filterMinP(ids, es, kept, minP);
    let zk = 0;
    for (let j = 0; j < kept; j++) zk += es[j];
    return pick(ids, es, 0, kept, u * zk);
  }
}

// The full-vocabulary loops live in small standalone functions: V8 optimises
// them as whole functions rather than by on-stack replacement inside a larger
// method, which kept deoptimising on the code after the loop.

/** Compact list of tokens within `skip` tempered nats of the max and with e ≥ minP; returns count, mass in sum[0]. */
function expPass(
  logits: Float32Array,
  offset: number,
  vocab: number,
  max: number,
  invT: number,
  skip: number,
  minP: number,
  ids: Int32Array,
  es: Float64Array,
  sum: Float64Array,
): number {
  let n = 0;
  let z = 0;
  for (let i = 0; i < vocab; i++) {
    const d = (max - logits[offset + i]) * invT;
    if (d > skip) continue;
    const e = expNeg(d);
    if (e < minP) continue;
    ids[n] = i;
    es[n] = e;
    z += e;
    n++;
  }
  sum[0] = z;
  return n;
}

/** expPass plus a histogram of mass by bucket ⌊d·BUCKETS_PER_NAT⌋ (hist is cleared here). */
function histogramPass(
  logits: Float32Array,
  offset: number,
  vocab: number,
  max: number,
  invT: number,
  skip: number,
  ids: Int32Array,
  es: Float64Array,
  buckets: Int32Array,
  hist: Float64Array,
  sum: Float64Array,
): number {
  hist.fill(0);
  let n = 0;
  let z = 0;
  for (let i = 0; i < vocab; i++) {
    const d = (max - logits[offset + i]) * invT;
    if (d > skip) continue;
    const e = expNeg(d);
    const b = (d * BUCKETS_PER_NAT) | 0;
    ids[n] = i;
    es[n] = e;
    buckets[n] = b;
    hist[b] += e;
    z += e;
    n++;
  }
  sum[0] = z;
  return n;
}

/**
 * The k highest logits into keys/ids [0, k) (unordered) via a min-heap whose
 * root is the worst kept entry: lowest logit, and among equals the highest id.
 */
function heapSelect(logits: Float32Array, offset: number, vocab: number, k: number, keys: Float64Array, ids: Int32Array): void {
  for (let i = 0; i < k; i++) {
    keys[i] = logits[offset + i];
    ids[i] = i;
    siftUp(keys, ids, i);
  }
  let root = keys[0];
  for (let i = k; i < vocab; i++) {
    const v = logits[offset + i];
    // Later ids lose ties, so only a strictly higher logit displaces the root.
    if (v > root) {
      keys[0] = v;
      ids[0] = i;
      siftDown(keys, ids, k);
      root = keys[0];
    }
  }
}

/** Inverse CDF: first entry of [lo, hi) where the running sum exceeds target; the last one on rounding. */
function pick(ids: Int32Array, es: Float64Array, lo: number, hi: number, target: number): number {
  let cum = 0;
  for (let j = lo; j < hi; j++) {
    cum += es[j];
    if (cum > target) return ids[j];
  }
  return ids[hi - 1];
}

/** Sorted candidates [0, n) (descending, es[0] = 1): cut to the top_p prefix, then min_p, then sample. */
function truncateSortedAndPick(
  ids: Int32Array,
  es: Float64Array,
  n: number,
  topP: number,
  minP: number,
  u: number,
): number {
  let z = 0;
  for (let j = 0; j < n; j++) z += es[j];
  let kept = n;
  if (topP < 1) {
    const target = topP * z;
    let cum = 0;
    for (let j = 0; j < n; j++) {
      cum += es[j];
      if (cum >= target) {
        kept = j + 1;
        break;
      }
    }
  }
  while (kept > 1 && es[kept - 1] < minP) kept--;
  let zk = 0;
  for (let j = 0; j < kept; j++) zk += es[j];
  return pick(ids, es, 0, kept, u * zk);
}

/** Keep entries with e ≥ minP (the maximum has e = 1), preserving order. */
function filterMinP(ids: Int32Array, es: Float64Array, n: number, minP: number): number {
  let w = 0;
  for (let j = 0; j < n; j++) {
    if (es[j] >= minP) {
      ids[w] = ids[j];
      es[w] = es[j];
      w++;
    }
  }
  return w;
}

/** Heap order: a is "worse" than b (lower logit; equal logits → higher id). */
function worse(keys: Float64Array, ids: Int32Array, a: number, b: number): boolean {
  return keys[a] < keys[b] || (keys[a] === keys[b] && ids[a] > ids[b]);
}

function siftUp(keys: Float64Array, ids: Int32Array, i: number): void {
  const k = keys[i];
  const id = ids[i];
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!(k < keys[parent] || (k === keys[parent] && id > ids[parent]))) break;
    keys[i] = keys[parent];
    ids[i] = ids[parent];
    i = parent;
  }
  keys[i] = k;
  ids[i] = id;
}

function siftDown(keys: Float64Array, ids: Int32Array, size: number): void {
  let i = 0;
  const k = keys[0];
  const id = ids[0];
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) break;
    const r = l + 1;
    const c = r < size && worse(keys, ids, r, l) ? r : l;
    if (!(keys[c] < k || (keys[c] === k && ids[c] > id))) break;
    keys[i] = keys[c];
    ids[i] = ids[c];
    i = c;
  }
  keys[i] = k;
  ids[i] = id;
}

const samplers = new Map<number, Sampler>();

/**
 * Convenience over a per-thread Sampler per vocabulary size (scratch buffers are
 * reused across calls; workers are single-threaded, so sharing is safe).
 */
export function sampleBatch(logits: Float32Array, vocab: number, rows: readonly SamplerRow[], out: SamplerOutput): void {
  let sampler = samplers.get(vocab);
  if (!sampler) {
    sampler = new Sampler(vocab);
    samplers.set(vocab, sampler);
  }
  sampler.sampleBatch(logits, rows, out);
}
