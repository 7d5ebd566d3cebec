// Starts an embedding model: the encoder workers first (they judge the model
// folder / ONNX export and report the embedding size), then the tokenizer,
// the batcher and the token budget on the front thread (encoder-serving.ts).

import path from 'node:path';
import type { EncoderInfo } from '../../worker/encoder/types.js';
import { EmbeddingBackend } from './embedding-backend.js';
import { EMBEDDING_DEFAULTS, startEncoderServing, type EmbeddingModelOptions } from './encoder-serving.js';

export interface LoadedEmbeddingModel {
  backend: EmbeddingBackend;
  info: EncoderInfo;
  close(): Promise<void>;
}

export async function loadEmbeddingModel(options: EmbeddingModelOptions): Promise<LoadedEmbeddingModel> {
  const serving = await startEncoderServing(options, 'embedding', 'embedding tokens in flight');
  const { folder } = serving;
  const backend = new EmbeddingBackend({
    id: options.servedName ?? path.basename(serving.dir),
    created: Math.floor(Date.now() / 1000),
    tokenizer: serving.tokenizer,
    // The embedding table's size bounds valid ids, whatever the tokenizer knows.
    vocabSize: folder.vocabSize,
    maxSeqLength: folder.maxSeqLength,
    dimensions: serving.info.dimensions,
    normalize: folder.normalize,
    batcher: serving.batcher,
    maxInputs: options.maxInputs ?? EMBEDDING_DEFAULTS.maxInputs,
    admission: serving.admission,
  });
  return { backend, info: serving.info, close: serving.close };
}
