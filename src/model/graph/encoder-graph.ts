// Builds a BERT encoder graph (HF modeling_bert.py, post-LN) with the
// sentence-transformers head (pooling, optional L2 normalisation) inside the
// graph, so a batch fetches only the [B, H] sentence embeddings: the Node
// binding copies every fetched output into a fresh buffer (measured, see docs/engine.md),
// and [B, S, H] hidden states are S times larger than what the client needs.
//
// Rows are right-padded; attention_mask marks real tokens. Padding keys get a
// large negative finite score (exp underflows to exactly 0, no NaN), and the
// pooling ignores padding positions.

import type { EncoderConfig, PoolingMode, WeightStore } from '../types.js';
import type { ExternalDataWriter } from './external-data.js';
import { DataType, GraphBuilder, float, int, ints } from './onnx-builder.js';
import { checkedTensor, transpose } from './weights.js';

/** int64 [B, S]: token ids, right-padded (padding ids must still be valid vocabulary ids). */
export const ENCODER_INPUT_IDS = 'input_ids';
/** int64 [B, S]: 1 for real tokens, 0 for padding. */
export const ENCODER_ATTENTION_MASK = 'attention_mask';
/** int64 [B, S]: segment ids (all zeros for single sentences). */
export const ENCODER_TOKEN_TYPE_IDS = 'token_type_ids';
/** float32 [B, S, H]: the encoder's last layer (same name as HF / Optimum exports). */
export const LAST_HIDDEN_STATE = 'last_hidden_state';
/** float32 [B, H]: pooled and (when the model normalises) L2-normalised (same name as sentence-transformers exports). */
export const SENTENCE_EMBEDDING = 'sentence_embedding';

export interface EncoderHead {
  pooling: PoolingMode;
  normalize: boolean;
}

/** Added to the scores of padding keys; finite so that softmax cannot produce NaN. */
const MASK_VALUE = -1e9;

export function buildEncoderGraph(
  config: EncoderConfig,
  weights: WeightStore,
  head: EncoderHead,
  externalData: ExternalDataWriter | null = null,
): Uint8Array {
  const c = config;
  const H = c.hiddenSize;
  const D = H / c.numHeads;
  const g = new GraphBuilder(externalData);

  const tensor = (name: string, shape: number[]): Float32Array => checkedTensor(weights, name, shape);
  const i64 = (values: number[]): string => g.int64Tensor('const', values);
  /** y = x·Wᵀ + b for an HF Linear weight [out, in]. */
  const linear = (x: string, name: string, out: number, inp: number): string => {
    const w = g.floatTensor(`${name}.weight`, transpose(tensor(`${name}.weight`, [out, inp]), out, inp), [inp, out]);
    return g.op('Add', [g.op('MatMul', [x, w]), g.floatTensor(`${name}.bias`, tensor(`${name}.bias`, [out]), [out])]);
  };
  const layerNorm = (x: string, name: string): string =>
    g.op(
      'LayerNormalization',
      [x, g.floatTensor(`${name}.weight`, tensor(`${name}.weight`, [H]), [H]), g.floatTensor(`${name}.bias`, tensor(`${name}.bias`, [H]), [H])],
      { axis: int(-1), epsilon: float(c.layerNormEps) },
    );
  const oneF = g.floatScalar('one_f', 1);
  // Created on first use: ORT warns about initializers no node reads.
  let halfName: string | null = null;
  const half = (): string => (halfName ??= g.floatScalar('half', 0.5));
  const activation = (x: string): string => {
    switch (c.hiddenAct) {
      case 'gelu': // 0.5·x·(1 + erf(x/√2)); ORT fuses the pattern into Gelu.
        return g.op('Mul', [g.op('Mul', [x, half()]), g.op('Add', [oneF, g.op('Erf', [g.op('Div', [x, g.floatScalar('sqrt2', Math.SQRT2)])])])]);
      case 'gelu_new': {
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); ORT fuses it into FastGelu.
        const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
        const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, g.floatScalar('gelu_c', 0.044715)])]), g.floatScalar('gelu_k', Math.sqrt(2 / Math.PI))]);
        return g.op('Mul', [g.op('Mul', [x, half()]), g.op('Add', [oneF, g.op('Tanh', [inner])])]);
      }
      case 'relu':
        return g.op('Relu', [x]);
    }
  };

  // ---- inputs and embeddings ------------------------------------------------------------------
  const inputIds = g.input(ENCODER_INPUT_IDS, DataType.INT64, ['batch', 'seq']);
  const attentionMask = g.input(ENCODER_ATTENTION_MASK, DataType.INT64, ['batch', 'seq']);
  const tokenTypeIds = g.input(ENCODER_TOKEN_TYPE_IDS, DataType.INT64, ['batch', 'seq']);

  const embeddingTable = (name: string, rows: number): string => g.floatTensor(name, tensor(name, [rows, H]), [rows, H]);
  const words = g.op('Gather', [embeddingTable('embeddings.word_embeddings.weight', c.vocabSize), inputIds], { axis: int(0) }); // [B,S,H]
  const types = g.op('Gather', [embeddingTable('embeddings.token_type_embeddings.weight', c.typeVocabSize), tokenTypeIds], { axis: int(0) });
  const seqLen = g.op('Gather', [g.op('Shape', [inputIds]), g.int64Scalar('seq_axis', 1)], { axis: int(0) });
  const positions = g.op('Range', [g.int64Scalar('zero', 0), seqLen, g.int64Scalar('one', 1)]); // [S]
  const positionRows = g.op('Gather', [embeddingTable('embeddings.position_embeddings.weight', c.maxPositionEmbeddings), positions], { axis: int(0) }); // [S,H]
  let x = layerNorm(g.op('Add', [g.op('Add', [words, types]), positionRows]), 'embeddings.LayerNorm');

  // Additive key mask [B,1,1,S]: 0 for real tokens, MASK_VALUE for padding.
  const maskF = g.op('Cast', [attentionMask], { to: int(DataType.FLOAT) }); // [B,S]
  const keyMask = g.op('Unsqueeze', [g.op('Mul', [g.op('Sub', [oneF, maskF]), g.floatScalar('mask_value', MASK_VALUE)]), i64([1, 2])]);

  const headsShape = i64([0, 0, c.numHeads, D]);
  const mergedShape = i64([0, 0, H]);
  const scale = g.floatScalar('attn_scale', 1 / Math.sqrt(D));

  // ---- layers -----------------------------------------------------------------------------------
  for (let l = 0; l < c.numLayers; l++) {
    const p = `encoder.layer.${l}`;
    const split = (t: string, perm: number[]): string => g.op('Transpose', [g.op('Reshape', [t, headsShape])], { perm: ints(perm) });
    const q = split(linear(x, `${p}.attention.self.query`, H, H), [0, 2, 1, 3]); // [B,nH,S,D]
    const kT = split(linear(x, `${p}.attention.self.key`, H, H), [0, 2, 3, 1]); // [B,nH,D,S]
    const v = split(linear(x, `${p}.attention.self.value`, H, H), [0, 2, 1, 3]); // [B,nH,S,D]
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, kT]), scale]), keyMask]);
    const context = g.op('MatMul', [g.op('Softmax', [scores], { axis: int(-1) }), v]); // [B,nH,S,D]
    const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: ints([0, 2, 1, 3]) }), mergedShape]); // [B,S,H]
    x = layerNorm(g.op('Add', [linear(merged, `${p}.attention.output.dense`, H, H), x]), `${p}.attention.output.LayerNorm`);
    const inner = activation(linear(x, `${p}.intermediate.dense`, c.intermediateSize, H));
    x = layerNorm(g.op('Add', [linear(inner, `${p}.output.dense`, H, c.intermediateSize), x]), `${p}.output.LayerNorm`);
  }
  const hidden = g.op('Identity', [x], {}, LAST_HIDDEN_STATE);

  // ---- sentence-transformers head ------------------------------------------------------------------
  let pooled = pool(g, hidden, attentionMask, maskF, head.pooling);
  if (head.normalize) {
    // x / max(‖x‖₂, 1e-12), as torch.nn.functional.normalize.
    const norm = g.op('Max', [g.op('ReduceL2', [pooled], { axes: ints([-1]), keepdims: int(1) }), g.floatScalar('norm_eps', 1e-12)]);
    pooled = g.op('Div', [pooled, norm]);
  }
  g.op('Identity', [pooled], {}, SENTENCE_EMBEDDING);

  g.output(SENTENCE_EMBEDDING, DataType.FLOAT, ['batch', H]);
  g.output(LAST_HIDDEN_STATE, DataType.FLOAT, ['batch', 'seq', H]);
  return g.toModelBytes(`serval_${c.modelType}_encoder`);
}

/** sentence-transformers Pooling over right-padded rows: [B,S,H] → [B,H]. */
function pool(g: GraphBuilder, hidden: string, attentionMask: string, maskF: string, mode: PoolingMode): string {
  switch (mode) {
    case 'cls':
      return g.op('Gather', [hidden, g.int64Scalar('cls_index', 0)], { axis: int(1) });
    case 'mean': {
      const axis1 = g.int64Tensor('pool_axis', [1]);
      const weighted = g.op('Mul', [hidden, g.op('Unsqueeze', [maskF, g.int64Tensor('mask_axis', [2])])]);
      const sum = g.op('ReduceSum', [weighted, axis1], { keepdims: int(0) }); // [B,H]
      // sentence-transformers clamps the token count to ≥ 1e-9.
      const count = g.op('Max', [g.op('ReduceSum', [maskF, axis1], { keepdims: int(1) }), g.floatScalar('count_eps', 1e-9)]); // [B,1]
      return g.op('Div', [sum, count]);
    }
    case 'max': {
      // sentence-transformers sets padding to -1e9 before the max.
      const valid = g.op('Unsqueeze', [g.op('Cast', [attentionMask], { to: int(DataType.BOOL) }), g.int64Tensor('mask_axis', [2])]);
      const masked = g.op('Where', [valid, hidden, g.floatScalar('max_pad', -1e9)]);
      return g.op('ReduceMax', [masked], { axes: ints([1]), keepdims: int(0) });
    }
    case 'lasttoken': {
      // Index of the last real token: argmax over s of mask[s]·(s+1) (ties impossible: values are distinct).
      const seqLen = g.op('Gather', [g.op('Shape', [maskF]), g.int64Scalar('seq_axis_pool', 1)], { axis: int(0) });
      const steps = g.op('Cast', [g.op('Range', [g.int64Scalar('one_pool', 1), g.op('Add', [seqLen, g.int64Scalar('one_end', 1)]), g.int64Scalar('step_pool', 1)])], {
        to: int(DataType.FLOAT),
      }); // [S]: 1..S
      const last = g.op('ArgMax', [g.op('Mul', [maskF, steps])], { axis: int(1), keepdims: int(1) }); // [B,1]
      return g.op('GatherND', [hidden, last], { batch_dims: int(1) }); // [B,H]
    }
  }
}
