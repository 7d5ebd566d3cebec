// One forward pass of Serval's slot-KV decoder graph: packs a batch into ORT
// tensors (KV buffers are wrapped without copying), runs it, and returns the
// selected logits rows plus the new tokens' K/V for the caller to store.

import ort from 'onnxruntime-node';
import { INPUT_IDS, LOGITS, LOGITS_ROWS, NEW_LENS, PAST_LENS, POSITION_IDS, decoderGraphIo, kvKeyInput, kvValueInput, newKeyOutput, newValueOutput } from '../model/graph/graph-io.js';

export interface ForwardShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
}

export interface ForwardBatch {
  batch: number;
  seqLen: number;
  /** [batch * seqLen], right-padded rows. */
  inputIds: BigInt64Array;
  positionIds: BigInt64Array;
  pastLens: BigInt64Array;
  newLens: BigInt64Array;
  /** Flat positions (row * seqLen + col) whose logits are returned. */
  logitsRows: BigInt64Array;
  /** Per layer, [batch, kvHeads, capacity, headDim] views of the slot pool. */
  keys: Float32Array[];
  values: Float32Array[];
  capacity: number;
}

export interface ForwardOutput {
  /** [logitsRows.length, vocab] */
  logits: Float32Array;
  /** Per layer, [batch, kvHeads, seqLen, headDim]. */
  newKeys: Float32Array[];
  newValues: Float32Array[];
}

export class DecoderForward {
  private readonly session: ort.InferenceSession;
  private readonly shape: ForwardShape;
  private readonly outputNames: string[];

  constructor(session: ort.InferenceSession, shape: ForwardShape) {
    this.session = session;
    this.shape = shape;
    this.outputNames = decoderGraphIo(shape.layers).outputNames;
  }

  async run(input: ForwardBatch): Promise<ForwardOutput> {
    const { batch, seqLen, capacity } = input;
    const { kvHeads, headDim, layers } = this.shape;
    const feeds: Record<string, ort.Tensor> = {
      [INPUT_IDS]: new ort.Tensor('int64', input.inputIds, [batch, seqLen]),
      [POSITION_IDS]: new ort.Tensor('int64', input.positionIds, [batch, seqLen]),
      [PAST_LENS]: new ort.Tensor('int64', input.pastLens, [batch]),
      [NEW_LENS]: new ort.Tensor('int64', input.newLens, [batch]),
      [LOGITS_ROWS]: new ort.Tensor('int64', input.logitsRows, [input.logitsRows.length]),
    };
    const kvDims = [batch, kvHeads, capacity, headDim];
    for (let layer = 0; layer < layers; layer++) {
      feeds[kvKeyInput(layer)] = new ort.Tensor('float32', input.keys[layer], kvDims);
      feeds[kvValueInput(layer)] = new ort.Tensor('float32', input.values[layer], kvDims);
    }
    const out = await this.session.run(feeds, this.outputNames);
    const newKeys: Float32Array[] = [];
    const newValues: Float32Array[] = [];
    for (let layer = 0; layer < layers; layer++) {
      newKeys.push(out[newKeyOutput(layer)].data as Float32Array);
      newValues.push(out[newValueOutput(layer)].data as Float32Array);
    }
    return { logits: out[LOGITS].data as Float32Array, newKeys, newValues };
  }
}
