// The boundary between the front's embedding batcher and an encoder worker:
// plain data only (it crosses threads by structured clone).

import type { ExecutionProviderConfig } from '../types.js';

/** Everything an encoder worker needs to load its model; fixed for the worker's life. */
export interface EncoderWorkerConfig {
  modelDir: string;
  executionProvider: ExecutionProviderConfig;
  intraOpThreads: number;
  /** ORT intra-op spinning; off when other sessions (the chat model) share the cores. */
  spinning: boolean;
  /** What the model must be: sentence embeddings (an encoder or decoder body) or a cross-encoder's scores. */
  task: EncoderTaskKind;
}

export type EncoderTaskKind = 'embedding' | 'rerank';

/** One forward: B sequences, concatenated. Row b is ids[offsets[b] .. offsets[b+1]). */
export interface EncoderBatch {
  ids: Int32Array;
  /** B + 1 entries, offsets[0] = 0. */
  offsets: Int32Array;
  /** Segment ids, laid out as `ids` (BERT cross-encoder pairs); absent: all 0. */
  typeIds?: Int32Array;
}

export interface EncoderBatchResult {
  /** [B, dimensions] row-major: pooled and, when the model normalises, L2-normalised; a cross-encoder's logits [B, labels]. */
  embeddings: Float32Array;
  dimensions: number;
  /** Milliseconds inside session.run() (plus pooling in JS for hidden-state exports). */
  forwardMs: number;
}

/** Where the sentence embedding comes from. */
export type EmbeddingSource =
  /** Serval's own graph built from safetensors: pooling and normalisation in-graph. */
  | 'built-graph'
  /** Serval's decoder graph over a causal body (Qwen3-Embedding): last-token rows out, normalised in the worker. */
  | 'built-decoder-graph'
  /** Serval's encoder graph with the cross-encoder's classifier head: logits out. */
  | 'built-cross-encoder'
  /** An ONNX export with a `sentence_embedding` output. */
  | 'onnx-sentence-embedding'
  /** An ONNX export with only token-level hidden states; pooled in the worker. */
  | 'onnx-hidden-state';

/** What a worker reports once its model is loaded (answer to a probe batch). */
export interface EncoderInfo {
  source: EmbeddingSource;
  onnxPath: string | null;
  dimensions: number;
  /** Graph inputs the worker feeds. */
  inputNames: string[];
}

/** A task is either a forward or the load-time probe. */
export type EncoderTask = { kind: 'embed'; batch: EncoderBatch } | { kind: 'info' };
