// A deliberately plain Llama-family decoder (Llama 2/3, Mistral, Qwen2, Qwen3)
// used as the numerical oracle for the ONNX graph. It follows Hugging Face's
// modeling_llama.py / modeling_qwen3.py step by step, one token at a time,
// accumulating in float64. It must never import from src/model/graph/: if
// both sides shared a helper, a bug in it would cancel out in the tests.
//
// Not modelled (not needed by any config we accept today): Mistral's sliding
// window, RoPE types other than default / llama3 / linear.

import type { DecoderConfig, RopeScaling, WeightStore } from '../types.js';

/** The KV cache of one sequence: per layer, per position, the rotated key and the value. */
export interface ReferenceState {
  /** Tokens already in the cache; the next token gets this position id. */
  length: number;
  /** keys[layer][position] = Float64Array[numKvHeads * headDim] (after RoPE). */
  keys: Float64Array[][];
  values: Float64Array[][];
}

/** A Linear layer's weight as HF stores it: [out, in] row-major. */
interface Linear {
  out: number;
  inp: number;
  weight: Float32Array;
  bias: Float32Array | null;
}

interface LayerWeights {
  inputNorm: Float32Array;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  qNorm: Float32Array | null;
  kNorm: Float32Array | null;
  postAttentionNorm: Float32Array;
  gate: Linear;
  up: Linear;
  down: Linear;
}

/**
 * RoPE inverse frequencies, with rope_scaling applied as in HF's
 * `ROPE_INIT_FUNCTIONS` (`_compute_default_rope_parameters`,
 * `_compute_linear_scaling_rope_parameters`, `_compute_llama3_parameters`).
 * Linear scaling divides positions by `factor`; dividing the frequencies is the same thing.
 */
export function referenceInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling | null): Float64Array {
  const half = headDim / 2;
  const invFreq = new Float64Array(half);
  for (let j = 0; j < half; j++) invFreq[j] = 1 / Math.pow(theta, (2 * j) / headDim);
  if (scaling === null) return invFreq;
  if (scaling.type === 'linear') {
    for (let j = 0; j < half; j++) invFreq[j] /= scaling.factor;
    return invFreq;
  }
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldContext } = scaling;
  const lowFreqWavelen = oldContext / lowFreqFactor;
  const highFreqWavelen = oldContext / highFreqFactor;
  for (let j = 0; j < half; j++) {
    const f = invFreq[j];
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highFreqWavelen) continue; // high frequency: unchanged
    if (wavelen > lowFreqWavelen) {
      invFreq[j] = f / factor; // low frequency: fully scaled
      continue;
    }
    const smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    invFreq[j] = (1 - smooth) * (f / factor) + smooth * f;
  }
  return invFreq;
}

export class ReferenceDecoder {
  readonly config: DecoderConfig;
  private readonly embed: Float32Array;
  private readonly layers: LayerWeights[];
  private readonly finalNorm: Float32Array;
  private readonly lmHead: Linear;
  private readonly invFreq: Float64Array;

  constructor(config: DecoderConfig, weights: WeightStore) {
    this.config = config;
    const c = config;
    const tensor = (name: string, shape: number[]): Float32Array => {
      const t = weights.get(name);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`${name}: expected shape [${shape}], got [${t.shape}]`);
      }
      return t.data;
    };
    const linear = (name: string, out: number, inp: number, withBias: boolean): Linear => ({
      out,
      inp,
      weight: tensor(`${name}.weight`, [out, inp]),
      bias: withBias ? tensor(`${name}.bias`, [out]) : null,
    });
    const h = c.hiddenSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    this.embed = tensor('model.embed_tokens.weight', [c.vocabSize, h]);
    this.layers = [];
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}`;
      this.layers.push({
        inputNorm: tensor(`${p}.input_layernorm.weight`, [h]),
        q: linear(`${p}.self_attn.q_proj`, qDim, h, c.attentionBias),
        k: linear(`${p}.self_attn.k_proj`, kvDim, h, c.attentionBias),
        v: linear(`${p}.self_attn.v_proj`, kvDim, h, c.attentionBias),
        o: linear(`${p}.self_attn.o_proj`, h, qDim, false),
        qNorm: c.qkNorm ? tensor(`${p}.self_attn.q_norm.weight`, [c.headDim]) : null,
        kNorm: c.qkNorm ? tensor(`${p}.self_attn.k_norm.weight`, [c.headDim]) : null,
        postAttentionNorm: tensor(`${p}.post_attention_layernorm.weight`, [h]),
        gate: linear(`${p}.mlp.gate_proj`, c.intermediateSize, h, false),
        up: linear(`${p}.mlp.up_proj`, c.intermediateSize, h, false),
        down: linear(`${p}.mlp.down_proj`, h, c.intermediateSize, false),
      });
    }
    this.finalNorm = tensor('model.norm.weight', [h]);
    this.lmHead = c.tieWordEmbeddings
      ? { out: c.vocabSize, inp: h, weight: this.embed, bias: null }
      : linear('lm_head', c.vocabSize, h, false);
    this.invFreq = referenceInverseFrequencies(c.headDim, c.ropeTheta, c.ropeScaling);
  }

  newState(): ReferenceState {
    const n = this.config.numLayers;
    return {
      length: 0,
      keys: Array.from({ length: n }, () => []),
      values: Array.from({ length: n }, () => []),
    };
  }

  /**
   * Appends `tokenIds` to the sequence (positions state.length, state.length+1, ...)
   * and returns the logits of every new position. Feeding a prompt in one call or
   * in several chunks gives the same result, by construction: tokens are processed
   * one at a time against the cache.
   */
  forward(state: ReferenceState, tokenIds: readonly number[]): Float32Array[] {
    const logits: Float32Array[] = [];
    for (const id of tokenIds) logits.push(this.forwardOne(state, id));
    return logits;
  }

  /** Greedy continuation helper: feeds `tokenIds`, then picks argmax `steps` times. */
  greedy(state: ReferenceState, tokenIds: readonly number[], steps: number): number[] {
    let last = this.forward(state, tokenIds).at(-1);
    const out: number[] = [];
    for (let s = 0; s < steps; s++) {
      if (last === undefined) throw new Error('greedy() needs at least one prompt token');
      const next = argmax(last);
      out.push(next);
      if (s + 1 < steps) last = this.forward(state, [next])[0];
    }
    return out;
  }

  private forwardOne(state: ReferenceState, tokenId: number): Float32Array {
    const c = this.config;
    if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId >= c.vocabSize) {
      throw new Error(`token id ${tokenId} out of range [0, ${c.vocabSize})`);
    }
    const position = state.length;
    const h = c.hiddenSize;
    let x: Float64Array = new Float64Array(h);
    for (let i = 0; i < h; i++) x[i] = this.embed[tokenId * h + i];

    for (let l = 0; l < c.numLayers; l++) {
      const w = this.layers[l];
      const attnIn = rmsNorm(x, w.inputNorm, c.rmsNormEps);
      const attnOut = this.attention(state, l, w, attnIn, position);
      x = add(x, applyLinear(w.o, attnOut));
      const mlpIn = rmsNorm(x, w.postAttentionNorm, c.rmsNormEps);
      const gate = applyLinear(w.gate, mlpIn);
      const up = applyLinear(w.up, mlpIn);
      const act = new Float64Array(gate.length);
      for (let i = 0; i < act.length; i++) act[i] = silu(gate[i]) * up[i];
      x = add(x, applyLinear(w.down, act));
    }
    state.length = position + 1;

    const final = rmsNorm(x, this.finalNorm, c.rmsNormEps);
    return Float32Array.from(applyLinear(this.lmHead, final));
  }

  /** Self-attention of the token at `position` over the cache plus itself; appends its K/V. */
  private attention(state: ReferenceState, layer: number, w: LayerWeights, x: Float64Array, position: number): Float64Array {
    const c = this.config;
    const d = c.headDim;
    const q = applyLinear(w.q, x);
    const k = applyLinear(w.k, x);
    const v = applyLinear(w.v, x);
    for (let head = 0; head < c.numHeads; head++) {
      const slice = q.subarray(head * d, (head + 1) * d);
      if (w.qNorm) slice.set(rmsNorm(slice, w.qNorm, c.rmsNormEps));
      this.rotate(slice, position);
    }
    for (let head = 0; head < c.numKvHeads; head++) {
      const slice = k.subarray(head * d, (head + 1) * d);
      if (w.kNorm) slice.set(rmsNorm(slice, w.kNorm, c.rmsNormEps));
      this.rotate(slice, position);
    }
    const keys = state.keys[layer];
    const values = state.values[layer];
    keys.push(k);
    values.push(v);

    // Grouped-query attention: query head `head` reads kv head floor(head / groupSize) (HF repeat_kv).
    const groupSize = c.numHeads / c.numKvHeads;
    const scale = 1 / Math.sqrt(d);
    const out = new Float64Array(c.numHeads * d);
    const scores = new Float64Array(keys.length);
    for (let head = 0; head < c.numHeads; head++) {
      const kvHead = Math.floor(head / groupSize);
      let max = -Infinity;
      for (let t = 0; t < keys.length; t++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += q[head * d + i] * keys[t][kvHead * d + i];
        scores[t] = dot * scale;
        if (scores[t] > max) max = scores[t];
      }
      let sum = 0;
      for (let t = 0; t < keys.length; t++) {
        scores[t] = Math.exp(scores[t] - max);
        sum += scores[t];
      }
      for (let t = 0; t < keys.length; t++) {
        const p = scores[t] / sum;
        for (let i = 0; i < d; i++) out[head * d + i] += p * values[t][kvHead * d + i];
      }
    }
    return out;
  }

  /** HF rotate-half RoPE: [x1, x2] → [x1·cos − x2·sin, x2·cos + x1·sin]. */
  private rotate(x: Float64Array, position: number): void {
    const half = x.length / 2;
    for (let j = 0; j < half; j++) {
      const angle = position * this.invFreq[j];
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const x1 = x[j];
      const x2 = x[j + half];
      x[j] = x1 * cos - x2 * sin;
      x[j + half] = x2 * cos + x1 * sin;
    }
  }
}

function applyLinear(layer: Linear, x: Float64Array): Float64Array {
  if (x.length !== layer.inp) throw new Error(`linear: input ${x.length} != ${layer.inp}`);
  const y = new Float64Array(layer.out);
  const w = layer.weight;
  for (let o = 0; o < layer.out; o++) {
    let acc = layer.bias ? layer.bias[o] : 0;
    const row = o * layer.inp;
    for (let i = 0; i < layer.inp; i++) acc += w[row + i] * x[i];
    y[o] = acc;
  }
  return y;
}

/** RMSNorm: x / sqrt(mean(x²) + eps) * weight. */
function rmsNorm(x: Float64Array, weight: Float32Array, eps: number): Float64Array {
  let sumSq = 0;
  for (let i = 0; i < x.length; i++) sumSq += x[i] * x[i];
  const inv = 1 / Math.sqrt(sumSq / x.length + eps);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * inv * weight[i];
  return y;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
  return y;
}

function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
