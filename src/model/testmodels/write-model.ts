// Writes a generated test model in exactly the layout users download from the
// Hugging Face Hub, so the server's real loading path is what tests exercise.

import { mkdir } from 'node:fs/promises';
import type { DecoderConfig, RopeScaling, WeightDType } from '../types.js';
import { DECODER_PRESETS, ENCODER_PRESETS, decoderParamCount, isDecoderPreset, isEmbeddingDecoderPreset, presetTokens, type PresetName } from './presets.js';
import { randomDecoderWeights } from './random-weights.js';
import { buildDecoderTokenizerConfig, buildDecoderTokenizerJson } from './tokenizer-files.js';
import { QWEN3_EMBED } from './encoder-presets.js';
import { writeEmbeddingDecoder, writeEncoder } from './write-encoder-model.js';

export { encoderConfigJson } from './write-encoder-model.js';
import { DEFAULT_SEED, TORCH_DTYPE, writeJson, writeWeights, type WriteModelOptions } from './write-files.js';

export { DEFAULT_SEED, type WriteModelOptions } from './write-files.js';

export interface WrittenModel {
  dir: string;
  preset: PresetName;
  /** Paths relative to `dir`. */
  files: string[];
  paramCount: number;
  weightBytes: number;
}


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
  const written = isEmbeddingDecoderPreset(preset)
    ? await writeEmbeddingDecoder(outDir, decoderConfigJson(QWEN3_EMBED.config, dtype), opts, files)
    : await writeEncoder(ENCODER_PRESETS[preset], outDir, opts, files);
  return { dir: outDir, preset, files, ...written };
}
