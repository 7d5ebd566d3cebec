// What an embedding model and a rerank model both start with: encoder workers
// (they judge the folder / ONNX export first), the tokenizer, a batcher that
// shares forward passes across requests, and a token budget (a cost permit per
// request) that bounds what is being tokenized or encoded at once.

import path from 'node:path';
import { readEmbeddingFolderInfo, type EmbeddingFolderInfo } from '../../model/embedding-folder.js';
import { TextTokenizer } from '../../tokenizer/tokenizer.js';
import type { ExecutionProviderConfig } from '../../worker/types.js';
import type { EncoderInfo, EncoderTaskKind } from '../../worker/encoder/types.js';
import { Admission } from '../admission.js';
import { EmbeddingBatcher } from './batcher.js';
import { EncoderPool } from './encoder-pool.js';

export interface EmbeddingModelOptions {
  modelDir: string;
  /** Model id clients send; default: the folder name. */
  servedName?: string | null;
  /** Encoder worker threads, each with its own ORT session (default 1). */
  workers?: number;
  /** Intra-op threads per worker. */
  intraOpThreads: number;
  /** ORT spinning; turn off when a chat model shares the cores. */
  spinning: boolean;
  executionProvider?: ExecutionProviderConfig;
  /** How long an input may wait for others to share its batch (default 2 ms). */
  batchWindowMs?: number;
  /** Rows per forward (default 64). */
  maxBatchInputs?: number;
  /** Padded positions (rows × longest row) per forward (default 8192). */
  maxBatchTokens?: number;
  /** Inputs per request (default 2048); more → 400. */
  maxInputs?: number;
  /** Tokens admitted at once over all requests (default 262144): the memory bound. */
  maxTokensInFlight?: number;
  /** Requests waiting for that budget before 429 (default 64). */
  maxQueue?: number;
}

export const EMBEDDING_DEFAULTS = {
  workers: 1,
  batchWindowMs: 2,
  maxBatchInputs: 64,
  maxBatchTokens: 8192,
  maxInputs: 2048,
  maxTokensInFlight: 262_144,
  maxQueue: 64,
} as const;

export interface EncoderServing {
  dir: string;
  info: EncoderInfo;
  folder: EmbeddingFolderInfo;
  tokenizer: TextTokenizer;
  batcher: EmbeddingBatcher;
  admission: Admission;
  close(): Promise<void>;
}

/** Starts the workers, then the tokenizer, batcher and budget; on failure closes what had started. */
export async function startEncoderServing(options: EmbeddingModelOptions, task: EncoderTaskKind, unit: string): Promise<EncoderServing> {
  const dir = path.resolve(options.modelDir);
  const workers = options.workers ?? EMBEDDING_DEFAULTS.workers;
  const pool = new EncoderPool(
    { modelDir: dir, executionProvider: options.executionProvider ?? 'cpu', intraOpThreads: options.intraOpThreads, spinning: options.spinning, task },
    workers,
  );
  let batcher: EmbeddingBatcher | null = null;
  try {
    const info = await pool.ready();
    const folder = await readEmbeddingFolderInfo(dir);
    const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath: folder.tokenizerJsonPath, tokenizerConfig: folder.tokenizerConfig });
    const ownBatcher = new EmbeddingBatcher((batch) => pool.run(batch), {
      windowMs: options.batchWindowMs ?? EMBEDDING_DEFAULTS.batchWindowMs,
      maxBatchInputs: options.maxBatchInputs ?? EMBEDDING_DEFAULTS.maxBatchInputs,
      maxBatchTokens: options.maxBatchTokens ?? EMBEDDING_DEFAULTS.maxBatchTokens,
      // One batch per worker: later arrivals wait in the pending set, where they are sorted into
      // the next batch; the round trip between batches is well under a millisecond.
      maxInFlight: workers,
    });
    batcher = ownBatcher;
    const admission = new Admission({
      maxConcurrency: options.maxTokensInFlight ?? EMBEDDING_DEFAULTS.maxTokensInFlight,
      maxQueue: options.maxQueue ?? EMBEDDING_DEFAULTS.maxQueue,
      unit,
    });
    return {
      dir,
      info,
      folder,
      tokenizer,
      batcher: ownBatcher,
      admission,
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
