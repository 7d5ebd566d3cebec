// A decoder-based embedding model folder (Qwen3-Embedding): a causal decoder
// body plus the sentence-transformers modules (last-token pooling, Normalize).
// The checkpoint is saved from the base model (Qwen3Model): tensors carry no
// `model.` prefix and there is no lm_head; config.json may name either the
// *Model or the *ForCausalLM class.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseDecoderConfig, SUPPORTED_DECODER_ARCHITECTURES } from './config.js';
import { checkDir, readJson, readOptionalJson, readSentenceConfig, requireTokenizerJson, validateTensors } from './folder.js';
import { RenamedWeightStore } from './renamed-weight-store.js';
import { openSafetensorsDir } from './safetensors.js';
import { decoderTensorSpecs } from './tensor-names.js';
import type { DecoderConfig, SentenceTransformerConfig, WeightStore } from './types.js';

export interface LoadedDecoderEmbeddingFolder {
  dir: string;
  config: DecoderConfig;
  sentence: SentenceTransformerConfig;
  weights: WeightStore;
  tokenizerJsonPath: string;
  tokenizerConfig: Record<string, unknown> | null;
}

/** The *ForCausalLM class a base-model class name stands for (Qwen3Model → Qwen3ForCausalLM), or the name itself. */
function causalArchitecture(name: string): string {
  const causal = name.replace(/Model$/, 'ForCausalLM');
  return SUPPORTED_DECODER_ARCHITECTURES.includes(causal) ? causal : name;
}

/** Whether config.json names a decoder architecture (so the folder is a decoder-based embedding model). */
export function isDecoderEmbeddingFolder(dirArg: string): boolean {
  const file = path.join(path.resolve(dirArg), 'config.json');
  if (!existsSync(file)) return false;
  const archs = readJson(file).architectures;
  return Array.isArray(archs) && typeof archs[0] === 'string' && SUPPORTED_DECODER_ARCHITECTURES.includes(causalArchitecture(archs[0]));
}

/** Reads base-model tensors (`embed_tokens.weight`) under the decoder graph's names (`model.embed_tokens.weight`). */
function baseModelStore(inner: WeightStore): WeightStore {
  return new RenamedWeightStore(
    inner,
    (name) => (inner.has(name) ? name : name.replace(/^model\./, '')),
    (name) => (name.startsWith('model.') ? name : `model.${name}`),
  );
}

export async function loadDecoderEmbeddingFolder(dirArg: string): Promise<LoadedDecoderEmbeddingFolder> {
  const dir = checkDir(dirArg);
  const configFile = path.join(dir, 'config.json');
  const json = readJson(configFile);
  const archs = json.architectures;
  const named = Array.isArray(archs) && typeof archs[0] === 'string' ? { ...json, architectures: [causalArchitecture(archs[0]), ...archs.slice(1)] } : json;
  const config = parseDecoderConfig(named, configFile);
  const sentence = readSentenceConfig(dir, config.maxPositionEmbeddings);
  const store = openSafetensorsDir(dir);
  const prefixed = store.has('model.embed_tokens.weight');
  // The body only: an embedding model has no use for lm_head, and base-model checkpoints have none.
  const specs = decoderTensorSpecs({ ...config, tieWordEmbeddings: true });
  validateTensors(store, prefixed ? specs : specs.map((s) => ({ ...s, name: s.name.replace(/^model\./, '') })));
  const tokenizerJsonPath = requireTokenizerJson(dir);
  const tokenizerConfig = readOptionalJson(path.join(dir, 'tokenizer_config.json'));
  return { dir, config, sentence, weights: prefixed ? store : baseModelStore(store), tokenizerJsonPath, tokenizerConfig };
}
