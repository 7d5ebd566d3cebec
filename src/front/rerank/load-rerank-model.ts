// Starts a rerank model (a cross-encoder): encoder workers with the
// classifier graph (they refuse a folder that is not a one-label
// *ForSequenceClassification), then the tokenizer, the batcher and a token
// budget of its own, sized by the same options as the embedding model.

import path from 'node:path';
import { startEncoderServing, type EmbeddingModelOptions } from '../embeddings/encoder-serving.js';
import { RerankBackend } from './rerank-backend.js';

export interface LoadedRerankModel {
  backend: RerankBackend;
  close(): Promise<void>;
}

export async function loadRerankModel(options: EmbeddingModelOptions): Promise<LoadedRerankModel> {
  const serving = await startEncoderServing(options, 'rerank', 'rerank tokens in flight');
  const { folder } = serving;
  const backend = new RerankBackend({
    id: options.servedName ?? path.basename(serving.dir),
    created: Math.floor(Date.now() / 1000),
    tokenizer: serving.tokenizer,
    maxSeqLength: folder.maxSeqLength,
    typeVocabSize: folder.typeVocabSize,
    // The workers refused anything but a cross-encoder, so the folder has a classifier.
    activation: folder.scoreActivation ?? 'sigmoid',
    batcher: serving.batcher,
    admission: serving.admission,
  });
  return { backend, close: serving.close };
}
