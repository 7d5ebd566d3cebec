// config.json / generation_config.json parsing for each supported family,
// defaults, RoPE scaling spellings, and error messages naming file + field.

import t from 'tap';
import { parseDecoderConfig, parseEncoderConfig, parseGenerationConfig } from '../../src/model/config.js';
import { llamaBlock } from '../../src/model/llama-block.js';
import { expectLoadError } from './helpers.js';

// Abridged from the published configs of each family (values as on the Hub).
const LLAMA32_1B = {
  architectures: ['LlamaForCausalLM'],
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  vocab_size: 128256,
};

const MISTRAL_7B = {
  architectures: ['MistralForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  head_dim: null,
  hidden_act: 'silu',
  hidden_size: 4096,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: 'mistral',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 1000000.0,
  sliding_window: null,
  tie_word_embeddings: false,
  vocab_size: 32768,
};

const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 896,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000.0,
  tie_word_embeddings: true,
  vocab_size: 151936,
};

const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  vocab_size: 151936,
};

t.test('Llama 3.2 config', async (t) => {
  const c = parseDecoderConfig(LLAMA32_1B);
  t.same(c, {
    architecture: 'LlamaForCausalLM',
    modelType: 'llama',
    hiddenSize: 2048,
    numLayers: 16,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 64,
    intermediateSize: 8192,
    rmsNormEps: 1e-5,
    ropeTheta: 500000,
    ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    maxPositionEmbeddings: 131072,
    tieWordEmbeddings: true,
    vocabSize: 128256,
    attentionBias: false,
    qkNorm: false,
    ...llamaBlock(16, 64),
    bosTokenId: 128000,
    eosTokenIds: [128001, 128008, 128009],
  });
});

t.test('Mistral: head_dim null defaults to hidden/heads', async (t) => {
  const c = parseDecoderConfig(MISTRAL_7B);
  t.equal(c.modelType, 'mistral');
  t.equal(c.headDim, 128);
  t.same(c.eosTokenIds, [2]);
  t.equal(c.tieWordEmbeddings, false);
  t.equal(c.ropeScaling, null);
});

t.test('Qwen2 has q/k/v bias; Qwen3 has q/k norm and explicit head_dim', async (t) => {
  const q2 = parseDecoderConfig(QWEN25_05B);
  t.equal(q2.attentionBias, true);
  t.equal(q2.qkNorm, false);
  t.equal(q2.headDim, 64);
  const q3 = parseDecoderConfig(QWEN3_06B);
  t.equal(q3.attentionBias, false);
  t.equal(q3.qkNorm, true);
  t.equal(q3.headDim, 128, 'head_dim differs from hidden/heads (64)');
});

t.test('defaults and alternative spellings', async (t) => {
  const minimal = {
    model_type: 'llama',
    hidden_size: 64,
    intermediate_size: 100,
    num_hidden_layers: 1,
    num_attention_heads: 4,
    max_position_embeddings: 128,
    vocab_size: 300,
  };
  const c = parseDecoderConfig(minimal);
  t.equal(c.architecture, 'LlamaForCausalLM', 'architecture from model_type');
  t.equal(c.numKvHeads, 4, 'num_key_value_heads defaults to heads');
  t.equal(c.headDim, 16);
  t.equal(c.tieWordEmbeddings, false);
  t.equal(c.ropeTheta, 10000);
  t.equal(c.bosTokenId, null);
  t.same(c.eosTokenIds, []);
  const legacy = parseDecoderConfig({ ...minimal, rope_scaling: { type: 'linear', factor: 2 } });
  t.same(legacy.ropeScaling, { type: 'linear', factor: 2 }, '`type` key accepted');
  const modern = parseDecoderConfig({ ...minimal, rope_scaling: { rope_type: 'linear', factor: 3 } });
  t.same(modern.ropeScaling, { type: 'linear', factor: 3 }, '`rope_type` key accepted');
  t.equal(parseDecoderConfig({ ...minimal, rope_scaling: { rope_type: 'default' } }).ropeScaling, null);
  const v5 = parseDecoderConfig({ ...minimal, rope_parameters: { rope_type: 'default', rope_theta: 1234 } });
  t.equal(v5.ropeTheta, 1234, 'transformers v5 rope_parameters');
  t.equal(parseDecoderConfig({ ...minimal, attention_bias: true }).attentionBias, true);
  t.same(parseDecoderConfig({ ...minimal, eos_token_id: [5, 7, 5] }).eosTokenIds, [5, 7], 'deduplicated');
});

t.test('errors name config.json and the field', async (t) => {
  const base: Record<string, unknown> = { ...LLAMA32_1B };
  const without = (field: string): Record<string, unknown> => {
    const copy = { ...base };
    delete copy[field];
    return copy;
  };
  await expectLoadError(t, () => parseDecoderConfig(without('num_attention_heads')), 'config.json', 'num_attention_heads', /missing required integer field/);
  await expectLoadError(t, () => parseDecoderConfig(without('hidden_size')), 'config.json', 'hidden_size', /missing required integer field/);
  await expectLoadError(t, () => parseDecoderConfig({ ...base, num_hidden_layers: '16' }), 'config.json', 'num_hidden_layers', /expected an integer/);
  await expectLoadError(t, () => parseDecoderConfig({ ...base, num_key_value_heads: 5 }), 'config.json', 'num_key_value_heads', /does not divide/);
  await expectLoadError(
    t,
    () => parseDecoderConfig({ ...base, architectures: ['GPT2LMHeadModel'] }),
    'config.json',
    'architectures',
    /unsupported architecture \["GPT2LMHeadModel"\].*LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM/,
  );
  await expectLoadError(
    t,
    () => parseDecoderConfig({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } }),
    'config.json',
    'rope_scaling.rope_type',
    /unsupported RoPE scaling "yarn"/,
  );
  await expectLoadError(
    t,
    () => parseDecoderConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } }),
    'config.json',
    'rope_scaling.low_freq_factor',
    /missing/,
  );
  await expectLoadError(t, () => parseDecoderConfig({ ...base, hidden_act: 'gelu' }), 'config.json', 'hidden_act', /unsupported activation/);
  await expectLoadError(t, () => parseDecoderConfig({ ...base, eos_token_id: 'x' }), 'config.json', 'eos_token_id', /token id/);
  await expectLoadError(t, () => parseDecoderConfig({ ...base, eos_token_id: 999999 }), 'config.json', 'eos_token_id', /outside the vocabulary/);
});

t.test('generation_config.json', async (t) => {
  const g = parseGenerationConfig({ bos_token_id: 1, eos_token_id: [2, 9], do_sample: true, temperature: 0.6, top_p: 0.9, top_k: 20, repetition_penalty: 1.1, max_new_tokens: 256, min_p: 0.05 });
  t.same(g, { eosTokenIds: [2, 9], doSample: true, temperature: 0.6, topP: 0.9, topK: 20, repetitionPenalty: 1.1, maxNewTokens: 256, minP: 0.05 });
  t.same(parseGenerationConfig({ eos_token_id: 2 }), { eosTokenIds: [2] }, 'absent fields stay undefined');
  await expectLoadError(t, () => parseGenerationConfig({ temperature: 'hot' }), 'generation_config.json', 'temperature', /finite number/);
});

t.test('BERT encoder config', async (t) => {
  const json = {
    architectures: ['BertModel'],
    hidden_act: 'gelu',
    hidden_size: 384,
    intermediate_size: 1536,
    layer_norm_eps: 1e-12,
    max_position_embeddings: 512,
    model_type: 'bert',
    num_attention_heads: 12,
    num_hidden_layers: 6,
    position_embedding_type: 'absolute',
    type_vocab_size: 2,
    vocab_size: 30522,
  };
  t.same(parseEncoderConfig(json), {
    architecture: 'BertModel',
    modelType: 'bert',
    hiddenSize: 384,
    numLayers: 6,
    numHeads: 12,
    intermediateSize: 1536,
    layerNormEps: 1e-12,
    maxPositionEmbeddings: 512,
    typeVocabSize: 2,
    vocabSize: 30522,
    hiddenAct: 'gelu',
    positionPaddingIdx: null,
    classifier: null,
  });
  await expectLoadError(t, () => parseEncoderConfig({ ...json, model_type: 'roberta' }), 'config.json', 'model_type', /does not match architecture BertModel/);
  await expectLoadError(t, () => parseEncoderConfig({ ...json, architectures: undefined, model_type: 'distilbert' }), 'config.json', 'model_type', /unsupported/);
  await expectLoadError(t, () => parseEncoderConfig({ ...json, vocab_size: undefined }), 'config.json', 'vocab_size', /missing/);
});

t.test('XLM-R encoder and cross-encoder configs', async (t) => {
  // BAAI/bge-reranker-base config.json (the fields Serval reads).
  const reranker = {
    architectures: ['XLMRobertaForSequenceClassification'],
    model_type: 'xlm-roberta',
    hidden_act: 'gelu',
    hidden_size: 768,
    intermediate_size: 3072,
    layer_norm_eps: 1e-5,
    max_position_embeddings: 514,
    num_attention_heads: 12,
    num_hidden_layers: 12,
    pad_token_id: 1,
    type_vocab_size: 1,
    vocab_size: 250002,
    id2label: { '0': 'LABEL_0' },
    label2id: { LABEL_0: 0 },
  };
  const c = parseEncoderConfig(reranker);
  t.equal(c.modelType, 'xlm-roberta');
  t.equal(c.positionPaddingIdx, 1, 'positions start after padding_idx');
  t.same(c.classifier, { kind: 'roberta-head', numLabels: 1, activation: 'sigmoid' }, 'one label: sigmoid, as CrossEncoder defaults');
  const identity = parseEncoderConfig({ ...reranker, sentence_transformers: { activation_fn: 'torch.nn.modules.linear.Identity' } });
  t.equal(identity.classifier?.activation, 'identity', 'sentence_transformers.activation_fn is honoured');
  await expectLoadError(t, () => parseEncoderConfig({ ...reranker, sentence_transformers: { activation_fn: 'torch.nn.Tanh' } }), 'config.json', 'sentence_transformers.activation_fn', /unsupported activation/);
  const bert = parseEncoderConfig({ ...reranker, architectures: ['BertForSequenceClassification'], model_type: 'bert', type_vocab_size: 2, pad_token_id: 0 });
  t.same([bert.positionPaddingIdx, bert.classifier?.kind], [null, 'bert-pooler']);
  const base = parseEncoderConfig({ ...reranker, architectures: ['XLMRobertaModel'], id2label: undefined, label2id: undefined });
  t.equal(base.classifier, null, 'a base model has no head');
  await expectLoadError(t, () => parseEncoderConfig({ ...reranker, pad_token_id: 513 }), 'config.json', 'pad_token_id', /leaves no positions/);
});
