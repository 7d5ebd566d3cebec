// Hugging Face `config.json` / `generation_config.json` → the plain types in
// types.ts. Every rejection names the file and the field, because the person
// reading it is usually looking at that exact JSON file.

import {
  parseActivation,
  parseLayerAttention,
  parseLayerRope,
  parseLongRope,
  parseMultipliers,
  parseRotaryDim,
  type RopeContext,
} from './config-families.js';
import { ModelLoadError } from './errors.js';
import { FieldReader, positive, type Json } from './field-reader.js';
import type { DecoderConfig, EncoderClassifier, EncoderConfig, GenerationDefaults, RopeScaling } from './types.js';

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

interface EncoderArchitecture {
  modelTypes: EncoderConfig['modelType'][];
  classifier: EncoderClassifier['kind'] | null;
}

/** *ForMaskedLM checkpoints carry the same encoder weights (under a `bert.` / `roberta.` prefix). */
const ENCODER_ARCHITECTURES: Record<string, EncoderArchitecture> = {
  BertModel: { modelTypes: ['bert'], classifier: null },
  BertForMaskedLM: { modelTypes: ['bert'], classifier: null },
  BertForSequenceClassification: { modelTypes: ['bert'], classifier: 'bert-pooler' },
  RobertaModel: { modelTypes: ['roberta'], classifier: null },
  RobertaForMaskedLM: { modelTypes: ['roberta'], classifier: null },
  RobertaForSequenceClassification: { modelTypes: ['roberta'], classifier: 'roberta-head' },
  XLMRobertaModel: { modelTypes: ['xlm-roberta'], classifier: null },
  XLMRobertaForMaskedLM: { modelTypes: ['xlm-roberta'], classifier: null },
  XLMRobertaForSequenceClassification: { modelTypes: ['xlm-roberta'], classifier: 'roberta-head' },
};
export const SUPPORTED_ENCODER_ARCHITECTURES = Object.keys(ENCODER_ARCHITECTURES);
const ENCODER_MODEL_TYPES: EncoderConfig['modelType'][] = ['bert', 'roberta', 'xlm-roberta'];

/** sentence-transformers CrossEncoder `activation_fn` class names Serval applies. */
const SCORE_ACTIVATIONS: Record<string, EncoderClassifier['activation']> = {
  'torch.nn.modules.activation.Sigmoid': 'sigmoid',
  'torch.nn.modules.linear.Identity': 'identity',
};

function parseClassifier(r: FieldReader, kind: EncoderClassifier['kind']): EncoderClassifier {
  const labels = r.raw('id2label');
  const numLabels =
    labels !== undefined && labels !== null && typeof labels === 'object' ? Object.keys(labels).length : r.optInt('num_labels', 2);
  if (numLabels < 1) throw r.fail('id2label', 'expected at least one label');
  // CrossEncoder: `sentence_transformers.activation_fn` (v4), else `sbert_ce_default_activation_function` (older);
  // without either, Sigmoid for one label (what vLLM and TEI return as relevance_score).
  const st = r.nested('sentence_transformers');
  const field = st?.optString('activation_fn') !== undefined ? 'sentence_transformers.activation_fn' : 'sbert_ce_default_activation_function';
  const name = st?.optString('activation_fn') ?? r.optString('sbert_ce_default_activation_function');
  let activation: EncoderClassifier['activation'] = numLabels === 1 ? 'sigmoid' : 'identity';
  if (name !== undefined) {
    const known = SCORE_ACTIVATIONS[name];
    if (known === undefined) throw r.fail(field, `unsupported activation ${JSON.stringify(name)} (supported: ${Object.keys(SCORE_ACTIVATIONS).join(', ')})`);
    activation = known;
  }
  return { kind, numLabels, activation };
}

/** Parses a BERT / RoBERTa / XLM-RoBERTa `config.json` (sentence-transformers checkpoints, cross-encoders). */
export function parseEncoderConfig(json: Json, file = 'config.json'): EncoderConfig {
  const r = new FieldReader(file, json);
  const archs = r.raw('architectures');
  let architecture: string | null = null;
  if (archs !== undefined && archs !== null) {
    if (!Array.isArray(archs) || typeof archs[0] !== 'string') throw r.fail('architectures', 'expected a non-empty list of class names');
    architecture = archs[0];
    if (!(architecture in ENCODER_ARCHITECTURES)) {
      throw r.fail('architectures', `unsupported encoder architecture ${JSON.stringify(archs)} (supported: ${SUPPORTED_ENCODER_ARCHITECTURES.join(', ')})`);
    }
  }
  const modelTypeRaw = r.optString('model_type') ?? (architecture === null ? 'bert' : ENCODER_ARCHITECTURES[architecture].modelTypes[0]);
  const modelType = ENCODER_MODEL_TYPES.find((m) => m === modelTypeRaw);
  if (modelType === undefined) throw r.fail('model_type', `unsupported model_type ${JSON.stringify(modelTypeRaw)} (supported: ${ENCODER_MODEL_TYPES.join(', ')})`);
  const arch = architecture === null ? null : ENCODER_ARCHITECTURES[architecture];
  if (arch !== null && !arch.modelTypes.includes(modelType)) {
    throw r.fail('model_type', `${JSON.stringify(modelType)} does not match architecture ${architecture}`);
  }
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
  const maxPositionEmbeddings = r.int('max_position_embeddings');
  // RoBERTa's embedding module takes padding_idx = pad_token_id (1 in every published checkpoint).
  const positionPaddingIdx = modelType === 'bert' ? null : r.optInt('pad_token_id', 1, 0);
  if (positionPaddingIdx !== null && positionPaddingIdx + 1 >= maxPositionEmbeddings) {
    throw r.fail('pad_token_id', `${positionPaddingIdx} leaves no positions below max_position_embeddings (${maxPositionEmbeddings})`);
  }
  return {
    architecture: architecture ?? (modelType === 'bert' ? 'BertModel' : modelType === 'roberta' ? 'RobertaModel' : 'XLMRobertaModel'),
    modelType,
    hiddenSize,
    numLayers: r.int('num_hidden_layers'),
    numHeads,
    intermediateSize: r.int('intermediate_size'),
    layerNormEps: r.optNum('layer_norm_eps', 1e-12),
    maxPositionEmbeddings,
    typeVocabSize: r.optInt('type_vocab_size', 2),
    vocabSize: r.int('vocab_size'),
    hiddenAct: act,
    positionPaddingIdx,
    classifier: arch?.classifier == null ? null : parseClassifier(r, arch.classifier),
  };
}

/** Positions an encoder row may use: all of them for BERT, those above padding_idx for RoBERTa. */
export function encoderMaxTokens(c: EncoderConfig): number {
  return c.positionPaddingIdx === null ? c.maxPositionEmbeddings : c.maxPositionEmbeddings - c.positionPaddingIdx - 1;
}
