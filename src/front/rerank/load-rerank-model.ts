// Starts a rerank model (a cross-encoder): encoder workers with the
// classifier graph (they refuse a folder that is not a one-label
// *ForSequenceClassification), then the tokenizer and the batcher, sized by
// the same options as the embedding model.

import path from 'node:path';
import { readEmbeddingFolderInfo } from '../../model/embedding-folder.js';
import { TextTokenizer } from '../../tokenizer/tokenizer.js';
import { Admission } from '../admission.js';
import { EmbeddingBatcher } from '../embeddings/batcher.js';
import { EncoderPool } from '../embeddings/encoder-pool.js';
import { EMBEDDING_DEFAULTS, type EmbeddingModelOptions } from '../embeddings/load-embedding-model.js';
import { RerankBackend } from './rerank-backend.js';

export interface LoadedRerankModel {
  backend: RerankBackend;
  close(): Promise<void>;
}

export async function loadRerankModel(options: EmbeddingModelOptions): Promise<LoadedRerankModel> {
  const dir = path.resolve(options.modelDir);
  const workers = options.workers ?? EMBEDDING_DEFAULTS.workers;
  const pool = new EncoderPool(
    { modelDir: dir, executionProvider: options.executionProvider ?? 'cpu', intraOpThreads: options.intraOpThreads, spinning: options.spinning, task: 'rerank' },
    workers,
  );
  let batcher: EmbeddingBatcher | null = null;
  try {
    await pool.ready();
    const folder = await readEmbeddingFolderInfo(dir);
    const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath: folder.tokenizerJsonPath, tokenizerConfig: folder.tokenizerConfig });
    batcher = new EmbeddingBatcher((batch) => pool.run(batch), {
      windowMs: options.batchWindowMs ?? EMBEDDING_DEFAULTS.batchWindowMs,
      maxBatchInputs: options.maxBatchInputs ?? EMBEDDING_DEFAULTS.maxBatchInputs,
      maxBatchTokens: options.maxBatchTokens ?? EMBEDDING_DEFAULTS.maxBatchTokens,
      maxInFlight: workers,
    });
    const backend = new RerankBackend({
      id: options.servedName ?? path.basename(dir),
      created: Math.floor(Date.now() / 1000),
      tokenizer,
      maxSeqLength: folder.maxSeqLength,
      typeVocabSize: folder.typeVocabSize,
      // The workers refused anything but a cross-encoder, so the folder has a classifier.
      activation: folder.scoreActivation ?? 'sigmoid',
      batcher,
      // Its own budget (the same sizes as the embedding model's): the two models run on their own workers.
      admission: new Admission({
        maxConcurrency: options.maxTokensInFlight ?? EMBEDDING_DEFAULTS.maxTokensInFlight,
        maxQueue: options.maxQueue ?? EMBEDDING_DEFAULTS.maxQueue,
        unit: 'rerank tokens in flight',
      }),
    });
    const ownBatcher = batcher;
    return {
      backend,
      close: async () => {
        ownBatcher.close();
        await pool.close();
      },
    };
  } catch (error) {
    batcher?.close();
    await pool.close();
    throw error;
  }
}
