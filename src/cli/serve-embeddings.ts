// `serval serve` glue for the embedding model: which folder to serve (the
// flags' defaulting rules live here) and how its workers are sized.

import { defaultThreads, type ServeOptions } from './serve-options.js';
import type { EmbeddingModelOptions } from '../front/embeddings/encoder-serving.js';
import type { DefaultModelPaths } from '../model/testmodels/default-model.js';
import type { ExecutionProviderConfig } from '../worker/types.js';

/**
 * The embedding model folder, or null for none:
 * --embedding-model DIR → DIR; 'none' → none; absent → the built-in encoder
 * when --model is absent (plain `npm start` serves both built-ins) or 'none'
 * (embeddings only), else none.
 */
export function embeddingModelDir(options: Pick<ServeOptions, 'model' | 'embeddingModel'>, defaults: DefaultModelPaths | null): string | null {
  if (options.embeddingModel === 'none') return null;
  if (options.embeddingModel !== null) return options.embeddingModel;
  if (options.model !== null && options.model !== 'none') return null;
  if (defaults === null) throw new Error('the built-in encoder is needed but the default models were not prepared');
  return defaults.embedModelDir;
}

/** Whether serving needs the generated default models at all. */
export function needsDefaultModels(options: Pick<ServeOptions, 'model' | 'embeddingModel'>): boolean {
  return options.model === null || (options.model === 'none' && options.embeddingModel === null);
}

/** The embedding model's options from the flags. */
export function embeddingModelOptions(options: ServeOptions, dir: string, executionProvider: ExecutionProviderConfig): EmbeddingModelOptions {
  return {
    modelDir: dir,
    servedName: options.embeddingModelName,
    workers: options.embeddingWorkers,
    intraOpThreads: options.embeddingThreads ?? defaultThreads(options.embeddingWorkers),
    // Off: spinning buys ~nothing on a quiet machine but costs 3-4x
    // when anything else (the chat engine, another process) wants the cores.
    spinning: false,
    executionProvider,
    batchWindowMs: options.embeddingBatchWindowMs,
    maxBatchInputs: options.embeddingMaxBatch,
    maxBatchTokens: options.embeddingMaxBatchTokens,
    maxInputs: options.maxEmbeddingInputs,
    maxTokensInFlight: options.embeddingTokenBudget,
    maxQueue: options.embeddingMaxQueue,
  };
}
