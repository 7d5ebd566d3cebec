// Random weights: deterministic, complete (every HF tensor name with the
// right shape), and scaled as documented: norms near but not equal to one,
// logits with a spread of a few units.

import t from 'tap';
import { MapWeightStore } from '../../src/model/weight-store.js';
import { ModelLoadError } from '../../src/model/errors.js';
import { DECODER_PRESETS, ENCODER_PRESET } from '../../src/model/testmodels/presets.js';
import { randomDecoderWeights, randomEncoderWeights } from '../../src/model/testmodels/random-weights.js';
import type { DecoderConfig } from '../../src/model/types.js';

function stats(x: Float32Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of x) sum += v;
  const mean = sum / x.length;
  let sq = 0;
  for (const v of x) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / x.length) };
}

/** The HF Llama tensor list, written out independently of src/model/tensor-names.ts. */
function expectedLlamaShapes(c: DecoderConfig): Record<string, number[]> {
  const h = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const out: Record<string, number[]> = { 'model.embed_tokens.weight': [c.vocabSize, h], 'model.norm.weight': [h] };
  if (!c.tieWordEmbeddings) out['lm_head.weight'] = [c.vocabSize, h];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    Object.assign(out, {
      [p + 'input_layernorm.weight']: [h],
      [p + 'post_attention_layernorm.weight']: [h],
      [p + 'self_attn.q_proj.weight']: [q, h],
      [p + 'self_attn.k_proj.weight']: [kv, h],
      [p + 'self_attn.v_proj.weight']: [kv, h],
      [p + 'self_attn.o_proj.weight']: [h, q],
      [p + 'mlp.gate_proj.weight']: [c.intermediateSize, h],
      [p + 'mlp.up_proj.weight']: [c.intermediateSize, h],
      [p + 'mlp.down_proj.weight']: [h, c.intermediateSize],
    });
    if (c.attentionBias) Object.assign(out, { [p + 'self_attn.q_proj.bias']: [q], [p + 'self_attn.k_proj.bias']: [kv], [p + 'self_attn.v_proj.bias']: [kv] });
    if (c.qkNorm) Object.assign(out, { [p + 'self_attn.q_norm.weight']: [c.headDim], [p + 'self_attn.k_norm.weight']: [c.headDim] });
  }
  return out;
}

const variants: Array<[string, DecoderConfig]> = [
  ['tiny', DECODER_PRESETS.tiny],
  ['small', DECODER_PRESETS.small],
  ['tiny+qwen2', { ...DECODER_PRESETS.tiny, modelType: 'qwen2', attentionBias: true }],
  ['tiny+qwen3', { ...DECODER_PRESETS.tiny, modelType: 'qwen3', qkNorm: true }],
];

for (const [label, config] of variants) {
  t.test(`${label}: names and shapes`, async (t) => {
    const w = randomDecoderWeights(config, 1);
    const expected = expectedLlamaShapes(config);
    t.same(Object.fromEntries([...w].map(([n, x]) => [n, x.shape])), expected);
    for (const [n, x] of w) if (x.data.length !== x.shape.reduce((a, b) => a * b, 1)) t.fail(`${n} data length`);
  });
}

t.test('deterministic per seed, different across seeds', async (t) => {
  const a = randomDecoderWeights(DECODER_PRESETS.tiny, 5);
  const b = randomDecoderWeights(DECODER_PRESETS.tiny, 5);
  const c = randomDecoderWeights(DECODER_PRESETS.tiny, 6);
  const name = 'model.layers.1.mlp.down_proj.weight';
  t.same([...a.get(name)!.data], [...b.get(name)!.data]);
  t.not(a.get(name)!.data[0], c.get(name)!.data[0]);
  t.not(a.get('model.layers.0.mlp.up_proj.weight')!.data[0], a.get('model.layers.0.mlp.gate_proj.weight')!.data[0], 'tensors have independent streams');
});

t.test('scales: norms ≈ 1 but not 1, linears ≈ 1/sqrt(fan_in), logits spread', async (t) => {
  const c = DECODER_PRESETS.small;
  const w = randomDecoderWeights(c, 3);
  const norm = stats(w.get('model.layers.0.input_layernorm.weight')!.data);
  t.ok(Math.abs(norm.mean - 1) < 0.05 && norm.std > 0.05 && norm.std < 0.2, `norm mean ${norm.mean} std ${norm.std}`);
  const q = stats(w.get('model.layers.0.self_attn.q_proj.weight')!.data);
  t.ok(Math.abs(q.std - 1 / Math.sqrt(c.hiddenSize)) < 0.005, `q_proj std ${q.std}`);
  const down = stats(w.get('model.layers.0.mlp.down_proj.weight')!.data);
  t.ok(Math.abs(down.std - 1 / Math.sqrt(c.intermediateSize)) < 0.005, `down_proj std ${down.std}`);
  // Logits of a unit-RMS hidden vector through lm_head: std should be a few units.
  for (const [label, cfg] of [['small', c], ['tiny (tied)', DECODER_PRESETS.tiny]] as const) {
    const ww = randomDecoderWeights(cfg, 3);
    const head = ww.get(cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')!;
    const h = cfg.hiddenSize;
    const x = new Float32Array(h).map((_, i) => (i % 2 === 0 ? 1 : -1));
    const logits = new Float32Array(cfg.vocabSize);
    for (let v = 0; v < cfg.vocabSize; v++) {
      let s = 0;
      for (let i = 0; i < h; i++) s += head.data[v * h + i] * x[i];
      logits[v] = s;
    }
    const ls = stats(logits);
    t.ok(ls.std > 2 && ls.std < 8, `${label}: logit std ${ls.std.toFixed(2)}`);
  }
});

t.test('encoder weights: BERT names', async (t) => {
  const w = randomEncoderWeights(ENCODER_PRESET, 1);
  const h = ENCODER_PRESET.hiddenSize;
  t.same(w.get('embeddings.word_embeddings.weight')!.shape, [ENCODER_PRESET.vocabSize, h]);
  t.same(w.get('embeddings.position_embeddings.weight')!.shape, [128, h]);
  t.same(w.get('embeddings.token_type_embeddings.weight')!.shape, [2, h]);
  t.same(w.get('encoder.layer.1.intermediate.dense.weight')!.shape, [128, h]);
  t.same(w.get('encoder.layer.1.output.dense.weight')!.shape, [h, 128]);
  t.same(w.get('encoder.layer.0.attention.output.LayerNorm.bias')!.shape, [h]);
  t.equal(w.size, 5 + 2 * 16, '5 embedding tensors + 16 per layer');
  const ln = stats(w.get('embeddings.LayerNorm.weight')!.data);
  t.ok(Math.abs(ln.mean - 1) < 0.1 && ln.std > 0.03);
});

t.test('MapWeightStore', async (t) => {
  const store = new MapWeightStore(randomDecoderWeights(DECODER_PRESETS.tiny, 1), new Map([['model.norm.weight', 'BF16']]), 'mem');
  t.equal(store.dtypeOf('model.norm.weight'), 'BF16');
  t.equal(store.dtypeOf('model.embed_tokens.weight'), 'F32', 'default F32');
  t.ok(store.has('model.embed_tokens.weight'));
  t.notOk(store.has('lm_head.weight'), 'tiny is tied');
  t.throws(() => store.get('lm_head.weight'), ModelLoadError);
  t.throws(() => store.get('nope'), /mem: nope: tensor not found/);
});
