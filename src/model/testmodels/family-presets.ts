// Family presets: generated models with the published shape of a real checkpoint
// of each family added beside Llama/Qwen (config.json keys, tensor names, head
// geometry, RoPE settings, windows and multipliers as the checkpoint has them),
// so what loads these loads the downloaded checkpoint too. Reduced, with reason:
// - fewer layers, chosen so each preset still has every kind of layer its family
//   mixes (SmolLM3: a no-RoPE layer is every 4th; Gemma 3: sliding and global);
// - hidden and intermediate size of SmolLM3-3B, Granite-3-2B and Phi-4-mini (one
//   real layer is 60–100M parameters, 240–400 MB in fp32: building the graph, the
//   session and the float64 reference forward would take minutes per test);
//   head_dim is then written out explicitly, as HF reads it. Gemma 3 keeps the
//   real hidden and intermediate size of gemma-3-270m;
// - the vocabulary (4096 instead of 49k–262k): the generated BPE tokenizer is
//   trained on a small corpus, and a real-size embedding would dominate the file
//   (262144 × 640 fp32 = 670 MB) and the reference's lm_head time.

import type { DecoderConfig } from '../types.js';
import { llamaBlock } from '../llama-block.js';
import { GENERIC_TOKENS, specialTokenId, type DecoderTokens } from './special-tokens.js';

export type FamilyPresetName = 'smollm3' | 'granite3' | 'phi4-mini' | 'gemma3';
export const FAMILY_PRESET_NAMES: readonly FamilyPresetName[] = ['smollm3', 'granite3', 'phi4-mini', 'gemma3'];

const FAMILY_VOCAB = 4096;

/** Gemma 3's chat template as google/gemma-3-1b-it (and the other -it checkpoints) ship it in tokenizer_config.json. */
const GEMMA3_CHAT_TEMPLATE = '{{ bos_token }}\n{%- if messages[0][\'role\'] == \'system\' -%}\n    {%- if messages[0][\'content\'] is string -%}\n        {%- set first_user_prefix = messages[0][\'content\'] + \'\\n\\n\' -%}\n    {%- else -%}\n        {%- set first_user_prefix = messages[0][\'content\'][0][\'text\'] + \'\\n\\n\' -%}\n    {%- endif -%}\n    {%- set loop_messages = messages[1:] -%}\n{%- else -%}\n    {%- set first_user_prefix = \"\" -%}\n    {%- set loop_messages = messages -%}\n{%- endif -%}\n{%- for message in loop_messages -%}\n    {%- if (message[\'role\'] == \'user\') != (loop.index0 % 2 == 0) -%}\n        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n    {%- endif -%}\n    {%- if (message[\'role\'] == \'assistant\') -%}\n        {%- set role = \"model\" -%}\n    {%- else -%}\n        {%- set role = message[\'role\'] -%}\n    {%- endif -%}\n    {{ \'<start_of_turn>\' + role + \'\\n\' + (first_user_prefix if loop.first else \"\") }}\n    {%- if message[\'content\'] is string -%}\n        {{ message[\'content\'] | trim }}\n    {%- elif message[\'content\'] is iterable -%}\n        {%- for item in message[\'content\'] -%}\n            {%- if item[\'type\'] == \'image\' -%}\n                {{ \'<start_of_image>\' }}\n            {%- elif item[\'type\'] == \'text\' -%}\n                {{ item[\'text\'] | trim }}\n            {%- endif -%}\n        {%- endfor -%}\n    {%- else -%}\n        {{ raise_exception(\"Invalid content type\") }}\n    {%- endif -%}\n    {{ \'<end_of_turn>\\n\' }}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n    {{\'<start_of_turn>model\\n\'}}\n{%- endif -%}\n';

/** Phi-4-mini's chat template, from microsoft/Phi-4-mini-instruct tokenizer_config.json (../shared/models/tokenizers/chat-templates). */
const PHI4_MINI_CHAT_TEMPLATE = '{% for message in messages %}{% if message[\'role\'] == \'system\' and \'tools\' in message and message[\'tools\'] is not none %}{{ \'<|\' + message[\'role\'] + \'|>\' + message[\'content\'] + \'<|tool|>\' + message[\'tools\'] + \'<|/tool|>\' + \'<|end|>\' }}{% else %}{{ \'<|\' + message[\'role\'] + \'|>\' + message[\'content\'] + \'<|end|>\' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ \'<|assistant|>\' }}{% else %}{{ eos_token }}{% endif %}';

const GEMMA3_TOKENS: DecoderTokens = {
  specials: ['<pad>', '<eos>', '<bos>', '<unk>', '<start_of_turn>', '<end_of_turn>', '<start_of_image>'],
  bos: '<bos>',
  eos: '<eos>',
  endOfTurn: '<end_of_turn>',
  pad: '<pad>',
  addBos: true,
  chatTemplate: GEMMA3_CHAT_TEMPLATE,
};

const PHI4_MINI_TOKENS: DecoderTokens = {
  specials: ['<|endoftext|>', '<|system|>', '<|user|>', '<|assistant|>', '<|end|>', '<|tool|>', '<|/tool|>', '<|tool_call|>', '<|/tool_call|>'],
  bos: '<|endoftext|>',
  eos: '<|endoftext|>',
  endOfTurn: '<|end|>',
  pad: '<|endoftext|>',
  addBos: false,
  chatTemplate: PHI4_MINI_CHAT_TEMPLATE,
};

export const FAMILY_TOKENS: Record<FamilyPresetName, DecoderTokens> = {
  // SmolLM3 and Granite 3 templates are not among the templates at hand; they keep the generic ChatML one.
  smollm3: GENERIC_TOKENS,
  granite3: GENERIC_TOKENS,
  'phi4-mini': PHI4_MINI_TOKENS,
  gemma3: GEMMA3_TOKENS,
};

/** bos and the end ids (config.json names eos; generation_config.json adds end-of-turn). */
function ids(tokens: DecoderTokens): Pick<DecoderConfig, 'bosTokenId' | 'eosTokenIds'> {
  return { bosTokenId: specialTokenId(tokens, tokens.bos), eosTokenIds: [specialTokenId(tokens, tokens.eos), specialTokenId(tokens, tokens.endOfTurn)] };
}

/** HuggingFaceTB/SmolLM3-3B: GQA 16:4, head_dim 128, θ 5e6, no RoPE in every 4th layer (no_rope_layers). */
const SMOLLM3: DecoderConfig = {
  architecture: 'SmolLM3ForCausalLM',
  modelType: 'smollm3',
  ...llamaBlock(4, 128),
  hiddenSize: 256,
  numLayers: 4,
  numHeads: 16,
  numKvHeads: 4,
  headDim: 128,
  intermediateSize: 1376,
  rmsNormEps: 1e-6,
  ropeTheta: 5000000,
  ropeScaling: null,
  maxPositionEmbeddings: 65536,
  tieWordEmbeddings: true,
  vocabSize: FAMILY_VOCAB,
  attentionBias: false,
  qkNorm: false,
  layerRope: [true, true, true, false],
  ...ids(GENERIC_TOKENS),
};

/** ibm-granite/granite-3.0-2b-instruct: GQA 32:8, head_dim 64, and its four multipliers. */
const GRANITE3: DecoderConfig = {
  architecture: 'GraniteForCausalLM',
  modelType: 'granite',
  ...llamaBlock(2, 64),
  hiddenSize: 256,
  numLayers: 2,
  numHeads: 32,
  numKvHeads: 8,
  headDim: 64,
  intermediateSize: 1024,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  maxPositionEmbeddings: 4096,
  tieWordEmbeddings: true,
  vocabSize: FAMILY_VOCAB,
  attentionBias: false,
  qkNorm: false,
  embeddingMultiplier: 12,
  residualMultiplier: 0.22,
  attentionScale: 0.015625,
  logitsDivisor: 8,
  ...ids(GENERIC_TOKENS),
};

/** microsoft/Phi-4-mini-instruct rope_scaling.long_factor (short_factor is all 1). */
const PHI4_MINI_LONG_FACTOR = [
  1, 1.118320672, 1.250641126, 1.398617824, 1.564103225, 1.74916897, 1.956131817, 2.187582649, 2.446418898, 2.735880826,
  3.059592084, 3.421605075, 3.826451687, 4.279200023, 4.785517845, 5.351743533, 5.984965424, 6.693110555, 7.485043894,
  8.370679318, 9.36110372, 10.4687158, 11.70738129, 13.09260651, 14.64173252, 16.37415215, 18.31155283, 20.47818807,
  22.90118105, 25.61086418, 28.64115884, 32.03, 32.1, 32.13, 32.23, 32.6, 32.61, 32.64, 32.66, 32.7, 32.71, 32.93, 32.97,
  33.28, 33.49, 33.5, 44.16, 47.77,
];

/**
 * microsoft/Phi-4-mini-instruct: fused qkv_proj / gate_up_proj, GQA 24:8, head_dim 128 of which
 * 96 rotated (partial_rotary_factor 0.75), LongRoPE switching at 4096 of 131072 positions.
 * Its sliding_window (262144) exceeds every position, so no layer slides.
 */
const PHI4_MINI: DecoderConfig = {
  architecture: 'Phi3ForCausalLM',
  modelType: 'phi3',
  ...llamaBlock(2, 128),
  hiddenSize: 256,
  numLayers: 2,
  numHeads: 24,
  numKvHeads: 8,
  headDim: 128,
  intermediateSize: 768,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: {
    type: 'longrope',
    shortFactor: new Array<number>(48).fill(1),
    longFactor: PHI4_MINI_LONG_FACTOR,
    originalMaxPositionEmbeddings: 4096,
    // HF default: √(1 + ln(131072 / 4096) / ln 4096).
    attentionFactor: Math.sqrt(1 + Math.log(131072 / 4096) / Math.log(4096)),
  },
  maxPositionEmbeddings: 131072,
  tieWordEmbeddings: true,
  vocabSize: FAMILY_VOCAB,
  attentionBias: false,
  qkNorm: false,
  rotaryDim: 96,
  fusedProjections: true,
  ...ids(PHI4_MINI_TOKENS),
};

/**
 * google/gemma-3-270m: hidden 640, MLP 2048, MQA 4:1 with head_dim 256, a 512-position
 * sliding window on five layers of six (θ 10000) and global layers (θ 1e6), q/k norms,
 * (1 + w) norms around attention and MLP, gelu-tanh, √hidden embedding scale,
 * query_pre_attn_scalar 256. Two layers: one sliding, one global.
 */
const GEMMA3: DecoderConfig = {
  architecture: 'Gemma3ForCausalLM',
  modelType: 'gemma3_text',
  ...llamaBlock(2, 256),
  hiddenSize: 640,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 1,
  headDim: 256,
  intermediateSize: 2048,
  rmsNormEps: 1e-6,
  ropeTheta: 1000000,
  ropeScaling: null,
  maxPositionEmbeddings: 32768,
  tieWordEmbeddings: true,
  vocabSize: FAMILY_VOCAB,
  attentionBias: false,
  qkNorm: true,
  layerAttention: ['sliding', 'full'],
  slidingWindow: 512,
  slidingRopeTheta: 10000,
  hiddenAct: 'gelu_tanh',
  normUnitOffset: true,
  sandwichNorms: true,
  embeddingMultiplier: Math.sqrt(640),
  attentionScale: 1 / Math.sqrt(256),
  ...ids(GEMMA3_TOKENS),
};

export const FAMILY_PRESETS: Record<FamilyPresetName, DecoderConfig> = {
  smollm3: SMOLLM3,
  granite3: GRANITE3,
  'phi4-mini': PHI4_MINI,
  gemma3: GEMMA3,
};
