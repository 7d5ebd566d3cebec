// A deliberately plain Llama-family decoder (Llama 2/3, Mistral, Qwen2, Qwen3,
// SmolLM3, Granite, Phi-3, Gemma 3 text) used as the numerical oracle for the
// ONNX graph. It follows Hugging Face's modeling_llama.py / modeling_qwen3.py /
// modeling_smollm3.py / modeling_granite.py / modeling_phi3.py /
// modeling_gemma3.py step by step, one token at a time, accumulating in
// float64. It must never import from src/model/graph/: if both sides shared a
// helper, a bug in it would cancel out in the tests.
//
// Token by token, LongRoPE follows HF's dynamic update exactly: the factors
// switch to the long ones once the sequence length (position + 1) exceeds the
// original context. Not modelled: Mistral's sliding window (ignored by config
// parsing too).

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
  inputNorm: Float64Array;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  qNorm: Float64Array | null;
  kNorm: Float64Array | null;
  postAttentionNorm: Float64Array;
  /** Gemma: norms of the MLP input and output (post_attention then norms the attention output). */
  preFeedforwardNorm: Float64Array | null;
  postFeedforwardNorm: Float64Array | null;
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
export function referenceInverseFrequencies(rotaryDim: number, theta: number, scaling: RopeScaling | null, longContext = false): Float64Array {
  const half = rotaryDim / 2;
  const invFreq = new Float64Array(half);
  for (let j = 0; j < half; j++) invFreq[j] = 1 / Math.pow(theta, (2 * j) / rotaryDim);
  if (scaling === null) return invFreq;
  if (scaling.type === 'linear') {
    for (let j = 0; j < half; j++) invFreq[j] /= scaling.factor;
    return invFreq;
  }
  if (scaling.type === 'longrope') {
    // HF _compute_longrope_parameters: inv_freq = 1 / (ext_factors · base^(2j/dim)).
    const ext = longContext ? scaling.longFactor : scaling.shortFactor;
    for (let j = 0; j < half; j++) invFreq[j] = 1 / (ext[j] * Math.pow(theta, (2 * j) / rotaryDim));
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

/** The RoPE one layer applies: inverse frequencies (short and long for LongRoPE) and the cos/sin amplitude. */
interface LayerRope {
  short: Float64Array;
  long: Float64Array;
  /** Sequence length beyond which `long` applies (HF: seq_len > original_max_position_embeddings). */
  switchAfter: number;
  amplitude: number;
}

export class ReferenceDecoder {
  readonly config: DecoderConfig;
  private readonly embed: Float32Array;
  private readonly layers: LayerWeights[];
  private readonly finalNorm: Float64Array;
  private readonly lmHead: Linear;
  /** Per layer; null where the layer has no rotary embedding (SmolLM3). */
  private readonly layerRope: (LayerRope | null)[];

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
    /** Rows [from, from + out) of a fused [*, inp] weight (Phi-3 qkv_proj, gate_up_proj). */
    const rows = (fused: Float32Array, from: number, out: number, inp: number): Linear => ({
      out,
      inp,
      weight: fused.subarray(from * inp, (from + out) * inp),
      bias: null,
    });
    // Gemma3RMSNorm scales by (1 + w), computed in float32 as HF does.
    const norm = (name: string, size: number): Float64Array =>
      Float64Array.from(tensor(name, [size]), (w) => (c.normUnitOffset ? Math.fround(1 + w) : w));
    const h = c.hiddenSize;
    const inter = c.intermediateSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    this.embed = tensor('model.embed_tokens.weight', [c.vocabSize, h]);
    this.layers = [];
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}`;
      let q: Linear, k: Linear, v: Linear, gate: Linear, up: Linear;
      if (c.fusedProjections) {
        const qkv = tensor(`${p}.self_attn.qkv_proj.weight`, [qDim + 2 * kvDim, h]);
        q = rows(qkv, 0, qDim, h);
        k = rows(qkv, qDim, kvDim, h);
        v = rows(qkv, qDim + kvDim, kvDim, h);
        // Phi3MLP: gate, up = gate_up_proj(x).chunk(2, dim=-1)
        const gateUp = tensor(`${p}.mlp.gate_up_proj.weight`, [2 * inter, h]);
        gate = rows(gateUp, 0, inter, h);
        up = rows(gateUp, inter, inter, h);
      } else {
        q = linear(`${p}.self_attn.q_proj`, qDim, h, c.attentionBias);
        k = linear(`${p}.self_attn.k_proj`, kvDim, h, c.attentionBias);
        v = linear(`${p}.self_attn.v_proj`, kvDim, h, c.attentionBias);
        gate = linear(`${p}.mlp.gate_proj`, inter, h, false);
        up = linear(`${p}.mlp.up_proj`, inter, h, false);
      }
      this.layers.push({
        inputNorm: norm(`${p}.input_layernorm.weight`, h),
        q,
        k,
        v,
        o: linear(`${p}.self_attn.o_proj`, h, qDim, false),
        qNorm: c.qkNorm ? norm(`${p}.self_attn.q_norm.weight`, c.headDim) : null,
        kNorm: c.qkNorm ? norm(`${p}.self_attn.k_norm.weight`, c.headDim) : null,
        postAttentionNorm: norm(`${p}.post_attention_layernorm.weight`, h),
        preFeedforwardNorm: c.sandwichNorms ? norm(`${p}.pre_feedforward_layernorm.weight`, h) : null,
        postFeedforwardNorm: c.sandwichNorms ? norm(`${p}.post_feedforward_layernorm.weight`, h) : null,
        gate,
        up,
        down: linear(`${p}.mlp.down_proj`, h, inter, false),
      });
    }
    this.finalNorm = norm('model.norm.weight', h);
    this.lmHead = c.tieWordEmbeddings
      ? { out: c.vocabSize, inp: h, weight: this.embed, bias: null }
      : linear('lm_head', c.vocabSize, h, false);
    this.layerRope = c.layerRope.map((rotated, l) => {
      if (!rotated) return null;
      // Gemma 3: sliding layers use rope_local_base_freq, unscaled.
      const local = c.layerAttention[l] === 'sliding' && c.slidingRopeTheta !== null;
      const theta = local ? c.slidingRopeTheta! : c.ropeTheta;
      const scaling = local ? null : c.ropeScaling;
      const longRope = scaling?.type === 'longrope' ? scaling : null;
      return {
        short: referenceInverseFrequencies(c.rotaryDim, theta, scaling),
        long: referenceInverseFrequencies(c.rotaryDim, theta, scaling, true),
        switchAfter: longRope?.originalMaxPositionEmbeddings ?? Infinity,
        amplitude: longRope?.attentionFactor ?? 1,
      };
    });
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

  /**
   * Appends `tokenIds` like forward() and returns each new position's final-norm
   * hidden state (what an embedding model pools) instead of its logits.
   */
  hiddenStates(state: ReferenceState, tokenIds: readonly number[]): Float32Array[] {
    return tokenIds.map((id) => Float32Array.from(this.finalHidden(state, id)));
  }

  private forwardOne(state: ReferenceState, tokenId: number): Float32Array {
    const c = this.config;
    const logits = applyLinear(this.lmHead, this.finalHidden(state, tokenId));
    for (let i = 0; i < logits.length; i++) {
      let v = logits[i] / c.logitsDivisor;
      if (c.finalLogitSoftcap !== null) v = Math.tanh(v / c.finalLogitSoftcap) * c.finalLogitSoftcap;
      logits[i] = v;
    }
    return Float32Array.from(logits);
  }

  private finalHidden(state: ReferenceState, tokenId: number): Float64Array {
    const c = this.config;
    if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId >= c.vocabSize) {
      throw new Error(`token id ${tokenId} out of range [0, ${c.vocabSize})`);
    }
    const position = state.length;
    const h = c.hiddenSize;
    // Gemma's normalizer √hidden is a float32 tensor in HF; Granite's embedding_multiplier a Python float.
    const embedScale = c.normUnitOffset ? Math.fround(c.embeddingMultiplier) : c.embeddingMultiplier;
    let x: Float64Array = new Float64Array(h);
    for (let i = 0; i < h; i++) x[i] = this.embed[tokenId * h + i] * embedScale;

    for (let l = 0; l < c.numLayers; l++) {
      const w = this.layers[l];
      const attnIn = rmsNorm(x, w.inputNorm, c.rmsNormEps);
      let attnOut = applyLinear(w.o, this.attention(state, l, w, attnIn, position));
      if (c.sandwichNorms) attnOut = rmsNorm(attnOut, w.postAttentionNorm, c.rmsNormEps);
      x = addScaled(x, attnOut, c.residualMultiplier);
      const mlpIn = rmsNorm(x, w.preFeedforwardNorm ?? w.postAttentionNorm, c.rmsNormEps);
      const gate = applyLinear(w.gate, mlpIn);
      const up = applyLinear(w.up, mlpIn);
      const act = new Float64Array(gate.length);
      const fn = c.hiddenAct === 'silu' ? silu : geluTanh;
      for (let i = 0; i < act.length; i++) act[i] = fn(gate[i]) * up[i];
      let mlpOut = applyLinear(w.down, act);
      if (w.postFeedforwardNorm) mlpOut = rmsNorm(mlpOut, w.postFeedforwardNorm, c.rmsNormEps);
      x = addScaled(x, mlpOut, c.residualMultiplier);
    }
    state.length = position + 1;
    return rmsNorm(x, this.finalNorm, c.rmsNormEps);
  }

  /** Self-attention of the token at `position` over the cache plus itself; appends its K/V. */
  private attention(state: ReferenceState, layer: number, w: LayerWeights, x: Float64Array, position: number): Float64Array {
    const c = this.config;
    const d = c.headDim;
    const q = applyLinear(w.q, x);
    const k = applyLinear(w.k, x);
    const v = applyLinear(w.v, x);
    const rope = this.layerRope[layer];
    for (let head = 0; head < c.numHeads; head++) {
      const slice = q.subarray(head * d, (head + 1) * d);
      if (w.qNorm) slice.set(rmsNorm(slice, w.qNorm, c.rmsNormEps));
      if (rope) rotate(slice, position, rope);
    }
    for (let head = 0; head < c.numKvHeads; head++) {
      const slice = k.subarray(head * d, (head + 1) * d);
      if (w.kNorm) slice.set(rmsNorm(slice, w.kNorm, c.rmsNormEps));
      if (rope) rotate(slice, position, rope);
    }
    const keys = state.keys[layer];
    const values = state.values[layer];
    keys.push(k);
    values.push(v);

    // Cache entry t is (newest − t) positions behind this token; a sliding layer sees the keys
    // at positions p > position − window (HF sliding_window_overlay), its own included.
    const newest = keys.length - 1;
    const oldest = c.layerAttention[layer] === 'sliding' ? Math.max(0, newest - c.slidingWindow! + 1) : 0;
    // Grouped-query attention: query head `head` reads kv head floor(head / groupSize) (HF repeat_kv).
    const groupSize = c.numHeads / c.numKvHeads;
    const out = new Float64Array(c.numHeads * d);
    const scores = new Float64Array(keys.length);
    for (let head = 0; head < c.numHeads; head++) {
      const kvHead = Math.floor(head / groupSize);
      let max = -Infinity;
      for (let t = oldest; t <= newest; t++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += q[head * d + i] * keys[t][kvHead * d + i];
        scores[t] = dot * c.attentionScale;
        if (scores[t] > max) max = scores[t];
      }
      let sum = 0;
      for (let t = oldest; t <= newest; t++) {
        scores[t] = Math.exp(scores[t] - max);
        sum += scores[t];
      }
      for (let t = oldest; t <= newest; t++) {
        const p = scores[t] / sum;
        for (let i = 0; i < d; i++) out[head * d + i] += p * values[t][kvHead * d + i];
      }
    }
    return out;
  }
}

/**
 * HF rotate-half RoPE over the first rotary dimensions (Phi-3 partial rotary:
 * the rest pass through): [x1, x2] → [x1·cos − x2·sin, x2·cos + x1·sin], with
 * LongRoPE's attention factor scaling cos and sin.
 */
function rotate(x: Float64Array, position: number, rope: LayerRope): void {
  const invFreq = position + 1 > rope.switchAfter ? rope.long : rope.short;
  const half = invFreq.length;
  for (let j = 0; j < half; j++) {
    const angle = position * invFreq[j];
    const cos = Math.cos(angle) * rope.amplitude;
    const sin = Math.sin(angle) * rope.amplitude;
    const x1 = x[j];
    const x2 = x[j + half];
    x[j] = x1 * cos - x2 * sin;
    x[j + half] = x2 * cos + x1 * sin;
  }
}

function applyLinear(layer: Linear, x: Float64Array): Float64Array {
  if (x.length !== layer.inp) throw new Error(`linear: input ${x.length} != ${layer.inp}`);
  const y = new Float64Array(layer.out);
  const w = layer.weight;
  const n = layer.inp;
  const n4 = n - (n % 4);
  for (let o = 0; o < layer.out; o++) {
    // Four partial sums: the same float64 dot product, about twice as fast in V8.
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    const row = o * n;
    let i = 0;
    for (; i < n4; i += 4) {
      a0 += w[row + i] * x[i];
      a1 += w[row + i + 1] * x[i + 1];
      a2 += w[row + i + 2] * x[i + 2];
      a3 += w[row + i + 3] * x[i + 3];
    }
    for (; i < n; i++) a0 += w[row + i] * x[i];
    y[o] = (layer.bias ? layer.bias[o] : 0) + (a0 + a1 + a2 + a3);
  }
  return y;
}

/** RMSNorm: x / sqrt(mean(x²) + eps) * weight. */
function rmsNorm(x: Float64Array, weight: Float64Array, eps: number): Float64Array {
  let sumSq = 0;
  for (let i = 0; i < x.length; i++) sumSq += x[i] * x[i];
  const inv = 1 / Math.sqrt(sumSq / x.length + eps);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * inv * weight[i];
  return y;
}

/** a + m·b (Granite scales each block's output by residual_multiplier). */
function addScaled(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + m * b[i];
  return y;
}

function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** gelu_pytorch_tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
