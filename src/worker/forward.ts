// One forward pass of Serval's slot-KV decoder graph: packs a batch into ORT
// tensors (KV buffers are wrapped without copying), runs it, and returns the
// selected logits rows (or only their argmax) plus the new tokens' K/V for the
// caller to store.

import ort from 'onnxruntime-node';
import { GREEDY_TOKEN_IDS, INPUT_IDS, LOGITS, LOGITS_ROWS, NEW_LENS, PAST_LENS, POSITION_IDS, decoderGraphIo, kvKeyInput, kvValueInput, newKeyOutput, newValueOutput } from '../model/graph/graph-io.js';

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

/** The new tokens' K/V, for the caller to store. */
export interface ForwardKv {
  /** Per layer, [batch, kvHeads, seqLen, headDim]. */
  newKeys: Float32Array[];
  newValues: Float32Array[];
}

export interface ForwardOutput extends ForwardKv {
  /** [logitsRows.length, vocab] */
  logits: Float32Array;
}

export interface GreedyForwardOutput extends ForwardKv {
  /** [logitsRows.length]: each selected row's argmax. */
  greedyTokenIds: BigInt64Array;
}

export class DecoderForward {
  private readonly session: ort.InferenceSession;
  private readonly shape: ForwardShape;
  private readonly logitsFetches: string[];
  private readonly argmaxFetches: string[];

  constructor(session: ort.InferenceSession, shape: ForwardShape) {
    this.session = session;
    this.shape = shape;
    const kvOutputs = decoderGraphIo(shape.layers).outputNames.filter((name) => name !== LOGITS && name !== GREEDY_TOKEN_IDS);
    this.logitsFetches = [LOGITS, ...kvOutputs];
    this.argmaxFetches = [GREEDY_TOKEN_IDS, ...kvOutputs];
  }

  async run(input: ForwardBatch): Promise<ForwardOutput> {
    const out = await this.execute(input, this.logitsFetches);
    return { logits: out[LOGITS].data as Float32Array, ...this.newKv(out) };
  }

  /**
   * The same pass, fetching only each selected row's argmax instead of its
   * logits: ORT copies every fetched output, and [rows, vocab] floats are
   * megabytes per decode step.
   */
  async runGreedy(input: ForwardBatch): Promise<GreedyForwardOutput> {
    const out = await this.execute(input, this.argmaxFetches);
    return { greedyTokenIds: out[GREEDY_TOKEN_IDS].data as BigInt64Array, ...this.newKv(out) };
  }

  private execute(input: ForwardBatch, fetches: string[]): Promise<ort.InferenceSession.ReturnType> {
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
    return this.session.run(feeds, fetches);
  }

  private newKv(out: ort.InferenceSession.ReturnType): ForwardKv {
    const { layers } = this.shape;
    const newKeys: Float32Array[] = [];
    const newValues: Float32Array[] = [];
    for (let layer = 0; layer < layers; layer++) {
      newKeys.push(out[newKeyOutput(layer)].data as Float32Array);
      newValues.push(out[newValueOutput(layer)].data as Float32Array);
    }
    return { newKeys, newValues };
  }
}
