// The config.json keys of the decoder families that are small deltas on Llama
// (SmolLM3, Granite 3, Phi-3, Gemma 3 text), read into DecoderConfig's
// per-family fields. Defaults are those of the transformers config classes.

import { positive, type FieldReader } from './field-reader.js';
import type { DecoderConfig, HiddenActivation, LayerAttention, RopeScaling } from './types.js';

/** What a `longrope` scaling needs from outside `rope_scaling`. */
export interface RopeContext {
  top: FieldReader;
  maxPositionEmbeddings: number;
  /** Frequencies per head: rotaryDim / 2, the length the LongRoPE factor lists must have. */
  frequencies: number;
}

/**
 * HF `_compute_longrope_parameters`: the original context comes from the top-level
 * `original_max_position_embeddings` (Phi-3) when present, and then the extension
 * factor is max_position_embeddings / original, whatever `factor` says.
 */
export function parseLongRope(s: FieldReader, { top, maxPositionEmbeddings, frequencies }: RopeContext): RopeScaling {
  const factors = (field: string): number[] => {
    const v = s.raw(field);
    if (!Array.isArray(v) || v.length !== frequencies || !v.every((f) => typeof f === 'number' && f > 0)) {
      throw s.fail(field, `expected ${frequencies} positive numbers (one per rotary frequency), got ${JSON.stringify(v)}`);
    }
    return v as number[];
  };
  let original: number;
  let factor: number;
  if (top.has('original_max_position_embeddings')) {
    original = top.int('original_max_position_embeddings');
    factor = maxPositionEmbeddings / original;
  } else {
    original = s.optInt('original_max_position_embeddings', maxPositionEmbeddings);
    factor = s.optNum('factor', maxPositionEmbeddings / original);
  }
  const attentionFactor = s.optNum('attention_factor', factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original)));
  return {
    type: 'longrope',
    shortFactor: factors('short_factor'),
    longFactor: factors('long_factor'),
    originalMaxPositionEmbeddings: original,
    attentionFactor,
  };
}

type Family = DecoderConfig['modelType'];

export function parseActivation(r: FieldReader, family: Family): HiddenActivation {
  // Gemma names the field `hidden_activation`; the others `hidden_act`.
  const field = family === 'gemma3_text' && r.has('hidden_activation') ? 'hidden_activation' : 'hidden_act';
  const act = r.optString(field) ?? (family === 'gemma3_text' ? 'gelu_pytorch_tanh' : 'silu');
  if (act === 'silu') return 'silu';
  if (act === 'gelu_pytorch_tanh' || act === 'gelu_new') return 'gelu_tanh';
  throw r.fail(field, `unsupported activation ${JSON.stringify(act)} (supported: silu, gelu_pytorch_tanh, gelu_new)`);
}

/** HF: int(head_dim · partial_rotary_factor) leading dimensions are rotated. */
export function parseRotaryDim(r: FieldReader, headDim: number): number {
  const factor = r.optNum('partial_rotary_factor', 1);
  const rotaryDim = Math.floor(headDim * factor);
  if (factor <= 0 || factor > 1 || rotaryDim % 2 !== 0 || rotaryDim === 0) {
    throw r.fail('partial_rotary_factor', `${factor} × head_dim ${headDim} must be an even number of dimensions in (0, head_dim]`);
  }
  return rotaryDim;
}

/** SmolLM3: `no_rope_layers[i]` is 1 when layer i uses RoPE (default: every `no_rope_layer_interval`-th layer does not). */
export function parseLayerRope(r: FieldReader, family: Family, numLayers: number): boolean[] {
  if (family !== 'smollm3') return new Array<boolean>(numLayers).fill(true);
  const list = r.raw('no_rope_layers');
  if (list === undefined || list === null) {
    const interval = r.optInt('no_rope_layer_interval', 4);
    return Array.from({ length: numLayers }, (_, i) => (i + 1) % interval !== 0);
  }
  if (!Array.isArray(list) || list.length !== numLayers || !list.every((v) => v === 0 || v === 1)) {
    throw r.fail('no_rope_layers', `expected ${numLayers} entries of 0 or 1 (one per layer), got ${JSON.stringify(list)}`);
  }
  return list.map((v) => v === 1);
}

/**
 * Which layers slide, for the families that have sliding layers: an explicit
 * `layer_types`, else Gemma 3's `sliding_window_pattern` (every n-th layer is
 * global), else Phi-3's `sliding_window` on every layer. Llama, Mistral and Qwen
 * keep ignoring `sliding_window`, as before.
 */
export function parseLayerAttention(r: FieldReader, family: Family, numLayers: number, maxPositionEmbeddings: number): { layerAttention: LayerAttention[]; slidingWindow: number | null } {
  const full = { layerAttention: new Array<LayerAttention>(numLayers).fill('full'), slidingWindow: null };
  if (family !== 'gemma3_text' && family !== 'phi3' && family !== 'smollm3') return full;
  if (r.optBool('use_sliding_window', true) === false || !r.has('sliding_window')) return full;
  const slidingWindow = r.int('sliding_window');
  let layerAttention: LayerAttention[];
  const types = r.raw('layer_types');
  if (types !== undefined && types !== null) {
    if (!Array.isArray(types) || types.length !== numLayers || !types.every((t) => t === 'sliding_attention' || t === 'full_attention')) {
      throw r.fail('layer_types', `expected ${numLayers} entries of "sliding_attention" or "full_attention", got ${JSON.stringify(types)}`);
    }
    layerAttention = types.map((t) => (t === 'sliding_attention' ? 'sliding' : 'full'));
  } else if (family === 'gemma3_text') {
    const pattern = r.optInt('sliding_window_pattern', 6);
    layerAttention = Array.from({ length: numLayers }, (_, i) => ((i + 1) % pattern === 0 ? 'full' : 'sliding'));
  } else if (family === 'phi3') {
    layerAttention = new Array<LayerAttention>(numLayers).fill('sliding');
  } else return full;
  // A window no sequence can outgrow (Phi-4-mini: 262144 over 131072 positions) bounds nothing.
  if (slidingWindow >= maxPositionEmbeddings) return full;
  return layerAttention.includes('sliding') ? { layerAttention, slidingWindow } : full;
}

type Multipliers = Pick<DecoderConfig, 'embeddingMultiplier' | 'residualMultiplier' | 'attentionScale' | 'logitsDivisor' | 'finalLogitSoftcap'>;

export function parseMultipliers(r: FieldReader, family: Family, hiddenSize: number, headDim: number): Multipliers {
  const plain: Multipliers = { embeddingMultiplier: 1, residualMultiplier: 1, attentionScale: 1 / Math.sqrt(headDim), logitsDivisor: 1, finalLogitSoftcap: null };
  if (family === 'granite') {
    return {
      ...plain,
      embeddingMultiplier: r.optNum('embedding_multiplier', 1),
      residualMultiplier: r.optNum('residual_multiplier', 1),
      // GraniteConfig's default is 1, not 1/√head_dim.
      attentionScale: r.optNum('attention_multiplier', 1),
      logitsDivisor: positive(r, 'logits_scaling', 1),
    };
  }
  if (family === 'gemma3_text') {
    if (r.has('attn_logit_softcapping')) throw r.fail('attn_logit_softcapping', 'attention logit soft-capping is not supported (Gemma 3 checkpoints set it to null)');
    const softcap = r.optNum('final_logit_softcapping', undefined);
    if (softcap !== undefined && softcap <= 0) throw r.fail('final_logit_softcapping', `expected a positive number, got ${softcap}`);
    return {
      ...plain,
      embeddingMultiplier: Math.sqrt(hiddenSize),
      attentionScale: 1 / Math.sqrt(positive(r, 'query_pre_attn_scalar', 256)),
      finalLogitSoftcap: softcap ?? null,
    };
  }
  return plain;
}

