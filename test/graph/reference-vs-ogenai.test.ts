// Checks the reference decoder itself against a model made by someone else's
// exporter: onnxruntime-genai's tiny random Llama (fp16, 2 layers, rotate-half
// RotaryEmbedding, ORT MultiHeadAttention). Its weights are loaded into a
// WeightStore under HF names and the reference's logits are compared with the
// third-party graph's at every position. This pins the reference's RoPE
// convention, norm placement and SwiGLU to an independent implementation.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import t from 'tap';
import { ReferenceDecoder } from '../../src/model/reference/llama-reference.js';
import { llamaBlock } from '../../src/model/llama-block.js';
import type { DecoderConfig, F32Tensor } from '../../src/model/types.js';
import { MapWeightStore } from '../../src/model/weight-store.js';
import { maxAbsDiff, promptTokens } from './harness.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const modelDir = path.resolve(repoRoot, '..', 'shared', 'models', 'onnx', 'ogenai-tiny-random-llama-fp16');

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function floatToHalf(value: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign; // our values never get this small; flush to zero
  if (exp >= 31) return sign | 0x7c00;
  const rounded = (exp << 10) | (mant >>> 13);
  // Round to nearest even on the dropped 13 bits.
  const rest = mant & 0x1fff;
  return sign | (rest > 0x1000 || (rest === 0x1000 && (rounded & 1)) ? rounded + 1 : rounded);
}

/**
 * The third-party model with its weights inlined, and the same weights as float32 by ONNX name.
 * q/k projections are scaled by `qkScale` in both, so attention is peaked and RoPE matters:
 * with the file's own tiny random weights every score is ≈ 0 and softmax is nearly uniform.
 */
function loadModel(qkScale: number): { bytes: Uint8Array; tensors: Map<string, F32Tensor> } {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(path.join(modelDir, 'model.onnx')));
  const data = readFileSync(path.join(modelDir, 'model.onnx.data'));
  const tensors = new Map<string, F32Tensor>();
  for (const init of model.graph!.initializer!) {
    const ext = Object.fromEntries((init.externalData ?? []).map((e) => [e.key, e.value]));
    const offset = Number(ext.offset ?? 0);
    const length = Number(ext.length);
    const raw = new Uint16Array(length / 2);
    for (let i = 0; i < raw.length; i++) raw[i] = data.readUInt16LE(offset + 2 * i);
    if (/attn\.[qk]_proj\.MatMul\.weight$/.test(init.name!)) {
      for (let i = 0; i < raw.length; i++) raw[i] = floatToHalf(halfToFloat(raw[i]) * qkScale);
    }
    tensors.set(init.name!, { shape: (init.dims ?? []).map(Number), data: Float32Array.from(raw, halfToFloat) });
    init.rawData = new Uint8Array(raw.buffer);
    init.externalData = [];
    init.dataLocation = onnxProto.onnx.TensorProto.DataLocation.DEFAULT;
  }
  return { bytes: onnxProto.onnx.ModelProto.encode(model).finish(), tensors };
}

/** MatMul weights are [in, out]; HF Linear weights are [out, in]. */
function transposed(t: F32Tensor): F32Tensor {
  const [rows, cols] = t.shape;
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[c * rows + r] = t.data[r * cols + c];
  return { shape: [cols, rows], data };
}

const QK_SCALE = 40;

const config: DecoderConfig = {
  architecture: 'LlamaForCausalLM',
  modelType: 'llama',
  hiddenSize: 16,
  numLayers: 2,
  numHeads: 1,
  numKvHeads: 1,
  headDim: 16,
  intermediateSize: 64,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  ropeScaling: null,
  maxPositionEmbeddings: 2048,
  tieWordEmbeddings: false,
  vocabSize: 32000,
  attentionBias: false,
  qkNorm: false,
  ...llamaBlock(2, 16),
  bosTokenId: 1,
  eosTokenIds: [2],
};

t.test('reference decoder vs onnxruntime-genai tiny random Llama', { skip: existsSync(modelDir) ? false : `reason: ../shared absent (${modelDir})` }, async (t) => {
  const { bytes, tensors: init } = loadModel(QK_SCALE);
  const hf = new Map<string, F32Tensor>();
  hf.set('model.embed_tokens.weight', init.get('model.embed_tokens.weight')!);
  hf.set('model.norm.weight', init.get('model.layers.2.final_norm_layernorm.weight')!);
  hf.set('lm_head.weight', transposed(init.get('lm_head.MatMul.weight')!));
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    hf.set(`${p}.input_layernorm.weight`, init.get(`${p}.input_layernorm.weight`)!);
    hf.set(`${p}.post_attention_layernorm.weight`, init.get(`${p}.post_attention_layernorm.weight`)!);
    for (const proj of ['q', 'k', 'v', 'o']) hf.set(`${p}.self_attn.${proj}_proj.weight`, transposed(init.get(`${p}.attn.${proj}_proj.MatMul.weight`)!));
    for (const proj of ['gate', 'up', 'down']) hf.set(`${p}.mlp.${proj}_proj.weight`, transposed(init.get(`${p}.mlp.${proj}_proj.MatMul.weight`)!));
  }
  // The exporter's cos table must be θ = 10000 rotate-half, or our config is wrong, not the reference.
  const cosCache = init.get('cos_cache')!;
  t.ok(Math.abs(cosCache.data[1 * 8 + 1] - Math.cos(10000 ** (-2 / 16))) < 1e-3, 'cos_cache matches θ = 10000');

  const ref = new ReferenceDecoder(config, new MapWeightStore(hf));
  const tokens = promptTokens(5, 24, config.vocabSize);
  const expected = ref.forward(ref.newState(), tokens);

  const session = await ort.InferenceSession.create(bytes);
  const S = tokens.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens.map(BigInt)), [1, S]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: S }, (_, i) => BigInt(i)), [1, S]),
  };
  for (let l = 0; l < config.numLayers; l++) {
    feeds[`past_key_values.${l}.key`] = new ort.Tensor('float16', new Uint16Array(0), [1, 1, 0, 16]);
    feeds[`past_key_values.${l}.value`] = new ort.Tensor('float16', new Uint16Array(0), [1, 1, 0, 16]);
  }
  const out = await session.run(feeds);
  // float16 bits in a Uint16Array — or, where the runtime has Float16Array (Node 24), the values in one.
  const raw = out.logits.data as Uint16Array | Float32Array;
  const V = config.vocabSize;
  let worst = 0;
  let scale = 0;
  for (let s = 0; s < S; s++) {
    const row = raw.subarray(s * V, (s + 1) * V);
    const got = row instanceof Uint16Array ? Float32Array.from(row, halfToFloat) : Float32Array.from(row);
    worst = Math.max(worst, maxAbsDiff(got, expected[s]));
    for (const v of expected[s]) scale = Math.max(scale, Math.abs(v));
  }
  // The third-party graph computes in fp16; observed 2e-4 on logits of magnitude ≤ 0.41.
  t.ok(worst <= 2e-3, `max |Δ logits| over ${S} positions = ${worst.toExponential(2)} (max |logit| ${scale.toFixed(3)})`);
});
