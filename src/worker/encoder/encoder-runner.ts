// Runs one padded batch through an encoder session and returns its sentence
// embeddings. Inputs are built once per batch as int64/int32 tensors over
// fresh (non-shared) buffers: the binding wraps them without copying and
// rejects SharedArrayBuffer views.

import ort from 'onnxruntime-node';
import type { PoolingMode } from '../../model/types.js';
import type { FeedPlan, IdType } from './onnx-export.js';
import { normalizeRows, poolBatch } from './pooling.js';
import type { EncoderBatch, EncoderBatchResult } from './types.js';

export interface EncoderHeadPlan {
  pooling: PoolingMode;
  /** L2-normalise in the worker (idempotent when the graph already did). */
  normalize: boolean;
}

/** Id used for padding positions; any valid id works because the mask hides them. */
const PAD_ID = 0;

/** What a worker runs a batch with: the encoder runner, or the decoder-embedding runner. */
export interface BatchRunner {
  readonly inputNames: string[];
  run(batch: EncoderBatch): Promise<EncoderBatchResult>;
}

export class EncoderRunner implements BatchRunner {
  constructor(
    private readonly session: ort.InferenceSession,
    private readonly plan: FeedPlan,
    private readonly head: EncoderHeadPlan,
  ) {}

  get inputNames(): string[] {
    const p = this.plan;
    return [p.inputIds, p.attentionMask, p.tokenTypeIds, p.positionIds].filter((x) => x !== null).map((x) => x.name);
  }

  async run(batch: EncoderBatch): Promise<EncoderBatchResult> {
    const rows = batch.offsets.length - 1;
    if (rows < 1) throw new Error('empty encoder batch');
    const lengths = new Int32Array(rows);
    let seq = 1;
    for (let b = 0; b < rows; b++) {
      lengths[b] = batch.offsets[b + 1] - batch.offsets[b];
      if (lengths[b] < 1) throw new Error(`encoder batch row ${b} is empty`);
      if (lengths[b] > seq) seq = lengths[b];
    }
    const p = this.plan;
    const feeds: Record<string, ort.Tensor> = {};
    feeds[p.inputIds.name] = idTensor(p.inputIds.type, rows, seq, (b, s) => (s < lengths[b] ? batch.ids[batch.offsets[b] + s] : PAD_ID));
    if (p.attentionMask) feeds[p.attentionMask.name] = idTensor(p.attentionMask.type, rows, seq, (b, s) => (s < lengths[b] ? 1 : 0));
    const types = batch.typeIds;
    if (p.tokenTypeIds) feeds[p.tokenTypeIds.name] = idTensor(p.tokenTypeIds.type, rows, seq, (b, s) => (types !== undefined && s < lengths[b] ? types[batch.offsets[b] + s] : 0));
    if (p.positionIds) feeds[p.positionIds.name] = idTensor(p.positionIds.type, rows, seq, (_b, s) => s);

    const started = performance.now();
    // Fetch only the one output: every fetched tensor is copied into a fresh ArrayBuffer.
    const result = await this.session.run(feeds, [p.output.name]);
    const out = result[p.output.name];
    const data = out.data as Float32Array;
    const dims = Number(out.dims[out.dims.length - 1]);
    let embeddings: Float32Array;
    if (p.output.kind === 'hidden') {
      if (out.dims.length !== 3 || out.dims[0] !== rows || out.dims[1] !== seq) {
        throw new Error(`${p.output.name}: expected [${rows}, ${seq}, H], got [${out.dims.join(', ')}]`);
      }
      embeddings = poolBatch(data, lengths, seq, dims, this.head.pooling);
    } else {
      if (out.dims.length !== 2 || out.dims[0] !== rows) throw new Error(`${p.output.name}: expected [${rows}, H], got [${out.dims.join(', ')}]`);
      embeddings = data;
    }
    if (this.head.normalize) normalizeRows(embeddings, dims);
    return { embeddings, dimensions: dims, forwardMs: performance.now() - started };
  }
}

function idTensor(type: IdType, rows: number, seq: number, value: (b: number, s: number) => number): ort.Tensor {
  if (type === 'int64') {
    const data = new BigInt64Array(rows * seq);
    for (let b = 0; b < rows; b++) for (let s = 0; s < seq; s++) data[b * seq + s] = BigInt(value(b, s));
    return new ort.Tensor('int64', data, [rows, seq]);
  }
  const data = new Int32Array(rows * seq);
  for (let b = 0; b < rows; b++) for (let s = 0; s < seq; s++) data[b * seq + s] = value(b, s);
  return new ort.Tensor('int32', data, [rows, seq]);
}
