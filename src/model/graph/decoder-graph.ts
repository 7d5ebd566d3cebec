// Builds Serval's slot-KV decoder graph (the KV cache as a graph input, see
// docs/engine.md) from a DecoderConfig and its weights.
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
// (idle or padding) rows give a finite softmax instead of NaN. Sliding-window
// layers (Gemma 3, Phi-3) also mask keys more than `window − 1` positions
// behind the query, in both parts; their KV stays in the slot all the same.
//
// The other families are deltas on this block, each a DecoderConfig field:
// fused q/k/v and gate/up weights (Phi-3), partial rotary and per-layer RoPE
// (Phi-3, SmolLM3, Gemma 3's local base), multipliers (Granite), (1 + w) and
// sandwich norms, gelu-tanh and logit soft-capping (Gemma 3).

import type { DecoderConfig, HiddenActivation, PackedLinear, RopeScaling, WeightStore } from '../types.js';
import {
  GREEDY_TOKEN_IDS,
  HIDDEN_STATES,
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
import type { ExternalDataWriter } from './external-data.js';
import { DataType, GraphBuilder, MS_DOMAIN, int, ints } from './onnx-builder.js';
import { ropeTables } from './rope-tables.js';
import { checkedTensor, transpose } from './weights.js';

export interface DecoderGraphOptions {
  /** Every linear layer (and lm_head) as com.microsoft.MatMulNBits, 4-bit, block 32. */
  quantize?: 'int4';
  /** int4 only: symmetric (zero point 8) instead of per-block zero points. Default false. */
  int4Symmetric?: boolean;
  /** MatMulNBits accuracy_level (int4, and GGUF's packed 4/8-bit weights; 4 = int8 activations, the fast CPU path). Default 4. */
  int4AccuracyLevel?: number;
  /**
   * Slice the KV inputs to max(past_lens) inside the graph (variant "Cs"). Pays off
   * when the buffer capacity is much larger than the longest active row; otherwise
   * the Slice copy costs more than it saves. Default false.
   */
  sliceKvToMaxPast?: boolean;
  /**
   * Rows in the RoPE tables; positions must stay below it (Gather rejects the rest). The engine
   * passes its max model length; at most, and by default, config.maxPositionEmbeddings.
   */
  maxPositions?: number;
  /** 'hidden': return the final-norm hidden states of `logits_rows` as HIDDEN_STATES instead of logits (embedding models). Default 'logits'. */
  output?: 'logits' | 'hidden';
  /** Stream the weights to this external-data file instead of the protobuf (how the server loads). */
  externalData?: ExternalDataWriter;
}

/** Added to masked attention scores; finite so that a fully masked row cannot produce NaN. */
const MASK_VALUE = -1e9;
/** Slice `ends` meaning "to the end of the axis" (Slice clamps it). */
const SLICE_TO_END = Number.MAX_SAFE_INTEGER;

export function buildDecoderGraph(config: DecoderConfig, weights: WeightStore, options: DecoderGraphOptions = {}): Uint8Array {
  const c = config;
  if (c.numHeads % c.numKvHeads !== 0) throw new Error('numHeads must be a multiple of numKvHeads');
  if (c.rotaryDim % 2 !== 0 || c.rotaryDim > c.headDim) throw new Error('rotaryDim must be even and at most headDim');
  const g = new GraphBuilder(options.externalData ?? null);
  const H = c.hiddenSize;
  const D = c.headDim;
  const kvH = c.numKvHeads;
  const qDim = c.numHeads * D;
  const kvDim = kvH * D;
  const I = c.intermediateSize;
  const rep = c.numHeads / c.numKvHeads;
  const maxPositions = options.maxPositions ?? c.maxPositionEmbeddings;
  if (!Number.isInteger(maxPositions) || maxPositions < 1 || maxPositions > c.maxPositionEmbeddings) {
    throw new Error(`maxPositions must be an integer in [1, ${c.maxPositionEmbeddings}], got ${maxPositions}`);
  }

  const tensor = (name: string, shape: number[]): Float32Array => checkedTensor(weights, name, shape);
  const i64 = (values: number[]): string => g.int64Tensor('const', values);
  const scalar = (name: string, value: number): string => g.floatScalar(name, value);

  /** y = x·Wᵀ (+ b) for an HF Linear weight [out, in]. */
  const linear = (x: string, name: string, out: number, inp: number, withBias: boolean): string => {
    const packed = weights.packedLinear?.(`${name}.weight`) ?? null;
    let y: string;
    if (packed !== null) {
      y = packedMatMul(g, x, checkedPacked(packed, name, out, inp), name, options);
    } else if (options.quantize === 'int4') {
      const w = tensor(`${name}.weight`, [out, inp]);
      y = matMulNBits(g, x, w, out, inp, name, options);
    } else {
      const w = tensor(`${name}.weight`, [out, inp]);
      y = g.op('MatMul', [x, g.floatTensor(name, transpose(w, out, inp), [inp, out])]);
    }
    if (withBias) y = g.op('Add', [y, g.floatTensor(`${name}.bias`, tensor(`${name}.bias`, [out]), [out])]);
    return y;
  };
  /** Splits the last axis into parts of the given sizes (fused projections, partial rotary). */
  const splitLast = (x: string, sizes: number[]): string[] => g.opMulti('Split', [x, i64(sizes)], sizes.length, { axis: int(-1) });

  /**
   * RMSNorm over the last axis as Pow → ReduceMean → Add → Sqrt → Div → Mul, the
   * pattern ORT fuses into SimplifiedLayerNormalization at optimisation level 'all'.
   * Gemma's weight is an offset: the scale (1 + w) is folded in at build time, in float32 as HF does.
   */
  const eps = scalar('eps', c.rmsNormEps);
  const two = scalar('two', 2);
  const rmsNorm = (x: string, weightName: string, size: number): string => {
    const meanSquare = g.op('ReduceMean', [g.op('Pow', [x, two])], { axes: ints([-1]), keepdims: int(1) });
    const normalised = g.op('Div', [x, g.op('Sqrt', [g.op('Add', [meanSquare, eps])])]);
    let weight = tensor(weightName, [size]);
    if (c.normUnitOffset) weight = weight.map((w) => 1 + w);
    return g.op('Mul', [normalised, g.floatTensor(weightName, weight, [size])]);
  };
  const residualMultiplier = c.residualMultiplier === 1 ? null : scalar('residual_multiplier', c.residualMultiplier);
  const residual = (x: string, y: string): string => g.op('Add', [x, residualMultiplier === null ? y : g.op('Mul', [y, residualMultiplier])]);

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
  if (c.embeddingMultiplier !== 1) x = g.op('Mul', [x, scalar('embedding_multiplier', c.embeddingMultiplier)]);

  const rope = ropeApplier(g, c, positionIds, maxPositions, i64);

  const zero = g.int64Scalar('zero', 0);
  const one = g.int64Scalar('one', 1);
  const seqLen = g.op('Gather', [g.op('Shape', [inputIds]), g.int64Scalar('seq_axis', 1)], { axis: int(0) }); // scalar S
  const newRange = g.op('Range', [zero, seqLen, one]); // [S]
  const newRangeRow = g.op('Unsqueeze', [newRange, i64([0])]); // [1,S]: key index j
  const newRangeCol = g.op('Unsqueeze', [newRange, i64([1])]); // [S,1]: query index i
  const causal = g.op('LessOrEqual', [newRangeRow, newRangeCol]); // [S,S]: j ≤ i
  const validKey = g.op('Unsqueeze', [g.op('Less', [newRangeRow, g.op('Unsqueeze', [newLens, i64([1])])]), i64([1])]); // [B,1,S]: j < new_len
  const maskValue = scalar('mask_value', MASK_VALUE);
  /** Query rows are (rep, s) pairs after the GQA reshape: a [B,1,S,·] mask is repeated rep times along rows. */
  const perGroupRow = (mask: string): string => (rep > 1 ? g.op('Tile', [mask, i64([1, 1, rep, 1])]) : mask);
  // Within the new tokens the mask is applied as an additive bias built once for all layers:
  // a broadcast Add is several times cheaper than a broadcast Where at prefill sizes, and
  // new-token scores are always finite. The cache part keeps Where (below) because stale
  // buffer contents are arbitrary.
  const newBiasFor = (visible: string): string => {
    const mask = perGroupRow(g.op('Unsqueeze', [g.op('And', [g.op('Unsqueeze', [visible, i64([0])]), validKey]), i64([1])])); // [B,1,rep·S,S]
    return g.op('Where', [mask, scalar('zero_f', 0), maskValue]);
  };
  const newBias = newBiasFor(causal);

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
  const pastLensCol = g.op('Unsqueeze', [pastLens, i64([1])]); // [B,1]
  const pastMask = g.op('Unsqueeze', [g.op('Less', [pastRange, pastLensCol]), i64([1, 2])]); // [B,1,1,P]

  // Sliding layers (HF: key index > query index − window) get their own two masks.
  let slidingPastMask = pastMask;
  let slidingNewBias = newBias;
  if (c.layerAttention.includes('sliding')) {
    if (c.slidingWindow === null) throw new Error('sliding layers need slidingWindow');
    const window = g.int64Scalar('sliding_window', c.slidingWindow);
    slidingNewBias = newBiasFor(g.op('And', [causal, g.op('Greater', [newRangeRow, g.op('Sub', [newRangeCol, window])])]));
    const oldestVisible = g.op('Unsqueeze', [g.op('Sub', [g.op('Add', [pastLensCol, newRangeRow]), window]), i64([2])]); // [B,S,1]: past+s−W
    const inWindow = g.op('Unsqueeze', [g.op('Greater', [g.op('Unsqueeze', [pastRange, i64([0])]), oldestVisible]), i64([1])]); // [B,1,S,P]
    slidingPastMask = perGroupRow(g.op('And', [inWindow, pastMask])); // [B,1,rep·S,P]
  }

  const attentionScale = scalar('attn_scale', c.attentionScale);
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
  const mergedShape = i64([0, 0, qDim]);
  const toHeads = { perm: ints([0, 2, 1, 3]) };

  // ---- layers ----------------------------------------------------------------------------
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    const sliding = c.layerAttention[l] === 'sliding';
    const h = rmsNorm(x, `${p}.input_layernorm.weight`, H);

    let qFlat: string, kFlat: string, vFlat: string;
    if (c.fusedProjections) {
      [qFlat, kFlat, vFlat] = splitLast(linear(h, `${p}.self_attn.qkv_proj`, qDim + 2 * kvDim, H, false), [qDim, kvDim, kvDim]);
    } else {
      qFlat = linear(h, `${p}.self_attn.q_proj`, qDim, H, c.attentionBias);
      kFlat = linear(h, `${p}.self_attn.k_proj`, kvDim, H, c.attentionBias);
      vFlat = linear(h, `${p}.self_attn.v_proj`, kvDim, H, c.attentionBias);
    }
    let q = g.op('Reshape', [qFlat, qShape]); // [B,S,nH,D]
    let k = g.op('Reshape', [kFlat, kvShape]);
    const v = g.op('Reshape', [vFlat, kvShape]);
    if (c.qkNorm) {
      q = rmsNorm(q, `${p}.self_attn.q_norm.weight`, D);
      k = rmsNorm(k, `${p}.self_attn.k_norm.weight`, D);
    }
    q = g.op('Transpose', [q], toHeads); // [B,nH,S,D]
    let kNew: string; // [B,kvH,S,D]
    if (c.layerRope[l]) {
      q = rope(q, sliding);
      kNew = rope(g.op('Transpose', [k], toHeads), sliding, newKeyOutput(l));
    } else {
      kNew = g.op('Transpose', [k], toHeads, newKeyOutput(l));
    }
    const vNew = g.op('Transpose', [v], toHeads, newValueOutput(l)); // [B,kvH,S,D]

    const kBuf = sliceKv(kvKeyInput(l));
    const vBuf = sliceKv(kvValueInput(l));

    const qg = g.op('Reshape', [g.op('Mul', [q, attentionScale]), groupedShape]); // [B,kvH,rep·S,D]
    const transposeKey = { perm: ints([0, 1, 3, 2]) };
    const scoresPast = g.op('Where', [sliding ? slidingPastMask : pastMask, g.op('MatMul', [qg, g.op('Transpose', [kBuf], transposeKey)]), maskValue]);
    const scoresNew = g.op('Add', [g.op('MatMul', [qg, g.op('Transpose', [kNew], transposeKey)]), sliding ? slidingNewBias : newBias]);
    const probs = g.op('Softmax', [g.op('Concat', [scoresPast, scoresNew], { axis: int(-1) })], { axis: int(-1) });
    const probsPast = g.op('Slice', [probs, probsPastStart, pastLen1d, probsAxis]);
    const probsNew = g.op('Slice', [probs, pastLen1d, probsNewEnd, probsAxis]);
    let attn = g.op('Add', [g.op('MatMul', [probsPast, vBuf]), g.op('MatMul', [probsNew, vNew])]); // [B,kvH,rep·S,D]
    attn = g.op('Reshape', [attn, headsShape]); // [B,nH,S,D]
    attn = g.op('Reshape', [g.op('Transpose', [attn], toHeads), mergedShape]); // [B,S,nH·D]
    let attnOut = linear(attn, `${p}.self_attn.o_proj`, H, qDim, false);
    if (c.sandwichNorms) attnOut = rmsNorm(attnOut, `${p}.post_attention_layernorm.weight`, H);
    x = residual(x, attnOut);

    const h2 = rmsNorm(x, `${p}.${c.sandwichNorms ? 'pre_feedforward_layernorm' : 'post_attention_layernorm'}.weight`, H);
    let gate: string, up: string;
    if (c.fusedProjections) [gate, up] = splitLast(linear(h2, `${p}.mlp.gate_up_proj`, 2 * I, H, false), [I, I]);
    else {
      gate = linear(h2, `${p}.mlp.gate_proj`, I, H, false);
      up = linear(h2, `${p}.mlp.up_proj`, I, H, false);
    }
    const act = g.op('Mul', [activation(g, c.hiddenAct, gate), up]); // act(gate)·up
    let mlpOut = linear(act, `${p}.mlp.down_proj`, H, I, false);
    if (c.sandwichNorms) mlpOut = rmsNorm(mlpOut, `${p}.post_feedforward_layernorm.weight`, H);
    x = residual(x, mlpOut);
  }

  // ---- head: only the requested positions reach the norm and lm_head ----------------------------
  const flat = g.op('Reshape', [x, i64([-1, H])]); // [B·S,H]
  const selected = rmsNorm(g.op('Gather', [flat, logitsRows], { axis: int(0) }), 'model.norm.weight', H); // [R,H]
  if (options.output === 'hidden') {
    // An embedding model's body (Qwen3-Embedding): the final-norm hidden states of the requested rows, no lm_head.
    g.op('Identity', [selected], {}, HIDDEN_STATES);
    g.output(HIDDEN_STATES, DataType.FLOAT, ['rows', H]);
    for (let i = 0; i < c.numLayers; i++) {
      g.output(newKeyOutput(i), DataType.FLOAT, ['batch', kvH, 'seq', D]);
      g.output(newValueOutput(i), DataType.FLOAT, ['batch', kvH, 'seq', D]);
    }
    return g.toModelBytes(`serval_${c.modelType}_hidden`);
  }
  const headName = c.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const packedHead = c.tieWordEmbeddings ? null : (weights.packedLinear?.(headName) ?? null);
  // The last op of the chain writes LOGITS itself (an Identity would copy [R,V] every step).
  const divide = c.logitsDivisor !== 1;
  const softcap = c.finalLogitSoftcap;
  const rawName = divide || softcap !== null ? undefined : LOGITS;
  let logits: string;
  if (packedHead !== null) {
    logits = g.op('Identity', [packedMatMul(g, selected, checkedPacked(packedHead, 'lm_head', c.vocabSize, H), 'lm_head', options)], {}, rawName);
  } else if (options.quantize === 'int4') {
    const head = tensor(headName, [c.vocabSize, H]);
    logits = g.op('Identity', [matMulNBits(g, selected, head, c.vocabSize, H, 'lm_head', options)], {}, rawName);
  } else {
    const head = tensor(headName, [c.vocabSize, H]);
    // Gemm with transB reads HF's [V,H] layout directly, so a tied head shares the embedding initializer.
    const headInit = c.tieWordEmbeddings ? embedName : g.floatTensor('lm_head.weight', head, [c.vocabSize, H]);
    logits = g.op('Gemm', [selected, headInit], { transB: int(1) }, rawName);
  }
  if (divide) logits = g.op('Div', [logits, scalar('logits_scaling', c.logitsDivisor)], {}, softcap === null ? LOGITS : undefined);
  if (softcap !== null) {
    const cap = scalar('final_logit_softcap', softcap);
    g.op('Mul', [g.op('Tanh', [g.op('Div', [logits, cap])]), cap], {}, LOGITS);
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

/**
 * Rotates [B,heads,S,D] by position, HF rotate-half style, over the first rotaryDim
 * dimensions (the rest pass through). Sliding layers use their own RoPE base when the
 * config gives one (Gemma 3). Tables are gathered by position once per distinct base.
 */
function ropeApplier(
  g: GraphBuilder,
  c: DecoderConfig,
  positionIds: string,
  maxPositions: number,
  i64: (values: number[]) => string,
): (t: string, sliding: boolean, outputName?: string) => string {
  const R = c.rotaryDim;
  const factors = new Map<string, { cos: string; sin: string }>();
  const factorsFor = (theta: number, scaling: RopeScaling | null): { cos: string; sin: string } => {
    const key = `${theta}/${JSON.stringify(scaling)}`;
    let f = factors.get(key);
    if (f === undefined) {
      const tables = ropeTables(maxPositions, R, theta, scaling);
      const cosHalf = g.op('Gather', [g.floatTensor('rope_cos', tables.cos, [maxPositions, R / 2]), positionIds], { axis: int(0) });
      const sinHalf = g.op('Gather', [g.floatTensor('rope_sin', tables.sin, [maxPositions, R / 2]), positionIds], { axis: int(0) });
      // Full-width factors so rotate-half is one Concat: x·cos + [x2, x1]·[−sin, sin].
      f = {
        cos: g.op('Unsqueeze', [g.op('Concat', [cosHalf, cosHalf], { axis: int(-1) }), i64([1])]), // [B,1,S,R]
        sin: g.op('Unsqueeze', [g.op('Concat', [g.op('Neg', [sinHalf]), sinHalf], { axis: int(-1) }), i64([1])]),
      };
      factors.set(key, f);
    }
    return f;
  };
  const partial = R < c.headDim;
  const splitSizes = partial ? i64([R, c.headDim - R]) : '';
  return (t, sliding, outputName) => {
    const f = sliding && c.slidingRopeTheta !== null ? factorsFor(c.slidingRopeTheta, null) : factorsFor(c.ropeTheta, c.ropeScaling);
    const [rotated, passed] = partial ? g.opMulti('Split', [t, splitSizes], 2, { axis: int(-1) }) : [t, ''];
    const [first, second] = g.opMulti('Split', [rotated], 2, { axis: int(-1) });
    const swapped = g.op('Concat', [second, first], { axis: int(-1) });
    const out = [g.op('Mul', [rotated, f.cos]), g.op('Mul', [swapped, f.sin])];
    if (!partial) return g.op('Add', out, {}, outputName);
    return g.op('Concat', [g.op('Add', out), passed], { axis: int(-1) }, outputName);
  };
}

/** silu(x) = x·σ(x); gelu_tanh(x) = ½x(1 + tanh(√(2/π)(x + 0.044715x³))), HF's gelu_pytorch_tanh. */
function activation(g: GraphBuilder, kind: HiddenActivation, x: string): string {
  if (kind === 'silu') return g.op('Mul', [x, g.op('Sigmoid', [x])]);
  const inner = g.op('Mul', [
    g.op('Add', [x, g.op('Mul', [g.op('Mul', [g.op('Mul', [x, x]), x]), g.floatScalar('gelu_cubic', 0.044715)])]),
    g.floatScalar('gelu_scale', Math.sqrt(2 / Math.PI)),
  ]);
  const halfX = g.op('Mul', [x, g.floatScalar('half', 0.5)]);
  return g.op('Mul', [halfX, g.op('Add', [g.op('Tanh', [inner]), g.floatScalar('one_f', 1)])]);
}

function matMulNBits(g: GraphBuilder, x: string, w: Float32Array, n: number, k: number, name: string, options: DecoderGraphOptions): string {
  return packedMatMul(g, x, { ...quantizeInt4(w, n, k, { blockSize: 32, symmetric: options.int4Symmetric ?? false }), bits: 4, mins: null }, name, options);
}

function checkedPacked(q: PackedLinear, name: string, n: number, k: number): PackedLinear {
  if (q.n !== n || q.k !== k) throw new Error(`${name}.weight: expected shape [${n},${k}], got [${q.n},${q.k}]`);
  return q;
}

/** MatMulNBits over 4- or 8-bit blocks; per-block mins (GGUF Q4_1 / Q4_K) add Σ_block(x)·min, exactly. */
function packedMatMul(g: GraphBuilder, x: string, q: PackedLinear, name: string, options: DecoderGraphOptions): string {
  const { n, k } = q;
  const inputs = [
    x,
    g.uint8Tensor(`${name}.q${q.bits}`, q.packed, [n, q.kBlocks, (q.blockSize * q.bits) / 8]),
    g.floatTensor(`${name}.scales`, q.scales, [n, q.kBlocks]),
  ];
  if (q.zeroPoints) inputs.push(g.uint8Tensor(`${name}.zero_points`, q.zeroPoints, [n, Math.ceil(q.kBlocks / 2)]));
  const y = g.op(
    'MatMulNBits',
    inputs,
    { K: int(k), N: int(n), bits: int(q.bits), block_size: int(q.blockSize), accuracy_level: int(options.int4AccuracyLevel ?? 4) },
    undefined,
    MS_DOMAIN,
  );
  if (q.mins === null) return y;
  // x [.., K] → per-block sums [M, kBlocks] → · minsᵀ [kBlocks, N], reshaped like y.
  const blockSums = g.op('ReduceSum', [g.op('Reshape', [x, g.int64Tensor('const', [-1, q.kBlocks, q.blockSize])]), g.int64Tensor('const', [-1])], { keepdims: int(0) });
  const offsets = g.op('MatMul', [blockSums, g.floatTensor(`${name}.mins`, transpose(q.mins, n, q.kBlocks), [q.kBlocks, n])]);
  return g.op('Add', [y, g.op('Reshape', [offsets, g.op('Shape', [y])])]);
}
