// Writes the generated embedding and rerank models: BERT / XLM-R encoders and
// cross-encoders, and the decoder-based embedding model, in the layout their
// real checkpoints have (config.json, tokenizer files, sentence-transformers
// modules for embedding models, safetensors under the checkpoint's names).

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { encoderMaxTokens } from '../config.js';
import { encoderWeightPrefix } from '../tensor-names.js';
import type { EncoderConfig, F32Tensor, SentenceTransformerConfig, WeightDType } from '../types.js';
import { QWEN3_EMBED, QWEN3_EMBED_QUERY_PROMPT, QWEN3_EMBED_TOKENS, type EncoderPreset } from './encoder-presets.js';
import { randomDecoderWeights, randomEncoderWeights } from './random-weights.js';
import { specialTokenId } from './special-tokens.js';
import { buildDecoderTokenizerConfig, buildDecoderTokenizerJson, buildEncoderTokenizerConfig, buildEncoderTokenizerJson } from './tokenizer-files.js';
import { buildUnigramTokenizerConfig, buildUnigramTokenizerJson } from './unigram-tokenizer.js';
import { DEFAULT_SEED, TORCH_DTYPE, writeJson, writeWeights, type WriteModelOptions } from './write-files.js';

export interface WrittenWeights {
  paramCount: number;
  weightBytes: number;
}

export function encoderConfigJson(c: EncoderConfig, dtype: WeightDType, activationFn: string | null = null): Record<string, unknown> {
  const roberta = c.positionPaddingIdx !== null;
  const head =
    c.classifier === null
      ? {}
      : {
          id2label: Object.fromEntries(Array.from({ length: c.classifier.numLabels }, (_, i) => [String(i), `LABEL_${i}`])),
          label2id: Object.fromEntries(Array.from({ length: c.classifier.numLabels }, (_, i) => [`LABEL_${i}`, i])),
          ...(c.classifier.kind === 'roberta-head' ? { classifier_dropout: null } : {}),
        };
  return {
    architectures: [c.architecture],
    model_type: c.modelType,
    attention_probs_dropout_prob: 0.1,
    ...(roberta ? { bos_token_id: 0, eos_token_id: 2 } : {}),
    hidden_act: c.hiddenAct,
    hidden_dropout_prob: 0.1,
    hidden_size: c.hiddenSize,
    ...head,
    initializer_range: 0.02,
    intermediate_size: c.intermediateSize,
    layer_norm_eps: c.layerNormEps,
    max_position_embeddings: c.maxPositionEmbeddings,
    num_attention_heads: c.numHeads,
    num_hidden_layers: c.numLayers,
    pad_token_id: c.positionPaddingIdx ?? 0,
    position_embedding_type: 'absolute',
    ...(activationFn === null ? {} : { sentence_transformers: { activation_fn: activationFn, version: '4.0.1' } }),
    torch_dtype: TORCH_DTYPE[dtype],
    type_vocab_size: c.typeVocabSize,
    use_cache: true,
    vocab_size: c.vocabSize,
  };
}

/** modules.json, 1_Pooling/config.json, 2_Normalize/, sentence_bert_config.json, config_sentence_transformers.json. */
async function writeSentenceModules(dir: string, dims: number, sentence: SentenceTransformerConfig, prompts: Record<string, string>, files: string[]): Promise<void> {
  const modules = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
  ];
  if (sentence.normalize) modules.push({ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' });
  await writeJson(dir, 'modules.json', modules, files);
  await writeJson(
    dir,
    '1_Pooling/config.json',
    {
      word_embedding_dimension: dims,
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
  if (sentence.normalize) await mkdir(path.join(dir, '2_Normalize'), { recursive: true });
  await writeJson(dir, 'sentence_bert_config.json', { max_seq_length: sentence.maxSeqLength, do_lower_case: false }, files);
  await writeJson(dir, 'config_sentence_transformers.json', { prompts, default_prompt_name: null, similarity_fn_name: 'cosine' }, files);
}

function count(weights: Map<string, F32Tensor>): number {
  let n = 0;
  for (const t of weights.values()) n += t.data.length;
  return n;
}

export async function writeEncoder(preset: EncoderPreset, dir: string, opts: WriteModelOptions, files: string[]): Promise<WrittenWeights> {
  const c = preset.config;
  const dtype = opts.dtype ?? 'F32';
  const maxLength = preset.sentence?.maxSeqLength ?? encoderMaxTokens(c);
  await writeJson(dir, 'config.json', encoderConfigJson(c, dtype, preset.activationFn), files);
  if (preset.tokenizer === 'unigram') {
    await writeJson(dir, 'tokenizer.json', buildUnigramTokenizerJson(c.vocabSize, maxLength), files);
    await writeJson(dir, 'tokenizer_config.json', buildUnigramTokenizerConfig(maxLength), files);
  } else {
    await writeJson(dir, 'tokenizer.json', buildEncoderTokenizerJson(c.vocabSize, maxLength), files);
    await writeJson(dir, 'tokenizer_config.json', buildEncoderTokenizerConfig(maxLength), files);
  }
  if (preset.sentence !== null) await writeSentenceModules(dir, c.hiddenSize, preset.sentence, {}, files);
  // On disk as transformers saves the architecture: *For* checkpoints prefix the encoder (and
  // BERT's pooler) with `bert.` / `roberta.`; the classifier head has no prefix.
  const prefix = encoderWeightPrefix(c);
  const weights = new Map<string, F32Tensor>();
  for (const [name, t] of randomEncoderWeights(c, opts.seed ?? DEFAULT_SEED)) weights.set(name.startsWith('classifier') ? name : prefix + name, t);
  return { paramCount: count(weights), weightBytes: await writeWeights(dir, weights, opts, files) };
}

/**
 * Qwen3-Embedding: config.json as the checkpoint ships it (Qwen3ForCausalLM), the
 * sentence-transformers modules (last-token pooling, Normalize, the query prompt),
 * a tokenizer whose post-processor appends <|endoftext|>, padding on the left, and
 * the Qwen3Model weights without the `model.` prefix or an lm_head.
 */
export async function writeEmbeddingDecoder(dir: string, configJson: Record<string, unknown>, opts: WriteModelOptions, files: string[]): Promise<WrittenWeights> {
  const { config, sentence } = QWEN3_EMBED;
  await writeJson(dir, 'config.json', configJson, files);
  const tokens = QWEN3_EMBED_TOKENS;
  const eot = tokens.pad;
  const eotId = specialTokenId(tokens, eot);
  const tokenizer = buildDecoderTokenizerJson(config.vocabSize, tokens);
  tokenizer.post_processor = {
    type: 'TemplateProcessing',
    single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eot, type_id: 0 } }],
    pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eot, type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: eot, type_id: 1 } }],
    special_tokens: { [eot]: { id: eot, ids: [eotId], tokens: [eot] } },
  };
  await writeJson(dir, 'tokenizer.json', tokenizer, files);
  await writeJson(dir, 'tokenizer_config.json', { ...buildDecoderTokenizerConfig(sentence.maxSeqLength, tokens), bos_token: null, chat_template: undefined, padding_side: 'left' }, files);
  await writeSentenceModules(dir, config.hiddenSize, sentence, { query: QWEN3_EMBED_QUERY_PROMPT, document: '' }, files);
  const weights = new Map<string, F32Tensor>();
  for (const [name, t] of randomDecoderWeights(config, opts.seed ?? DEFAULT_SEED)) weights.set(name.replace(/^model\./, ''), t);
  return { paramCount: count(weights), weightBytes: await writeWeights(dir, weights, opts, files) };
}
