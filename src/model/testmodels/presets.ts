// Architecture presets for generated test models. Between them they exercise
// GQA, RoPE (plain and llama3-scaled), RMSNorm, SwiGLU, and tied and untied
// embeddings, at sizes from "fits in a unit test" to "worth benchmarking".

import type { DecoderConfig, EncoderConfig, SentenceTransformerConfig } from '../types.js';
import {
  ENCODER_FAMILY_PRESETS,
  ENCODER_FAMILY_PRESET_NAMES,
  type EmbeddingDecoderPresetName,
  type EncoderFamilyPresetName,
  type EncoderPreset,
} from './encoder-presets.js';
import { FAMILY_PRESETS, FAMILY_PRESET_NAMES, FAMILY_TOKENS, type FamilyPresetName } from './family-presets.js';
import { llamaBlock, type LlamaBlockFields } from '../llama-block.js';
import {
  BOS_TOKEN,
  END_OF_TURN_TOKEN,
  ENCODER_VOCAB_SIZE,
  EOS_TOKEN,
  GENERIC_TOKENS,
  decoderSpecialId,
  type DecoderTokens,
} from './special-tokens.js';

export type DecoderPresetName = 'tiny' | 'small' | 'bench' | 'bench-1b' | FamilyPresetName;
export type EncoderPresetName = 'encoder' | EncoderFamilyPresetName;
export type PresetName = DecoderPresetName | EncoderPresetName | EmbeddingDecoderPresetName;
export const PRESET_NAMES: readonly PresetName[] = ['tiny', 'small', 'bench', 'bench-1b', ...FAMILY_PRESET_NAMES, 'encoder', ...ENCODER_FAMILY_PRESET_NAMES, 'qwen3-embed'];

const BOS_ID = decoderSpecialId(BOS_TOKEN);
/** config.json carries only the end-of-text id; generation_config.json adds end-of-turn. */
const EOS_IDS = [decoderSpecialId(EOS_TOKEN), decoderSpecialId(END_OF_TURN_TOKEN)];

type LlamaFields = Omit<DecoderConfig, 'architecture' | 'modelType' | 'attentionBias' | 'qkNorm' | 'bosTokenId' | 'eosTokenIds' | 'rmsNormEps' | LlamaBlockFields>;

function llama(fields: LlamaFields): DecoderConfig {
  return {
    architecture: 'LlamaForCausalLM',
    modelType: 'llama',
    rmsNormEps: 1e-5,
    attentionBias: false,
    qkNorm: false,
    bosTokenId: BOS_ID,
    eosTokenIds: [...EOS_IDS],
    ...llamaBlock(fields.numLayers, fields.headDim),
    ...fields,
  };
}

export const DECODER_PRESETS: Record<DecoderPresetName, DecoderConfig> = {
  // ~0.12M params; tied embeddings; GQA 4:2.
  tiny: llama({
    hiddenSize: 64,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 16,
    intermediateSize: 172,
    ropeTheta: 10000,
    ropeScaling: null,
    maxPositionEmbeddings: 1024,
    tieWordEmbeddings: true,
    vocabSize: 512,
  }),
  // ~4.3M params; untied; GQA 8:2; llama3 RoPE scaling chosen so that, with
  // head_dim 32, some frequencies are kept, some divided by `factor` and some
  // fall in the smoothed band between (wavelengths 64..256).
  small: llama({
    hiddenSize: 256,
    numLayers: 4,
    numHeads: 8,
    numKvHeads: 2,
    headDim: 32,
    intermediateSize: 688,
    ropeTheta: 10000,
    ropeScaling: {
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 256,
    },
    maxPositionEmbeddings: 1024,
    tieWordEmbeddings: false,
    vocabSize: 3072,
  }),
  // ~56M params; untied; GQA 8:4; Llama-3-like vocabulary size and theta.
  bench: llama({
    hiddenSize: 512,
    numLayers: 8,
    numHeads: 8,
    numKvHeads: 4,
    headDim: 64,
    intermediateSize: 1376,
    ropeTheta: 500000,
    ropeScaling: null,
    maxPositionEmbeddings: 2048,
    tieWordEmbeddings: false,
    vocabSize: 32000,
  }),
  // ~1.04B params: Llama-3.2-1B's shape (tied, GQA 32:8, head_dim 64) with a 32k
  // vocabulary; for memory and load benchmarks only (4.2 GB as fp32).
  'bench-1b': llama({
    hiddenSize: 2048,
    numLayers: 16,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 64,
    intermediateSize: 8192,
    ropeTheta: 500000,
    ropeScaling: null,
    maxPositionEmbeddings: 2048,
    tieWordEmbeddings: true,
    vocabSize: 32000,
  }),
  ...FAMILY_PRESETS,
};

/** The special tokens and chat template of a decoder preset's tokenizer. */
export function presetTokens(name: DecoderPresetName): DecoderTokens {
  return name in FAMILY_TOKENS ? FAMILY_TOKENS[name as FamilyPresetName] : GENERIC_TOKENS;
}

export const ENCODER_PRESET: EncoderConfig = {
  architecture: 'BertModel',
  modelType: 'bert',
  hiddenSize: 64,
  numLayers: 2,
  numHeads: 4,
  intermediateSize: 128,
  layerNormEps: 1e-12,
  maxPositionEmbeddings: 128,
  typeVocabSize: 2,
  vocabSize: ENCODER_VOCAB_SIZE,
  hiddenAct: 'gelu',
  positionPaddingIdx: null,
  classifier: null,
};

export const ENCODER_SENTENCE_CONFIG: SentenceTransformerConfig = {
  pooling: 'mean',
  normalize: true,
  maxSeqLength: 128,
};

export const ENCODER_PRESETS: Record<EncoderPresetName, EncoderPreset> = {
  encoder: { config: ENCODER_PRESET, sentence: ENCODER_SENTENCE_CONFIG, tokenizer: 'wordpiece', activationFn: null },
  ...ENCODER_FAMILY_PRESETS,
};

export function isDecoderPreset(name: string): name is DecoderPresetName {
  return name in DECODER_PRESETS;
}

export function isEmbeddingDecoderPreset(name: string): name is EmbeddingDecoderPresetName {
  return name === 'qwen3-embed';
}

/** Total parameter count implied by a decoder config (for reports and sanity checks). */
export function decoderParamCount(c: DecoderConfig): number {
  const h = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  let perLayer = (c.sandwichNorms ? 4 : 2) * h; // input + post-attention (+ Gemma's pre/post-feedforward) norms
  perLayer += q * h + 2 * kv * h + h * q; // q, k, v, o
  if (c.attentionBias) perLayer += q + 2 * kv;
  if (c.qkNorm) perLayer += 2 * c.headDim;
  perLayer += 3 * h * c.intermediateSize;
  const embeddings = c.vocabSize * h * (c.tieWordEmbeddings ? 1 : 2);
  return embeddings + c.numLayers * perLayer + h;
}
