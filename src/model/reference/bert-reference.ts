// A plain BERT encoder (HF modeling_bert.py, post-LN) plus sentence-transformers
// pooling, used as the numerical oracle for the embeddings graph. Float64
// accumulation, one sequence at a time; clarity over speed.

import type { EncoderConfig, PoolingMode, WeightStore } from '../types.js';

export interface EncoderInput {
  inputIds: readonly number[];
  /** 1 for real tokens, 0 for padding; defaults to all ones. */
  attentionMask?: readonly number[];
  /** Segment ids; default all zeros. */
  tokenTypeIds?: readonly number[];
}

interface Dense {
  out: number;
  inp: number;
  weight: Float32Array;
  bias: Float32Array;
}

interface LayerNormWeights {
  gamma: Float32Array;
  beta: Float32Array;
}

interface EncoderLayer {
  query: Dense;
  key: Dense;
  value: Dense;
  attentionOut: Dense;
  attentionNorm: LayerNormWeights;
  intermediate: Dense;
  output: Dense;
  outputNorm: LayerNormWeights;
}

/** HF uses `torch.finfo(dtype).min` as the additive padding mask; any huge negative works. */
const MASKED_SCORE = -1e30;

export class ReferenceEncoder {
  readonly config: EncoderConfig;
  private readonly wordEmbeddings: Float32Array;
  private readonly positionEmbeddings: Float32Array;
  private readonly tokenTypeEmbeddings: Float32Array;
  private readonly embeddingNorm: LayerNormWeights;
  private readonly layers: EncoderLayer[];

  constructor(config: EncoderConfig, weights: WeightStore) {
    this.config = config;
    const h = config.hiddenSize;
    // BertForX / RobertaForX checkpoints prefix the encoder with `bert.` / `roberta.`; *Model ones do not.
    const prefix = ['bert.', 'roberta.'].find((p) => weights.has(`${p}embeddings.word_embeddings.weight`)) ?? '';
    const tensor = (name: string, shape: number[]): Float32Array => {
      const t = weights.get(prefix + name);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`${prefix + name}: expected shape [${shape}], got [${t.shape}]`);
      }
      return t.data;
    };
    const dense = (name: string, out: number, inp: number): Dense => ({
      out,
      inp,
      weight: tensor(`${name}.weight`, [out, inp]),
      bias: tensor(`${name}.bias`, [out]),
    });
    const layerNorm = (name: string): LayerNormWeights => ({
      gamma: tensor(`${name}.weight`, [h]),
      beta: tensor(`${name}.bias`, [h]),
    });
    this.wordEmbeddings = tensor('embeddings.word_embeddings.weight', [config.vocabSize, h]);
    this.positionEmbeddings = tensor('embeddings.position_embeddings.weight', [config.maxPositionEmbeddings, h]);
    this.tokenTypeEmbeddings = tensor('embeddings.token_type_embeddings.weight', [config.typeVocabSize, h]);
    this.embeddingNorm = layerNorm('embeddings.LayerNorm');
    this.layers = [];
    for (let i = 0; i < config.numLayers; i++) {
      const p = `encoder.layer.${i}`;
      this.layers.push({
        query: dense(`${p}.attention.self.query`, h, h),
        key: dense(`${p}.attention.self.key`, h, h),
        value: dense(`${p}.attention.self.value`, h, h),
        attentionOut: dense(`${p}.attention.output.dense`, h, h),
        attentionNorm: layerNorm(`${p}.attention.output.LayerNorm`),
        intermediate: dense(`${p}.intermediate.dense`, config.intermediateSize, h),
        output: dense(`${p}.output.dense`, h, config.intermediateSize),
        outputNorm: layerNorm(`${p}.output.LayerNorm`),
      });
    }
  }

  /** last_hidden_state: one Float32Array[hiddenSize] per input position (padding positions included). */
  forward(input: EncoderInput): Float32Array[] {
    const c = this.config;
    const h = c.hiddenSize;
    const n = input.inputIds.length;
    const mask = input.attentionMask ?? new Array<number>(n).fill(1);
    const types = input.tokenTypeIds ?? new Array<number>(n).fill(0);
    if (mask.length !== n || types.length !== n) throw new Error('attentionMask/tokenTypeIds length mismatch');

    const positions = positionIdsOf(input.inputIds, c.positionPaddingIdx);
    let hidden: Float64Array[] = [];
    for (let s = 0; s < n; s++) {
      const id = input.inputIds[s];
      const type = types[s];
      if (id < 0 || id >= c.vocabSize) throw new Error(`token id ${id} out of range`);
      if (positions[s] >= c.maxPositionEmbeddings) throw new Error(`position ${positions[s]} exceeds ${c.maxPositionEmbeddings} positions`);
      const e = new Float64Array(h);
      for (let i = 0; i < h; i++) {
        e[i] = this.wordEmbeddings[id * h + i] + this.positionEmbeddings[positions[s] * h + i] + this.tokenTypeEmbeddings[type * h + i];
      }
      hidden.push(layerNorm(e, this.embeddingNorm, c.layerNormEps));
    }

    for (const layer of this.layers) {
      const attention = this.selfAttention(layer, hidden, mask);
      hidden = hidden.map((x, s) => layerNorm(add(applyDense(layer.attentionOut, attention[s]), x), layer.attentionNorm, c.layerNormEps));
      hidden = hidden.map((x) => {
        const inner = applyDense(layer.intermediate, x).map((v) => activation(v, c.hiddenAct));
        return layerNorm(add(applyDense(layer.output, inner), x), layer.outputNorm, c.layerNormEps);
      });
    }
    return hidden.map((x) => Float32Array.from(x));
  }

  private selfAttention(layer: EncoderLayer, hidden: Float64Array[], mask: readonly number[]): Float64Array[] {
    const c = this.config;
    const d = c.hiddenSize / c.numHeads;
    const scale = 1 / Math.sqrt(d);
    const q = hidden.map((x) => applyDense(layer.query, x));
    const k = hidden.map((x) => applyDense(layer.key, x));
    const v = hidden.map((x) => applyDense(layer.value, x));
    const n = hidden.length;
    const out = hidden.map(() => new Float64Array(c.hiddenSize));
    const scores = new Float64Array(n);
    for (let s = 0; s < n; s++) {
      for (let head = 0; head < c.numHeads; head++) {
        const o = head * d;
        let max = -Infinity;
        for (let t = 0; t < n; t++) {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += q[s][o + i] * k[t][o + i];
          scores[t] = dot * scale + (mask[t] ? 0 : MASKED_SCORE);
          if (scores[t] > max) max = scores[t];
        }
        let sum = 0;
        for (let t = 0; t < n; t++) {
          scores[t] = Math.exp(scores[t] - max);
          sum += scores[t];
        }
        for (let t = 0; t < n; t++) {
          const p = scores[t] / sum;
          for (let i = 0; i < d; i++) out[s][o + i] += p * v[t][o + i];
        }
      }
    }
    return out;
  }
}

/**
 * BERT: 0, 1, 2, …. RoBERTa, as HF's create_position_ids_from_input_ids:
 * mask = ids ≠ padding_idx; position = cumsum(mask)·mask + padding_idx.
 */
export function positionIdsOf(ids: readonly number[], paddingIdx: number | null): number[] {
  if (paddingIdx === null) return ids.map((_, s) => s);
  let count = 0;
  return ids.map((id) => {
    if (id === paddingIdx) return paddingIdx;
    count++;
    return paddingIdx + count;
  });
}

function applyDense(layer: Dense, x: Float64Array): Float64Array {
  const y = new Float64Array(layer.out);
  for (let o = 0; o < layer.out; o++) {
    let acc = layer.bias[o];
    const row = o * layer.inp;
    for (let i = 0; i < layer.inp; i++) acc += layer.weight[row + i] * x[i];
    y[o] = acc;
  }
  return y;
}

function layerNorm(x: Float64Array, w: LayerNormWeights, eps: number): Float64Array {
  let mean = 0;
  for (let i = 0; i < x.length; i++) mean += x[i];
  mean /= x.length;
  let variance = 0;
  for (let i = 0; i < x.length; i++) variance += (x[i] - mean) ** 2;
  variance /= x.length;
  const inv = 1 / Math.sqrt(variance + eps);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = (x[i] - mean) * inv * w.gamma[i] + w.beta[i];
  return y;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
  return y;
}

function activation(x: number, kind: EncoderConfig['hiddenAct']): number {
  switch (kind) {
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_new':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'relu':
      return Math.max(0, x);
  }
}

/**
 * erf to ~1e-15 (float64): Taylor series near zero, continued fraction for the
 * complementary function further out (Numerical Recipes' erfc via Lentz).
 */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a < 2.5) {
    // erf(a) = 2/√π Σ (-1)^n a^(2n+1) / (n! (2n+1))
    let term = a;
    let sum = a;
    for (let n = 1; n < 100; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (sign * 2 * sum) / Math.sqrt(Math.PI);
  }
  // erfc(a) = exp(-a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + 2/(a + ...)))))
  let f = a;
  let cPrev = a;
  let dPrev = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    let dn = a + an * dPrev;
    dn = dn === 0 ? 1e-300 : 1 / dn;
    let cn = a + an / cPrev;
    if (cn === 0) cn = 1e-300;
    const delta = cn * dn;
    f *= delta;
    cPrev = cn;
    dPrev = dn;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return sign * (1 - erfc);
}

// ---- sentence-transformers pooling -------------------------------------------------

/** Pools last_hidden_state rows into one vector, as sentence-transformers' Pooling module does. */
export function poolHidden(hidden: readonly Float32Array[], attentionMask: readonly number[], mode: PoolingMode): Float32Array {
  if (hidden.length === 0) throw new Error('cannot pool an empty sequence');
  const h = hidden[0].length;
  const out = new Float64Array(h);
  switch (mode) {
    case 'cls':
      out.set(hidden[0]);
      break;
    case 'mean': {
      let count = 0;
      hidden.forEach((row, s) => {
        if (!attentionMask[s]) return;
        count++;
        for (let i = 0; i < h; i++) out[i] += row[i];
      });
      // sentence-transformers clamps the token count to ≥ 1e-9.
      const denominator = Math.max(count, 1e-9);
      for (let i = 0; i < h; i++) out[i] /= denominator;
      break;
    }
    case 'max': {
      // sentence-transformers sets padding to -1e9 before the max.
      out.fill(-1e9);
      hidden.forEach((row, s) => {
        if (!attentionMask[s]) return;
        for (let i = 0; i < h; i++) if (row[i] > out[i]) out[i] = row[i];
      });
      break;
    }
    case 'lasttoken': {
      let last = 0;
      attentionMask.forEach((m, s) => {
        if (m) last = s;
      });
      out.set(hidden[last]);
      break;
    }
  }
  return Float32Array.from(out);
}

/** x / max(‖x‖₂, 1e-12), as torch.nn.functional.normalize. */
export function l2Normalize(x: ArrayLike<number>): Float32Array {
  let sumSq = 0;
  for (let i = 0; i < x.length; i++) sumSq += x[i] * x[i];
  const norm = Math.max(Math.sqrt(sumSq), 1e-12);
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] / norm;
  return y;
}
