// Builds Serval's slot-KV decoder graph ("variant C" of
// shared/research/ort-batching.md) from a DecoderConfig and its weights.
//
// The KV cache is a caller-owned buffer fed as an input and only read; the
// graph returns the new tokens' rotated K/V and the logits of the requested
// positions. onnxruntime-node copies every fetched output into a fresh
// ArrayBuffer, so returning the whole cache (Concat-style or GQA share-buffer)
// costs more than the forward pass itself at batch ≥ 16.
//
// Attention per layer, with q reshaped to [B, kvH, rep·S, D] so K/V are never
// expanded for GQA:
//   scores = [ q·K_bufᵀ (masked: pos < past_len) | q·k_newᵀ (masked: causal, < new_len) ]
//   p = softmax(scores);  out = p_past·V_buf + p_new·v_new
// Masked scores get a large negative finite value (not −inf), so fully masked
// (idle or padding) rows give a finite softmax instead of NaN.

import type { DecoderConfig, WeightStore } from '../types.js';
import {
  GREEDY_TOKEN_IDS,
  INPUT_IDS,
  LOGITS,
  LOGITS_ROWS,
  NEW_LENS,
  PAST_LENS,
  POSITION_IDS,
  kvKeyInput,
  kvValueInput,
  newKeyOutput,
  newValueOutput,
} from './graph-io.js';
import { quantizeInt4 } from './int4.js';
import { DataType, GraphBuilder, MS_DOMAIN, int, ints } from './onnx-builder.js';
import { ropeTables } from './rope-tables.js';
import { checkedTensor, transpose } from './weights.js';

export interface DecoderGraphOptions {
  /** Every linear layer (and lm_head) as com.microsoft.MatMulNBits, 4-bit, block 32. */
  quantize?: 'int4';
  /** int4 only: symmetric (zero point 8) instead of per-block zero points. Default false. */
  int4Symmetric?: boolean;
  /** int4 only: MatMulNBits accuracy_level (4 = int8 activations, the fast CPU path). Default 4. */
  int4AccuracyLevel?: number;
  /**
   * Slice the KV inputs to max(past_lens) inside the graph (variant "Cs"). Pays off
   * when the buffer capacity is much larger than the longest active row; otherwise
   * the Slice copy costs more than it saves. Default false.
   */
  sliceKvToMaxPast?: boolean;
  /** Rows in the RoPE tables; positions must stay below it. Default config.maxPositionEmbeddings. */
  maxPositions?: number;
}

/** Added to masked attention scores; finite so that a fully masked row cannot produce NaN. */
const MASK_VALUE = -1e9;
/** Slice `ends` meaning "to the end of the axis" (Slice clamps it). */
const SLICE_TO_END = Number.MAX_SAFE_INTEGER;

export function buildDecoderGraph(config: DecoderConfig, weights: WeightStore, options: DecoderGraphOptions = {}): Uint8Array {
  const c = config;
  if (c.numHeads % c.numKvHeads !== 0) throw new Error('numHeads must be a multiple of numKvHeads');
  if (c.headDim % 2 !== 0) throw new Error('headDim must be even for RoPE');
  const g = new GraphBuilder();
  const H = c.hiddenSize;
  const D = c.headDim;
  const kvH = c.numKvHeads;
  const rep = c.numHeads / c.numKvHeads;
  const maxPositions = options.maxPositions ?? c.maxPositionEmbeddings;

  const tensor = (name: string, shape: number[]): Float32Array => checkedTensor(weights, name, shape);
  const i64 = (values: number[]): string => g.int64Tensor('const', values);

  /** y = x·Wᵀ (+ b) for an HF Linear weight [out, in]. */
  const linear = (x: string, name: string, out: number, inp: number, withBias: boolean): string => {
    const w = tensor(`${name}.weight`, [out, inp]);
    let y: string;
    if (options.quantize === 'int4') {
      y = matMulNBits(g, x, w, out, inp, name, options);
    } else {
      y = g.op('MatMul', [x, g.floatTensor(name, transpose(w, out, inp), [inp, out])]);
    }
    if (withBias) y = g.op('Add', [y, g.floatTensor(`${name}.bias`, tensor(`${name}.bias`, [out]), [out])]);
    return y;
  };

  /**
   * RMSNorm over the last axis as Pow → ReduceMean → Add → Sqrt → Div → Mul, the
   * pattern ORT fuses into SimplifiedLayerNormalization at optimisation level 'all'.
   */
  const eps = g.floatScalar('eps', c.rmsNormEps);
  const two = g.floatScalar('two', 2);
  const rmsNorm = (x: string, weightName: string, size: number): string => {
    const meanSquare = g.op('ReduceMean', [g.op('Pow', [x, two])], { axes: ints([-1]), keepdims: int(1) });
    const normalised = g.op('Div', [x, g.op('Sqrt', [g.op('Add', [meanSquare, eps])])]);
    return g.op('Mul', [normalised, g.floatTensor(weightName, tensor(weightName, [size]), [size])]);
  };

  // ---- inputs ------------------------------------------------------------------------------
  const inputIds = g.input(INPUT_IDS, DataType.INT64, ['batch', 'seq']);
  const positionIds = g.input(POSITION_IDS, DataType.INT64, ['batch', 'seq']);
  const pastLens = g.input(PAST_LENS, DataType.INT64, ['batch']);
  const newLens = g.input(NEW_LENS, DataType.INT64, ['batch']);
  const logitsRows = g.input(LOGITS_ROWS, DataType.INT64, ['rows']);
  for (let i = 0; i < c.numLayers; i++) {
    g.input(kvKeyInput(i), DataType.FLOAT, ['batch', kvH, 'capacity', D]);
    g.input(kvValueInput(i), DataType.FLOAT, ['batch', kvH, 'capacity', D]);
  }

  // ---- shared by all layers: RoPE factors and masks -------------------------------------------
  const embed = tensor('model.embed_tokens.weight', [c.vocabSize, H]);
  const embedName = g.floatTensor('model.embed_tokens.weight', embed, [c.vocabSize, H]);
  let x = g.op('Gather', [embedName, inputIds], { axis: int(0) }); // [B,S,H]

  const tables = ropeTables(maxPositions, D, c.ropeTheta, c.ropeScaling);
  const cosHalf = g.op('Gather', [g.floatTensor('rope_cos', tables.cos, [maxPositions, D / 2]), positionIds], { axis: int(0) });
  const sinHalf = g.op('Gather', [g.floatTensor('rope_sin', tables.sin, [maxPositions, D / 2]), positionIds], { axis: int(0) });
  // Full-width factors so rotate-half is one Concat: x·cos + [x2, x1]·[−sin, sin].
  const ropeCos = g.op('Unsqueeze', [g.op('Concat', [cosHalf, cosHalf], { axis: int(-1) }), i64([1])]); // [B,1,S,D]
  const ropeSin = g.op('Unsqueeze', [g.op('Concat', [g.op('Neg', [sinHalf]), sinHalf], { axis: int(-1) }), i64([1])]);
  const rope = (t: string, outputName?: string): string => {
    const [first, second] = g.opMulti('Split', [t], 2, { axis: int(-1) });
    const rotated = g.op('Concat', [second, first], { axis: int(-1) });
    return g.op('Add', [g.op('Mul', [t, ropeCos]), g.op('Mul', [rotated, ropeSin])], {}, outputName);
  };

  const zero = g.int64Scalar('zero', 0);
  const one = g.int64Scalar('one', 1);
  const seqLen = g.op('Gather', [g.op('Shape', [inputIds]), g.int64Scalar('seq_axis', 1)], { axis: int(0) }); // scalar S
  const newRange = g.op('Range', [zero, seqLen, one]); // [S]
  const newRangeRow = g.op('Unsqueeze', [newRange, i64([0])]); // [1,S]: key index j
  const causal = g.op('LessOrEqual', [newRangeRow, g.op('Unsqueeze', [newRange, i64([1])])]); // [S,S]: j ≤ i
  const validKey = g.op('Less', [newRangeRow, g.op('Unsqueeze', [newLens, i64([1])])]); // [B,S]: j < new_len
  let newMask = g.op('And', [g.op('Unsqueeze', [causal, i64([0])]), g.op('Unsqueeze', [validKey, i64([1])])]); // [B,S,S]
  newMask = g.op('Unsqueeze', [newMask, i64([1])]); // [B,1,S,S]
  // Query rows are (rep, s) pairs after the GQA reshape: repeat the mask rep times along rows.
  if (rep > 1) newMask = g.op('Tile', [newMask, i64([1, 1, rep, 1])]); // [B,1,rep·S,S]
  const maskValue = g.floatScalar('mask_value', MASK_VALUE);
  // Within the new tokens the mask is applied as an additive bias built once for all layers:
  // a broadcast Add is several times cheaper than a broadcast Where at prefill sizes, and
  // new-token scores are always finite. The cache part keeps Where (below) because stale
  // buffer contents are arbitrary.
  const newBias = g.op('Where', [newMask, g.floatScalar('zero_f', 0), maskValue]); // [B,1,rep·S,S]

  // Past length P the attention reads: the whole capacity, or max(past_lens) when slicing.
  let pastLen: string; // scalar
  let pastLen1d: string; // [1]
  if (options.sliceKvToMaxPast) {
    pastLen1d = g.op('ReduceMax', [pastLens], { keepdims: int(1) });
    pastLen = g.op('Squeeze', [pastLen1d, i64([0])]);
  } else {
    pastLen = g.op('Gather', [g.op('Shape', [kvKeyInput(0)]), g.int64Scalar('cap_axis', 2)], { axis: int(0) });
    pastLen1d = g.op('Unsqueeze', [pastLen, i64([0])]);
  }
  const pastRange = g.op('Unsqueeze', [g.op('Range', [zero, pastLen, one]), i64([0])]); // [1,P]
  const pastMask = g.op('Unsqueeze', [g.op('Less', [pastRange, g.op('Unsqueeze', [pastLens, i64([1])])]), i64([1, 2])]); // [B,1,1,P]
  const attentionScale = g.floatScalar('attn_scale', 1 / Math.sqrt(D));
  let sliceKv = (name: string): string => name;
  if (options.sliceKvToMaxPast) {
    const start = i64([0]);
    const capacityAxis = i64([2]);
    sliceKv = (name) => g.op('Slice', [name, start, pastLen1d, capacityAxis]); // [B,kvH,max(past_lens),D]
  }
  const probsAxis = i64([-1]);
  const probsPastStart = i64([0]);
  const probsNewEnd = i64([SLICE_TO_END]);
  const qShape = i64([0, 0, c.numHeads, D]);
  const kvShape = i64([0, 0, kvH, D]);
  const groupedShape = i64([0, kvH, -1, D]); // [B,nH,S,D] → [B,kvH,rep·S,D]
  const headsShape = i64([0, c.numHeads, -1, D]);
  const mergedShape = i64([0, 0, c.numHeads * D]);

  // ---- layers ----------------------------------------------------------------------------
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, `${p}.input_layernorm.weight`, H);

    let q = g.op('Reshape', [linear(h, `${p}.self_attn.q_proj`, c.numHeads * D, H, c.attentionBias), qShape]); // [B,S,nH,D]
    let k = g.op('Reshape', [linear(h, `${p}.self_attn.k_proj`, kvH * D, H, c.attentionBias), kvShape]);
    const v = g.op('Reshape', [linear(h, `${p}.self_attn.v_proj`, kvH * D, H, c.attentionBias), kvShape]);
    if (c.qkNorm) {
      q = rmsNorm(q, `${p}.self_attn.q_norm.weight`, D);
      k = rmsNorm(k, `${p}.self_attn.k_norm.weight`, D);
    }
    q = rope(g.op('Transpose', [q], { perm: ints([0, 2, 1, 3]) })); // [B,nH,S,D]
    const kNew = rope(g.op('Transpose', [k], { perm: ints([0, 2, 1, 3]) }), newKeyOutput(l)); // [B,kvH,S,D]
    const vNew = g.op('Transpose', [v], { perm: ints([0, 2, 1, 3]) }, newValueOutput(l)); // [B,kvH,S,D]

    const kBuf = sliceKv(kvKeyInput(l));
    const vBuf = sliceKv(kvValueInput(l));

    const qg = g.op('Reshape', [g.op('Mul', [q, attentionScale]), groupedShape]); // [B,kvH,rep·S,D]
    const transposeKey = { perm: ints([0, 1, 3, 2]) };
    const scoresPast = g.op('Where', [pastMask, g.op('MatMul', [qg, g.op('Transpose', [kBuf], transposeKey)]), maskValue]);
    const scoresNew = g.op('Add', [g.op('MatMul', [qg, g.op('Transpose', [kNew], transposeKey)]), newBias]);
    const probs = g.op('Softmax', [g.op('Concat', [scoresPast, scoresNew], { axis: int(-1) })], { axis: int(-1) });
    const probsPast = g.op('Slice', [probs, probsPastStart, pastLen1d, probsAxis]);
    const probsNew = g.op('Slice', [probs, pastLen1d, probsNewEnd, probsAxis]);
    let attn = g.op('Add', [g.op('MatMul', [probsPast, vBuf]), g.op('MatMul', [probsNew, vNew])]); // [B,kvH,rep·S,D]
    attn = g.op('Reshape', [attn, headsShape]); // [B,nH,S,D]
    attn = g.op('Reshape', [g.op('Transpose', [attn], { perm: ints([0, 2, 1, 3]) }), mergedShape]); // [B,S,nH·D]
    x = g.op('Add', [x, linear(attn, `${p}.self_attn.o_proj`, H, c.numHeads * D, false)]);

    const h2 = rmsNorm(x, `${p}.post_attention_layernorm.weight`, H);
    const gate = linear(h2, `${p}.mlp.gate_proj`, c.intermediateSize, H, false);
    const up = linear(h2, `${p}.mlp.up_proj`, c.intermediateSize, H, false);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]); // SiLU(gate)·up
    x = g.op('Add', [x, linear(act, `${p}.mlp.down_proj`, H, c.intermediateSize, false)]);
  }

  // ---- head: only the requested positions reach the norm and lm_head ----------------------------
  const flat = g.op('Reshape', [x, i64([-1, H])]); // [B·S,H]
  const selected = rmsNorm(g.op('Gather', [flat, logitsRows], { axis: int(0) }), 'model.norm.weight', H); // [R,H]
  const headName = c.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const head = tensor(headName, [c.vocabSize, H]);
  if (options.quantize === 'int4') {
    g.op('Identity', [matMulNBits(g, selected, head, c.vocabSize, H, 'lm_head', options)], {}, LOGITS);
  } else {
    // Gemm with transB reads HF's [V,H] layout directly, so a tied head shares the embedding initializer.
    const headInit = c.tieWordEmbeddings ? embedName : g.floatTensor('lm_head.weight', head, [c.vocabSize, H]);
    g.op('Gemm', [selected, headInit], { transB: int(1) }, LOGITS);
  }

  g.op('ArgMax', [LOGITS], { axis: int(1), keepdims: int(0) }, GREEDY_TOKEN_IDS);

  g.output(LOGITS, DataType.FLOAT, ['rows', c.vocabSize]);
  g.output(GREEDY_TOKEN_IDS, DataType.INT64, ['rows']);
  for (let i = 0; i < c.numLayers; i++) {
    g.output(newKeyOutput(i), DataType.FLOAT, ['batch', kvH, 'seq', D]);
    g.output(newValueOutput(i), DataType.FLOAT, ['batch', kvH, 'seq', D]);
  }
  return g.toModelBytes(`serval_${c.modelType}_slot_kv`);
}

function matMulNBits(g: GraphBuilder, x: string, w: Float32Array, n: number, k: number, name: string, options: DecoderGraphOptions): string {
  const q = quantizeInt4(w, n, k, { blockSize: 32, symmetric: options.int4Symmetric ?? false });
  const inputs = [
    x,
    g.uint8Tensor(`${name}.q4`, q.packed, [n, q.kBlocks, q.blockSize / 2]),
    g.floatTensor(`${name}.scales`, q.scales, [n, q.kBlocks]),
  ];
  if (q.zeroPoints) inputs.push(g.uint8Tensor(`${name}.zero_points`, q.zeroPoints, [n, Math.ceil(q.kBlocks / 2)]));
  return g.op(
    'MatMulNBits',
    inputs,
    { K: int(k), N: int(n), bits: int(4), block_size: int(q.blockSize), accuracy_level: int(options.int4AccuracyLevel ?? 4) },
    undefined,
    MS_DOMAIN,
  );
}
