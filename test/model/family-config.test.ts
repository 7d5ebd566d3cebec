// config.json parsing of the families beyond Llama/Qwen (SmolLM3, Granite 3,
// Phi-3/Phi-4-mini, Gemma 3 text), from abridged published configs, and the
// family presets' config.json round trip (what make-model writes parses back
// to the preset).

import t from 'tap';
import { parseDecoderConfig } from '../../src/model/config.js';
import { FAMILY_PRESETS } from '../../src/model/testmodels/family-presets.js';
import { decoderConfigJson } from '../../src/model/testmodels/write-model.js';
import { expectLoadError } from './helpers.js';

// Abridged from the published config.json files (values as on the Hub).
const SMOLLM3_3B = {
  architectures: ['SmolLM3ForCausalLM'],
  attention_bias: false,
  bos_token_id: 128000,
  eos_token_id: 128012,
  hidden_act: 'silu',
  hidden_size: 2048,
  intermediate_size: 11008,
  max_position_embeddings: 65536,
  max_window_layers: 28,
  model_type: 'smollm3',
  no_rope_layer_interval: 4,
  no_rope_layers: Array.from({ length: 36 }, (_, i) => ((i + 1) % 4 === 0 ? 0 : 1)),
  num_attention_heads: 16,
  num_hidden_layers: 36,
  num_key_value_heads: 4,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 5000000.0,
  sliding_window: null,
  tie_word_embeddings: true,
  use_sliding_window: false,
  vocab_size: 128256,
};

const GRANITE_3_2B = {
  architectures: ['GraniteForCausalLM'],
  attention_bias: false,
  attention_multiplier: 0.015625,
  bos_token_id: 0,
  embedding_multiplier: 12.0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 2048,
  intermediate_size: 8192,
  logits_scaling: 8.0,
  max_position_embeddings: 4096,
  model_type: 'granite',
  num_attention_heads: 32,
  num_hidden_layers: 40,
  num_key_value_heads: 8,
  residual_multiplier: 0.22,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: true,
  vocab_size: 49155,
};

const PHI3_MINI_4K = {
  architectures: ['Phi3ForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 32000,
  hidden_act: 'silu',
  hidden_size: 3072,
  intermediate_size: 8192,
  max_position_embeddings: 4096,
  model_type: 'phi3',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  original_max_position_embeddings: 4096,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  sliding_window: 2047,
  tie_word_embeddings: false,
  vocab_size: 32064,
};

const PHI4_MINI = {
  ...decoderConfigJson(FAMILY_PRESETS['phi4-mini'], 'BF16'),
  hidden_size: 3072,
  intermediate_size: 8192,
  num_hidden_layers: 32,
  vocab_size: 200064,
  bos_token_id: 199999,
  eos_token_id: 200020,
  sliding_window: 262144,
  head_dim: undefined,
};

const GEMMA3_1B = {
  architectures: ['Gemma3ForCausalLM'],
  attention_bias: false,
  attn_logit_softcapping: null,
  bos_token_id: 2,
  eos_token_id: [1, 106],
  final_logit_softcapping: null,
  head_dim: 256,
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: 1152,
  intermediate_size: 6912,
  max_position_embeddings: 32768,
  model_type: 'gemma3_text',
  num_attention_heads: 4,
  num_hidden_layers: 26,
  num_key_value_heads: 1,
  pad_token_id: 0,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: 512,
  sliding_window_pattern: 6,
  vocab_size: 262144,
};

t.test('family presets: config.json parses back to the preset', async (t) => {
  for (const [name, preset] of Object.entries(FAMILY_PRESETS)) {
    // config.json names only the first end id; generation_config.json adds end-of-turn.
    t.same(parseDecoderConfig(JSON.parse(JSON.stringify(decoderConfigJson(preset, 'F32')))), { ...preset, eosTokenIds: preset.eosTokenIds.slice(0, 1) }, name);
  }
});

t.test('SmolLM3-3B: every 4th layer without RoPE, no sliding window', async (t) => {
  const c = parseDecoderConfig(SMOLLM3_3B);
  t.equal(c.modelType, 'smollm3');
  t.equal(c.headDim, 128);
  t.same(c.layerRope.slice(0, 8), [true, true, true, false, true, true, true, false]);
  t.equal(c.layerRope.filter((r) => !r).length, 9);
  t.ok(c.layerAttention.every((a) => a === 'full'));
  t.equal(c.tieWordEmbeddings, true);
  const { no_rope_layers: _, ...withoutList } = SMOLLM3_3B;
  t.same(parseDecoderConfig(withoutList).layerRope, c.layerRope, 'no_rope_layer_interval gives the same layers');
});

t.test('Granite 3.0 2B: multipliers', async (t) => {
  const c = parseDecoderConfig(GRANITE_3_2B);
  t.match(c, { modelType: 'granite', headDim: 64, embeddingMultiplier: 12, residualMultiplier: 0.22, attentionScale: 0.015625, logitsDivisor: 8 });
  t.equal(parseDecoderConfig({ ...GRANITE_3_2B, attention_multiplier: undefined }).attentionScale, 1, "GraniteConfig's default is 1");
});

t.test('Phi-3-mini-4k: fused projections, all layers slide with window 2047', async (t) => {
  const c = parseDecoderConfig(PHI3_MINI_4K);
  t.match(c, { modelType: 'phi3', fusedProjections: true, rotaryDim: 96, slidingWindow: 2047, ropeScaling: null });
  t.ok(c.layerAttention.every((a) => a === 'sliding'));
});

t.test('Phi-4-mini: partial rotary, LongRoPE with the HF attention factor, window beyond every position', async (t) => {
  const c = parseDecoderConfig(PHI4_MINI);
  t.equal(c.headDim, 128);
  t.equal(c.rotaryDim, 96);
  t.equal(c.slidingWindow, null);
  t.ok(c.layerAttention.every((a) => a === 'full'));
  if (c.ropeScaling?.type !== 'longrope') throw new Error('expected longrope');
  t.equal(c.ropeScaling.originalMaxPositionEmbeddings, 4096);
  t.ok(Math.abs(c.ropeScaling.attentionFactor - 1.1902380714238083) < 1e-12, `attention factor ${c.ropeScaling.attentionFactor}`);
  t.equal(c.ropeScaling.longFactor.at(-1), 47.77);
  const su = parseDecoderConfig({ ...PHI4_MINI, rope_scaling: { ...((PHI4_MINI as Record<string, unknown>).rope_scaling as object), type: 'su' } });
  t.same(su.ropeScaling, c.ropeScaling, '"su" is the older name of longrope');
  await expectLoadError(
    t,
    () => parseDecoderConfig({ ...PHI4_MINI, rope_scaling: { type: 'longrope', short_factor: [1, 1], long_factor: [1, 2] } }),
    'config.json',
    'rope_scaling.short_factor',
    /expected 48 positive numbers/,
  );
});

t.test('Gemma 3 1B: pattern of 5 sliding + 1 global, local RoPE base, scales', async (t) => {
  const c = parseDecoderConfig(GEMMA3_1B);
  t.equal(c.modelType, 'gemma3_text');
  t.same(c.layerAttention.slice(0, 12), [...Array(5).fill('sliding'), 'full', ...Array(5).fill('sliding'), 'full']);
  t.match(c, {
    slidingWindow: 512,
    slidingRopeTheta: 10000,
    ropeTheta: 1000000,
    hiddenAct: 'gelu_tanh',
    qkNorm: true,
    normUnitOffset: true,
    sandwichNorms: true,
    attentionScale: 1 / 16,
    finalLogitSoftcap: null,
    tieWordEmbeddings: true,
  });
  t.equal(c.embeddingMultiplier, Math.sqrt(1152));
  t.same(c.eosTokenIds, [1, 106]);
  const types = Array.from({ length: 26 }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention'));
  t.same(parseDecoderConfig({ ...GEMMA3_1B, layer_types: types }).layerAttention.slice(0, 4), ['sliding', 'full', 'sliding', 'full'], 'layer_types wins');
  t.equal(parseDecoderConfig({ ...GEMMA3_1B, final_logit_softcapping: 30 }).finalLogitSoftcap, 30);
  await expectLoadError(t, () => parseDecoderConfig({ ...GEMMA3_1B, attn_logit_softcapping: 50 }), 'config.json', 'attn_logit_softcapping', /not supported/);
  await expectLoadError(t, () => parseDecoderConfig({ ...GEMMA3_1B, layer_types: ['full_attention'] }), 'config.json', 'layer_types', /expected 26 entries/);
  await expectLoadError(t, () => parseDecoderConfig({ ...GEMMA3_1B, hidden_activation: 'relu' }), 'config.json', 'hidden_activation', /unsupported activation/);
});
