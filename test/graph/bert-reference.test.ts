// Sanity checks for the BERT reference and pooling helpers, against values
// computed by hand here (not by the code under test).

import t from 'tap';
import { ReferenceEncoder, erf, l2Normalize, poolHidden } from '../../src/model/reference/bert-reference.js';
import { ENCODER_PRESET } from '../../src/model/testmodels/presets.js';
import { randomEncoderWeights } from '../../src/model/testmodels/random-weights.js';
import type { F32Tensor } from '../../src/model/types.js';
import { MapWeightStore } from '../../src/model/weight-store.js';
import { maxAbsDiff } from './harness.js';

t.test('erf matches tabulated values', async (t) => {
  const table: Array<[number, number]> = [
    [0, 0],
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [2.5, 0.999593047982555],
    [3, 0.9999779095030014],
    [-1.5, -0.9661051464753108],
  ];
  for (const [x, expected] of table) t.ok(Math.abs(erf(x) - expected) < 1e-12, `erf(${x}) = ${erf(x)}`);
});

t.test('padding does not change real positions; mean pooling ignores it', async (t) => {
  const encoder = new ReferenceEncoder(ENCODER_PRESET, new MapWeightStore(randomEncoderWeights(ENCODER_PRESET, 3)));
  const ids = [2, 17, 40, 9, 3];
  const plain = encoder.forward({ inputIds: ids });
  const padded = encoder.forward({ inputIds: [...ids, 0, 0, 0], attentionMask: [1, 1, 1, 1, 1, 0, 0, 0] });
  let worst = 0;
  plain.forEach((row, s) => (worst = Math.max(worst, maxAbsDiff(row, padded[s]))));
  t.ok(worst < 1e-5, `max |Δ| = ${worst.toExponential(2)}`);
  const meanPlain = poolHidden(plain, [1, 1, 1, 1, 1], 'mean');
  const meanPadded = poolHidden(padded, [1, 1, 1, 1, 1, 0, 0, 0], 'mean');
  t.ok(maxAbsDiff(meanPlain, meanPadded) < 1e-5);
  t.ok(maxAbsDiff(poolHidden(padded, [1, 1, 1, 1, 1, 0, 0, 0], 'lasttoken'), plain[4]) < 1e-5);
});

t.test('with zeroed attention and FFN, BERT reduces to LayerNorm of the embeddings', async (t) => {
  const weights = randomEncoderWeights(ENCODER_PRESET, 5);
  const h = ENCODER_PRESET.hiddenSize;
  for (const [name, tensor] of weights) {
    if (name.startsWith('encoder.') && !name.includes('LayerNorm')) tensor.data.fill(0);
    if (name.endsWith('LayerNorm.weight')) tensor.data.fill(1);
    if (name.endsWith('LayerNorm.bias')) tensor.data.fill(0);
  }
  const encoder = new ReferenceEncoder(ENCODER_PRESET, new MapWeightStore(weights));
  const ids = [5, 6, 7];
  const types = [0, 1, 1];
  const out = encoder.forward({ inputIds: ids, tokenTypeIds: types });
  const get = (n: string): F32Tensor => weights.get(n)!;
  for (let s = 0; s < ids.length; s++) {
    const e = Array.from({ length: h }, (_, i) =>
      get('embeddings.word_embeddings.weight').data[ids[s] * h + i] +
      get('embeddings.position_embeddings.weight').data[s * h + i] +
      get('embeddings.token_type_embeddings.weight').data[types[s] * h + i],
    );
    const mean = e.reduce((a, b) => a + b, 0) / h;
    const sd = Math.sqrt(e.reduce((a, b) => a + (b - mean) ** 2, 0) / h + ENCODER_PRESET.layerNormEps);
    t.ok(maxAbsDiff(out[s], e.map((v) => (v - mean) / sd)) < 1e-5, `position ${s}`);
  }
});

t.test('pooling modes and L2 normalisation on hand-made rows', async (t) => {
  const rows = [Float32Array.of(1, -2), Float32Array.of(3, 4), Float32Array.of(-5, 10)];
  const mask = [1, 1, 0];
  t.same(Array.from(poolHidden(rows, mask, 'cls')), [1, -2]);
  t.same(Array.from(poolHidden(rows, mask, 'mean')), [2, 1]);
  t.same(Array.from(poolHidden(rows, mask, 'max')), [3, 4]);
  t.same(Array.from(poolHidden(rows, mask, 'lasttoken')), [3, 4]);
  const n = l2Normalize([3, 4]);
  t.ok(Math.abs(n[0] - 0.6) < 1e-7 && Math.abs(n[1] - 0.8) < 1e-7);
  t.same(Array.from(l2Normalize([0, 0])), [0, 0]);
});
