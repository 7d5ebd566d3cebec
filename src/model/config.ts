// Hugging Face `config.json` / `generation_config.json` → the plain types in
// types.ts. Every rejection names the file and the field, because the person
// reading it is usually looking at that exact JSON file.

import { ModelLoadError } from './errors.js';
import type { DecoderConfig, EncoderConfig, GenerationDefaults, HiddenActivation, LayerAttention, RopeScaling } from './types.js';

type Json = Record<string, unknown>;

interface DecoderArchitecture {
  architecture: string;
  modelType: DecoderConfig['modelType'];
  /** Default for `attention_bias` when the config omits it. */
  attentionBias: boolean;
  qkNorm: boolean;
}

const DECODER_ARCHITECTURES: DecoderArchitecture[] = [
  { architecture: 'LlamaForCausalLM', modelType: 'llama', attentionBias: false, qkNorm: false },
  { architecture: 'MistralForCausalLM', modelType: 'mistral', attentionBias: false, qkNorm: false },
  // Qwen2 always has q/k/v biases and no `attention_bias` field.
  { architecture: 'Qwen2ForCausalLM', modelType: 'qwen2', attentionBias: true, qkNorm: false },
  { architecture: 'Qwen3ForCausalLM', modelType: 'qwen3', attentionBias: false, qkNorm: true },
  { architecture: 'SmolLM3ForCausalLM', modelType: 'smollm3', attentionBias: false, qkNorm: false },
  { architecture: 'GraniteForCausalLM', modelType: 'granite', attentionBias: false, qkNorm: false },
  { architecture: 'Phi3ForCausalLM', modelType: 'phi3', attentionBias: false, qkNorm: false },
  { architecture: 'Gemma3ForCausalLM', modelType: 'gemma3_text', attentionBias: false, qkNorm: true },
];

export const SUPPORTED_DECODER_ARCHITECTURES = DECODER_ARCHITECTURES.map((a) => a.architecture);
/** BertForMaskedLM checkpoints carry the same encoder weights (under a `bert.` prefix). */
export const SUPPORTED_ENCODER_ARCHITECTURES = ['BertModel', 'BertForMaskedLM'];

/** Typed field access that fails with file + field in the message. */
class FieldReader {
  constructor(
    private readonly file: string,
    private readonly json: Json,
    private readonly prefix = '',
  ) {}

  fail(field: string, message: string): ModelLoadError {
    return new ModelLoadError(this.file, this.prefix + field, message);
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  raw(field: string): unknown {
    return this.json[field];
  }

  int(field: string, opts: { min?: number } = {}): number {
    const v = this.json[field];
    if (v === undefined || v === null) throw this.fail(field, 'missing required integer field');
    return this.checkInt(field, v, opts.min ?? 1);
  }

  optInt(field: string, fallback: number, min = 1): number {
    const v = this.json[field];
    return v === undefined || v === null ? fallback : this.checkInt(field, v, min);
  }

  private checkInt(field: string, v: unknown, min: number): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw this.fail(field, `expected an integer, got ${JSON.stringify(v)}`);
    if (v < min) throw this.fail(field, `expected an integer ≥ ${min}, got ${v}`);
    return v;
  }

  num(field: string): number {
    const v = this.json[field];
    if (v === undefined || v === null) throw this.fail(field, 'missing required number field');
    return this.checkNum(field, v);
  }

  optNum(field: string, fallback: number): number;
  optNum(field: string, fallback: undefined): number | undefined;
  optNum(field: string, fallback: number | undefined): number | undefined {
    const v = this.json[field];
    return v === undefined || v === null ? fallback : this.checkNum(field, v);
  }

  private checkNum(field: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.fail(field, `expected a finite number, got ${JSON.stringify(v)}`);
    return v;
  }

  optBool(field: string, fallback: boolean): boolean;
  optBool(field: string, fallback: undefined): boolean | undefined;
  optBool(field: string, fallback: boolean | undefined): boolean | undefined {
    const v = this.json[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw this.fail(field, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  optString(field: string): string | undefined {
    const v = this.json[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw this.fail(field, `expected a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A token id field that may be one id or a list of ids (`eos_token_id`). */
  idList(field: string): number[] {
    const v = this.json[field];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    for (const id of list) {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
        throw this.fail(field, `expected a token id or a list of token ids, got ${JSON.stringify(v)}`);
      }
    }
    return list as number[];
  }

  nested(field: string): FieldReader | null {
    const v = this.json[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'object' || Array.isArray(v)) throw this.fail(field, `expected an object, got ${JSON.stringify(v)}`);
    return new FieldReader(this.file, v as Json, `${this.prefix}${field}.`);
  }
}

export function asJsonObject(file: string, value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelLoadError(file, null, 'expected a JSON object at the top level');
  }
  return value as Json;
}

export function parseJsonText(file: string, text: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(file, null, `malformed JSON: ${(err as Error).message}`);
  }
  return asJsonObject(file, value);
}

function resolveArchitecture(r: FieldReader): DecoderArchitecture {
  const archs = r.raw('architectures');
  const supported = `supported: ${SUPPORTED_DECODER_ARCHITECTURES.join(', ')}`;
  if (archs !== undefined && archs !== null) {
    if (!Array.isArray(archs) || archs.length === 0 || !archs.every((a) => typeof a === 'string')) {
      throw r.fail('architectures', `expected a non-empty list of class names, got ${JSON.stringify(archs)}`);
    }
    const found = DECODER_ARCHITECTURES.find((a) => a.architecture === archs[0]);
    if (found === undefined) throw r.fail('architectures', `unsupported architecture ${JSON.stringify(archs)} (${supported})`);
    return found;
  }
  const modelType = r.optString('model_type');
  if (modelType === undefined) throw r.fail('architectures', `missing (and no model_type either); ${supported}`);
  const found = DECODER_ARCHITECTURES.find((a) => a.modelType === modelType);
  if (found === undefined) throw r.fail('model_type', `unsupported model_type ${JSON.stringify(modelType)} (${supported})`);
  return found;
}

/** What a `longrope` scaling needs from outside `rope_scaling`. */
interface RopeContext {
  top: FieldReader;
  maxPositionEmbeddings: number;
  /** Frequencies per head: rotaryDim / 2, the length the LongRoPE factor lists must have. */
  frequencies: number;
}

/** `s` reads `rope_scaling` (or v5 `rope_parameters`, which has the same fields plus rope_theta). */
function parseRopeScaling(s: FieldReader, requireType: boolean, context: RopeContext): RopeScaling | null {
  // transformers ≥ 4.45 writes `rope_type`; older configs use `type`.
  const kind = s.optString('rope_type') ?? s.optString('type') ?? (requireType ? undefined : 'default');
  if (kind === undefined) throw s.fail('rope_type', 'missing (expected "llama3", "linear", "longrope" or "default")');
  switch (kind) {
    case 'default':
      return null;
    case 'linear':
      return { type: 'linear', factor: positive(s, 'factor') };
    case 'llama3':
      return {
        type: 'llama3',
        factor: positive(s, 'factor'),
        lowFreqFactor: positive(s, 'low_freq_factor'),
        highFreqFactor: positive(s, 'high_freq_factor'),
        originalMaxPositionEmbeddings: s.int('original_max_position_embeddings'),
      };
    case 'longrope':
    case 'su':
      return parseLongRope(s, context);
    default:
      throw s.fail(
        s.has('rope_type') ? 'rope_type' : 'type',
        `unsupported RoPE scaling ${JSON.stringify(kind)} (supported: llama3, linear, longrope, default)`,
      );
  }
}

/**
 * HF `_compute_longrope_parameters`: the original context comes from the top-level
 * `original_max_position_embeddings` (Phi-3) when present, and then the extension
 * factor is max_position_embeddings / original, whatever `factor` says.
 */
function parseLongRope(s: FieldReader, { top, maxPositionEmbeddings, frequencies }: RopeContext): RopeScaling {
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

function positive(r: FieldReader, field: string, fallback?: number): number {
  const v = fallback === undefined ? r.num(field) : r.optNum(field, fallback);
  if (v <= 0) throw r.fail(field, `expected a positive number, got ${v}`);
  return v;
}

/** Parses a decoder `config.json` object. `file` is used in error messages. */
export function parseDecoderConfig(json: Json, file = 'config.json'): DecoderConfig {
  const r = new FieldReader(file, json);
  const arch = resolveArchitecture(r);
  const hiddenSize = r.int('hidden_size');
  const numHeads = r.int('num_attention_heads');
  const numKvHeads = r.optInt('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw r.fail('num_key_value_heads', `${numKvHeads} does not divide num_attention_heads (${numHeads})`);
  }
  let headDim: number;
  if (r.has('head_dim')) headDim = r.int('head_dim');
  else if (hiddenSize % numHeads !== 0) {
    throw r.fail('head_dim', `missing, and hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numHeads})`);
  } else headDim = hiddenSize / numHeads;

  const family = arch.modelType;
  const hiddenAct = parseActivation(r, family);
  const rotaryDim = parseRotaryDim(r, headDim);
  const numLayers = r.int('num_hidden_layers');
  const maxPositionEmbeddings = r.int('max_position_embeddings');

  // transformers v5 moves rope_theta into `rope_parameters`; accept both spellings.
  const ropeParams = r.nested('rope_parameters');
  const ropeTheta = r.has('rope_theta') ? r.num('rope_theta') : ropeParams?.optNum('rope_theta', undefined) ?? 10000;
  if (ropeTheta <= 0) throw r.fail('rope_theta', `expected a positive number, got ${ropeTheta}`);
  const scaling = r.nested('rope_scaling');
  const ropeContext: RopeContext = { top: r, maxPositionEmbeddings, frequencies: rotaryDim / 2 };
  const ropeScaling =
    scaling !== null
      ? parseRopeScaling(scaling, true, ropeContext)
      : ropeParams !== null
        ? parseRopeScaling(ropeParams, false, ropeContext)
        : null;
  const { layerAttention, slidingWindow } = parseLayerAttention(r, family, numLayers, maxPositionEmbeddings);
  const bos = r.idList('bos_token_id');
  if (bos.length > 1) throw r.fail('bos_token_id', 'expected a single token id');
  const rmsNormEps = r.optNum('rms_norm_eps', 1e-6);
  if (rmsNormEps <= 0) throw r.fail('rms_norm_eps', `expected a positive number, got ${rmsNormEps}`);

  const config: DecoderConfig = {
    architecture: arch.architecture,
    modelType: arch.modelType,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: r.int('intermediate_size'),
    rmsNormEps,
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings,
    // Gemma 3 and SmolLM3 configs may omit it; their config classes default to tied.
    tieWordEmbeddings: r.optBool('tie_word_embeddings', family === 'gemma3_text' || family === 'smollm3'),
    vocabSize: r.int('vocab_size'),
    attentionBias: r.optBool('attention_bias', arch.attentionBias),
    qkNorm: arch.qkNorm,
    rotaryDim,
    layerRope: parseLayerRope(r, family, numLayers),
    layerAttention,
    slidingWindow,
    slidingRopeTheta: family === 'gemma3_text' ? positive(r, 'rope_local_base_freq', 10000) : null,
    hiddenAct,
    fusedProjections: family === 'phi3',
    normUnitOffset: family === 'gemma3_text',
    sandwichNorms: family === 'gemma3_text',
    ...parseMultipliers(r, family, hiddenSize, headDim),
    bosTokenId: bos.length === 1 ? bos[0] : null,
    eosTokenIds: dedupe(r.idList('eos_token_id')),
  };
  const outside = (id: number): boolean => id >= config.vocabSize;
  const vocabNote = `is outside the vocabulary (vocab_size ${config.vocabSize})`;
  if (config.bosTokenId !== null && outside(config.bosTokenId)) throw r.fail('bos_token_id', `token id ${config.bosTokenId} ${vocabNote}`);
  const badEos = config.eosTokenIds.find(outside);
  if (badEos !== undefined) throw r.fail('eos_token_id', `token id ${badEos} ${vocabNote}`);
  return config;
}

type Family = DecoderConfig['modelType'];

function parseActivation(r: FieldReader, family: Family): HiddenActivation {
  // Gemma names the field `hidden_activation`; the others `hidden_act`.
  const field = family === 'gemma3_text' && r.has('hidden_activation') ? 'hidden_activation' : 'hidden_act';
  const act = r.optString(field) ?? (family === 'gemma3_text' ? 'gelu_pytorch_tanh' : 'silu');
  if (act === 'silu') return 'silu';
  if (act === 'gelu_pytorch_tanh' || act === 'gelu_new') return 'gelu_tanh';
  throw r.fail(field, `unsupported activation ${JSON.stringify(act)} (supported: silu, gelu_pytorch_tanh, gelu_new)`);
}

/** HF: int(head_dim · partial_rotary_factor) leading dimensions are rotated. */
function parseRotaryDim(r: FieldReader, headDim: number): number {
  const factor = r.optNum('partial_rotary_factor', 1);
  const rotaryDim = Math.floor(headDim * factor);
  if (factor <= 0 || factor > 1 || rotaryDim % 2 !== 0 || rotaryDim === 0) {
    throw r.fail('partial_rotary_factor', `${factor} × head_dim ${headDim} must be an even number of dimensions in (0, head_dim]`);
  }
  return rotaryDim;
}

/** SmolLM3: `no_rope_layers[i]` is 1 when layer i uses RoPE (default: every `no_rope_layer_interval`-th layer does not). */
function parseLayerRope(r: FieldReader, family: Family, numLayers: number): boolean[] {
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
function parseLayerAttention(r: FieldReader, family: Family, numLayers: number, maxPositionEmbeddings: number): { layerAttention: LayerAttention[]; slidingWindow: number | null } {
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

function parseMultipliers(r: FieldReader, family: Family, hiddenSize: number, headDim: number): Multipliers {
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

export function dedupe(ids: number[]): number[] {
  return [...new Set(ids)];
}

/** Parses `generation_config.json`; absent fields stay undefined. */
export function parseGenerationConfig(json: Json, file = 'generation_config.json'): GenerationDefaults {
  const r = new FieldReader(file, json);
  const out: GenerationDefaults = { eosTokenIds: dedupe(r.idList('eos_token_id')) };
  const doSample = r.optBool('do_sample', undefined);
  if (doSample !== undefined) out.doSample = doSample;
  const numbers: [keyof GenerationDefaults, string][] = [
    ['temperature', 'temperature'],
    ['topP', 'top_p'],
    ['minP', 'min_p'],
    ['repetitionPenalty', 'repetition_penalty'],
  ];
  for (const [key, field] of numbers) {
    const v = r.optNum(field, undefined);
    if (v !== undefined) (out as unknown as Record<string, number>)[key] = v;
  }
  if (r.has('top_k')) out.topK = r.int('top_k', { min: 0 });
  if (r.has('max_new_tokens')) out.maxNewTokens = r.int('max_new_tokens');
  return out;
}

/** Parses a BERT `config.json` (sentence-transformers checkpoints). */
export function parseEncoderConfig(json: Json, file = 'config.json'): EncoderConfig {
  const r = new FieldReader(file, json);
  const archs = r.raw('architectures');
  let architecture = 'BertModel';
  if (archs !== undefined && archs !== null) {
    if (!Array.isArray(archs) || typeof archs[0] !== 'string') throw r.fail('architectures', 'expected a non-empty list of class names');
    architecture = archs[0];
    if (!SUPPORTED_ENCODER_ARCHITECTURES.includes(architecture)) {
      throw r.fail('architectures', `unsupported encoder architecture ${JSON.stringify(archs)} (supported: ${SUPPORTED_ENCODER_ARCHITECTURES.join(', ')})`);
    }
  }
  const modelType = r.optString('model_type');
  if (modelType !== undefined && modelType !== 'bert') throw r.fail('model_type', `unsupported model_type ${JSON.stringify(modelType)} (only bert)`);
  const act = r.optString('hidden_act') ?? 'gelu';
  if (act !== 'gelu' && act !== 'gelu_new' && act !== 'relu') {
    throw r.fail('hidden_act', `unsupported activation ${JSON.stringify(act)} (supported: gelu, gelu_new, relu)`);
  }
  const posType = r.optString('position_embedding_type');
  if (posType !== undefined && posType !== 'absolute') {
    throw r.fail('position_embedding_type', `unsupported ${JSON.stringify(posType)} (only absolute)`);
  }
  const hiddenSize = r.int('hidden_size');
  const numHeads = r.int('num_attention_heads');
  if (hiddenSize % numHeads !== 0) throw r.fail('num_attention_heads', `${numHeads} does not divide hidden_size (${hiddenSize})`);
  return {
    architecture,
    modelType: 'bert',
    hiddenSize,
    numLayers: r.int('num_hidden_layers'),
    numHeads,
    intermediateSize: r.int('intermediate_size'),
    layerNormEps: r.optNum('layer_norm_eps', 1e-12),
    maxPositionEmbeddings: r.int('max_position_embeddings'),
    typeVocabSize: r.optInt('type_vocab_size', 2),
    vocabSize: r.int('vocab_size'),
    hiddenAct: act,
  };
}
