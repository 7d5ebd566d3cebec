// Writes a generated test model in exactly the layout users download from the
// Hugging Face Hub, so the server's real loading path is what tests exercise.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeSafetensors, writeShardedSafetensors, type TensorToWrite } from '../safetensors.js';
import type { DecoderConfig, EncoderConfig, F32Tensor, RopeScaling, SentenceTransformerConfig, WeightDType } from '../types.js';
import {
  DECODER_PRESETS,
  ENCODER_PRESET,
  ENCODER_SENTENCE_CONFIG,
  decoderParamCount,
  isDecoderPreset,
  presetTokens,
  type PresetName,
} from './presets.js';
import { randomDecoderWeights, randomEncoderWeights } from './random-weights.js';
import {
  buildDecoderTokenizerConfig,
  buildDecoderTokenizerJson,
  buildEncoderTokenizerConfig,
  buildEncoderTokenizerJson,
} from './tokenizer-files.js';

export const DEFAULT_SEED = 1234;

export interface WriteModelOptions {
  seed?: number;
  dtype?: WeightDType;
  /** Split weights into shards of at most this many bytes (plus an index file). */
  shardBytes?: number;
}

export interface WrittenModel {
  dir: string;
  preset: PresetName;
  /** Paths relative to `dir`. */
  files: string[];
  paramCount: number;
  weightBytes: number;
}

const TORCH_DTYPE: Record<WeightDType, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const DTYPE_BYTES: Record<WeightDType, number> = { F32: 4, F16: 2, BF16: 2 };

function ropeScalingJson(s: RopeScaling | null): Record<string, unknown> | null {
  if (s === null) return null;
  switch (s.type) {
    case 'linear':
      return { rope_type: 'linear', factor: s.factor };
    case 'llama3':
      return {
        rope_type: 'llama3',
        factor: s.factor,
        low_freq_factor: s.lowFreqFactor,
        high_freq_factor: s.highFreqFactor,
        original_max_position_embeddings: s.originalMaxPositionEmbeddings,
      };
    case 'longrope':
      // As Phi-3 writes it: `type`, the factor lists; the original context is a top-level key.
      return { long_factor: s.longFactor, short_factor: s.shortFactor, type: 'longrope' };
  }
}

/** The keys only some families have, spelled as their checkpoints spell them. */
function familyConfigJson(c: DecoderConfig): Record<string, unknown> {
  const sliding = c.slidingWindow === null ? {} : { sliding_window: c.slidingWindow };
  switch (c.modelType) {
    case 'smollm3':
      return { no_rope_layers: c.layerRope.map((r) => (r ? 1 : 0)), no_rope_layer_interval: 4, use_sliding_window: false, sliding_window: null };
    case 'granite':
      return {
        embedding_multiplier: c.embeddingMultiplier,
        residual_multiplier: c.residualMultiplier,
        attention_multiplier: c.attentionScale,
        logits_scaling: c.logitsDivisor,
      };
    case 'phi3':
      return {
        partial_rotary_factor: c.rotaryDim / c.headDim,
        ...(c.ropeScaling?.type === 'longrope' ? { original_max_position_embeddings: c.ropeScaling.originalMaxPositionEmbeddings } : {}),
        ...sliding,
      };
    case 'gemma3_text':
      return {
        hidden_activation: 'gelu_pytorch_tanh',
        query_pre_attn_scalar: 1 / c.attentionScale ** 2,
        rope_local_base_freq: c.slidingRopeTheta,
        ...sliding,
        layer_types: c.layerAttention.map((a) => (a === 'sliding' ? 'sliding_attention' : 'full_attention')),
        final_logit_softcapping: c.finalLogitSoftcap,
        attn_logit_softcapping: null,
      };
    default:
      return {};
  }
}

/** HF `config.json` for a decoder, with the field names transformers writes. */
export function decoderConfigJson(c: DecoderConfig, dtype: WeightDType): Record<string, unknown> {
  return {
    architectures: [c.architecture],
    model_type: c.modelType,
    attention_bias: c.attentionBias,
    attention_dropout: 0.0,
    bos_token_id: c.bosTokenId,
    // config.json names only end-of-text; generation_config.json adds end-of-turn.
    eos_token_id: c.eosTokenIds[0],
    head_dim: c.headDim,
    ...(c.modelType === 'gemma3_text' ? {} : { hidden_act: c.hiddenAct === 'silu' ? 'silu' : 'gelu_pytorch_tanh' }),
    hidden_size: c.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: c.intermediateSize,
    max_position_embeddings: c.maxPositionEmbeddings,
    mlp_bias: false,
    num_attention_heads: c.numHeads,
    num_hidden_layers: c.numLayers,
    num_key_value_heads: c.numKvHeads,
    rms_norm_eps: c.rmsNormEps,
    rope_scaling: ropeScalingJson(c.ropeScaling),
    rope_theta: c.ropeTheta,
    tie_word_embeddings: c.tieWordEmbeddings,
    torch_dtype: TORCH_DTYPE[dtype],
    use_cache: true,
    vocab_size: c.vocabSize,
    ...familyConfigJson(c),
  };
}

export function encoderConfigJson(c: EncoderConfig, dtype: WeightDType): Record<string, unknown> {
  return {
    architectures: [c.architecture],
    model_type: c.modelType,
    attention_probs_dropout_prob: 0.1,
    hidden_act: c.hiddenAct,
    hidden_dropout_prob: 0.1,
    hidden_size: c.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: c.intermediateSize,
    layer_norm_eps: c.layerNormEps,
    max_position_embeddings: c.maxPositionEmbeddings,
    num_attention_heads: c.numHeads,
    num_hidden_layers: c.numLayers,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    torch_dtype: TORCH_DTYPE[dtype],
    type_vocab_size: c.typeVocabSize,
    use_cache: true,
    vocab_size: c.vocabSize,
  };
}

async function writeJson(dir: string, name: string, value: unknown, files: string[]): Promise<void> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(value, null, 2) + '\n');
  files.push(name);
}

async function writeWeights(
  dir: string,
  weights: Map<string, F32Tensor>,
  opts: WriteModelOptions,
  files: string[],
): Promise<number> {
  const dtype = opts.dtype ?? 'F32';
  const tensors = new Map<string, TensorToWrite>();
  let bytes = 0;
  for (const [name, t] of weights) {
    tensors.set(name, { dtype, shape: t.shape, data: t.data });
    bytes += t.data.length * DTYPE_BYTES[dtype];
  }
  const metadata = { format: 'pt' }; // what transformers writes; some loaders check it
  if (opts.shardBytes !== undefined) files.push(...(await writeShardedSafetensors(dir, tensors, opts.shardBytes, metadata)));
  else {
    await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, metadata);
    files.push('model.safetensors');
  }
  return bytes;
}

export async function writeTestModel(preset: PresetName, outDir: string, opts: WriteModelOptions = {}): Promise<WrittenModel> {
  const seed = opts.seed ?? DEFAULT_SEED;
  const dtype = opts.dtype ?? 'F32';
  await mkdir(outDir, { recursive: true });
  const files: string[] = [];
  if (isDecoderPreset(preset)) {
    const config = DECODER_PRESETS[preset];
    await writeJson(outDir, 'config.json', decoderConfigJson(config, dtype), files);
    const tokens = presetTokens(preset);
    await writeJson(outDir, 'generation_config.json', { bos_token_id: config.bosTokenId, eos_token_id: config.eosTokenIds }, files);
    await writeJson(outDir, 'tokenizer.json', buildDecoderTokenizerJson(config.vocabSize, tokens), files);
    await writeJson(outDir, 'tokenizer_config.json', buildDecoderTokenizerConfig(config.maxPositionEmbeddings, tokens), files);
    const weightBytes = await writeWeights(outDir, randomDecoderWeights(config, seed), opts, files);
    return { dir: outDir, preset, files, paramCount: decoderParamCount(config), weightBytes };
  }
  const config = ENCODER_PRESET;
  const sentence: SentenceTransformerConfig = ENCODER_SENTENCE_CONFIG;
  await writeJson(outDir, 'config.json', encoderConfigJson(config, dtype), files);
  await writeJson(outDir, 'tokenizer.json', buildEncoderTokenizerJson(config.vocabSize, sentence.maxSeqLength), files);
  await writeJson(outDir, 'tokenizer_config.json', buildEncoderTokenizerConfig(sentence.maxSeqLength), files);
  const modules = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
  ];
  if (sentence.normalize) modules.push({ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' });
  await writeJson(outDir, 'modules.json', modules, files);
  await writeJson(
    outDir,
    '1_Pooling/config.json',
    {
      word_embedding_dimension: config.hiddenSize,
      pooling_mode_cls_token: sentence.pooling === 'cls',
      pooling_mode_mean_tokens: sentence.pooling === 'mean',
      pooling_mode_max_tokens: sentence.pooling === 'max',
      pooling_mode_mean_sqrt_len_tokens: false,
      pooling_mode_weightedmean_tokens: false,
      pooling_mode_lasttoken: sentence.pooling === 'lasttoken',
      include_prompt: true,
    },
    files,
  );
  if (sentence.normalize) await mkdir(path.join(outDir, '2_Normalize'), { recursive: true });
  await writeJson(outDir, 'sentence_bert_config.json', { max_seq_length: sentence.maxSeqLength, do_lower_case: false }, files);
  await writeJson(outDir, 'config_sentence_transformers.json', { prompts: {}, default_prompt_name: null, similarity_fn_name: 'cosine' }, files);
  const weights = randomEncoderWeights(config, seed);
  const weightBytes = await writeWeights(outDir, weights, opts, files);
  let paramCount = 0;
  for (const t of weights.values()) paramCount += t.data.length;
  return { dir: outDir, preset, files, paramCount, weightBytes };
}
