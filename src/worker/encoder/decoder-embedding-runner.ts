// Runs a padded batch through a decoder body built with output 'hidden'
// (Qwen3-Embedding) and returns each row's last-token state, L2-normalised
// when the model has a Normalize module. The graph is the chat decoder's own
// (src/model/graph/decoder-graph.ts) with an empty KV cache: rows are
// right-padded, attention is causal, so a row's last real token sees exactly
// its own tokens, and logits_rows picks that token (last-token pooling) —
// the [B, S, H] states never leave ORT.

import ort from 'onnxruntime-node';
import { HIDDEN_STATES, INPUT_IDS, LOGITS_ROWS, NEW_LENS, PAST_LENS, POSITION_IDS, kvKeyInput, kvValueInput } from '../../model/graph/graph-io.js';
import type { DecoderConfig } from '../../model/types.js';
import type { BatchRunner } from './encoder-runner.js';
import { normalizeRows } from './pooling.js';
import type { EncoderBatch, EncoderBatchResult } from './types.js';

export class DecoderEmbeddingRunner implements BatchRunner {
  readonly inputNames: string[];
  private readonly emptyKv: Float32Array = new Float32Array(0);

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly config: DecoderConfig,
    private readonly normalize: boolean,
  ) {
    this.inputNames = [...session.inputNames];
  }

  async run(batch: EncoderBatch): Promise<EncoderBatchResult> {
    const rows = batch.offsets.length - 1;
    if (rows < 1) throw new Error('empty encoder batch');
    let seq = 1;
    const lengths = new Int32Array(rows);
    for (let b = 0; b < rows; b++) {
      lengths[b] = batch.offsets[b + 1] - batch.offsets[b];
      if (lengths[b] < 1) throw new Error(`encoder batch row ${b} is empty`);
      if (lengths[b] > seq) seq = lengths[b];
    }
    const ids = new BigInt64Array(rows * seq);
    const positions = new BigInt64Array(rows * seq);
    const newLens = new BigInt64Array(rows);
    const last = new BigInt64Array(rows);
    for (let b = 0; b < rows; b++) {
      for (let s = 0; s < seq; s++) {
        // Padding (id 0, a valid id) comes after the row's real tokens: causal attention keeps it out of them.
        ids[b * seq + s] = s < lengths[b] ? BigInt(batch.ids[batch.offsets[b] + s]) : 0n;
        positions[b * seq + s] = BigInt(s);
      }
      newLens[b] = BigInt(lengths[b]);
      last[b] = BigInt(b * seq + lengths[b] - 1);
    }
    const c = this.config;
    const feeds: Record<string, ort.Tensor> = {
      [INPUT_IDS]: new ort.Tensor('int64', ids, [rows, seq]),
      [POSITION_IDS]: new ort.Tensor('int64', positions, [rows, seq]),
      [PAST_LENS]: new ort.Tensor('int64', new BigInt64Array(rows), [rows]),
      [NEW_LENS]: new ort.Tensor('int64', newLens, [rows]),
      [LOGITS_ROWS]: new ort.Tensor('int64', last, [rows]),
    };
    for (let l = 0; l < c.numLayers; l++) {
      feeds[kvKeyInput(l)] = new ort.Tensor('float32', this.emptyKv, [rows, c.numKvHeads, 0, c.headDim]);
      feeds[kvValueInput(l)] = new ort.Tensor('float32', this.emptyKv, [rows, c.numKvHeads, 0, c.headDim]);
    }
    const started = performance.now();
    const out = (await this.session.run(feeds, [HIDDEN_STATES]))[HIDDEN_STATES];
    const embeddings = out.data as Float32Array;
    if (this.normalize) normalizeRows(embeddings, c.hiddenSize);
    return { embeddings, dimensions: c.hiddenSize, forwardMs: performance.now() - started };
  }
}
