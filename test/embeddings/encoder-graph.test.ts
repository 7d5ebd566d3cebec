// Serval's encoder graph (BERT + in-graph pooling/normalisation) against the
// float64 TypeScript reference encoder, on right-padded batches of mixed lengths.

import t from 'tap';
import ort from 'onnxruntime-node';
import {
  buildEncoderGraph,
  ENCODER_ATTENTION_MASK,
  ENCODER_INPUT_IDS,
  ENCODER_TOKEN_TYPE_IDS,
  LAST_HIDDEN_STATE,
  SENTENCE_EMBEDDING,
} from '../../src/model/graph/encoder-graph.js';
import { l2Normalize, poolHidden, ReferenceEncoder } from '../../src/model/reference/bert-reference.js';
import { ENCODER_PRESET } from '../../src/model/testmodels/presets.js';
import { randomEncoderWeights } from '../../src/model/testmodels/random-weights.js';
import type { EncoderConfig, PoolingMode } from '../../src/model/types.js';
import { MapWeightStore } from '../../src/model/weight-store.js';
import { maxAbsDiff } from '../support/compare.js';

const TOLERANCE = 1e-5;

/** Deterministic token rows of the given lengths ([CLS]=2 … [SEP]=3 like the built-in tokenizer). */
function rowsOf(lengths: number[], vocab: number, seed: number): number[][] {
  let x = seed;
  const next = (): number => (x = (x * 1103515245 + 12345) % 2 ** 31);
  return lengths.map((n) => Array.from({ length: n }, (_, i) => (i === 0 ? 2 : i === n - 1 ? 3 : 5 + (next() % (vocab - 5)))));
}

async function runGraph(session: ort.InferenceSession, rows: number[][], types?: number[][]): Promise<{ sentence: Float32Array; hidden: Float32Array; seq: number }> {
  const B = rows.length;
  const S = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(B * S);
  const mask = new BigInt64Array(B * S);
  const tt = new BigInt64Array(B * S);
  rows.forEach((r, b) =>
    r.forEach((id, s) => {
      ids[b * S + s] = BigInt(id);
      mask[b * S + s] = 1n;
      tt[b * S + s] = BigInt(types?.[b][s] ?? 0);
    }),
  );
  const out = await session.run({
    [ENCODER_INPUT_IDS]: new ort.Tensor('int64', ids, [B, S]),
    [ENCODER_ATTENTION_MASK]: new ort.Tensor('int64', mask, [B, S]),
    [ENCODER_TOKEN_TYPE_IDS]: new ort.Tensor('int64', tt, [B, S]),
  });
  return { sentence: out[SENTENCE_EMBEDDING].data as Float32Array, hidden: out[LAST_HIDDEN_STATE].data as Float32Array, seq: S };
}

const cases: Array<{ pooling: PoolingMode; normalize: boolean; act?: EncoderConfig['hiddenAct'] }> = [
  { pooling: 'mean', normalize: true },
  { pooling: 'mean', normalize: false },
  { pooling: 'cls', normalize: true },
  { pooling: 'max', normalize: false },
  { pooling: 'lasttoken', normalize: true },
  { pooling: 'mean', normalize: true, act: 'gelu_new' },
  { pooling: 'cls', normalize: false, act: 'relu' },
];

for (const c of cases) {
  t.test(`pooling ${c.pooling}, normalize ${c.normalize}, ${c.act ?? 'gelu'}`, async (t) => {
    const config: EncoderConfig = { ...ENCODER_PRESET, hiddenAct: c.act ?? 'gelu' };
    const weights = new MapWeightStore(randomEncoderWeights(config, 11));
    const reference = new ReferenceEncoder(config, weights);
    const session = await ort.InferenceSession.create(buildEncoderGraph(config, weights, c), { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
    const lengths = [7, 1, 23, 2, 64, 5];
    const rows = rowsOf(lengths, config.vocabSize, 5);
    const { sentence, hidden, seq } = await runGraph(session, rows);
    const H = config.hiddenSize;
    let worstSentence = 0;
    let worstHidden = 0;
    rows.forEach((ids, b) => {
      const states = reference.forward({ inputIds: ids });
      const mask = ids.map(() => 1);
      let expected = poolHidden(states, mask, c.pooling);
      if (c.normalize) expected = l2Normalize(expected);
      worstSentence = Math.max(worstSentence, maxAbsDiff(sentence.subarray(b * H, (b + 1) * H), expected));
      states.forEach((row, s) => (worstHidden = Math.max(worstHidden, maxAbsDiff(hidden.subarray((b * seq + s) * H, (b * seq + s + 1) * H), row))));
    });
    t.ok(worstSentence < TOLERANCE, `sentence_embedding max |Δ| = ${worstSentence.toExponential(2)}`);
    t.ok(worstHidden < TOLERANCE, `last_hidden_state (real positions) max |Δ| = ${worstHidden.toExponential(2)}`);
    if (c.normalize) {
      for (let b = 0; b < rows.length; b++) {
        const norm = Math.hypot(...sentence.subarray(b * H, (b + 1) * H));
        t.ok(Math.abs(norm - 1) < 1e-5, `row ${b} has unit norm (${norm})`);
      }
    }
  });
}

t.test('token_type_ids reach the embeddings', async (t) => {
  const weights = new MapWeightStore(randomEncoderWeights(ENCODER_PRESET, 4));
  const reference = new ReferenceEncoder(ENCODER_PRESET, weights);
  const session = await ort.InferenceSession.create(buildEncoderGraph(ENCODER_PRESET, weights, { pooling: 'mean', normalize: false }));
  const [ids] = rowsOf([9], ENCODER_PRESET.vocabSize, 9);
  const types = [ids.map((_, i) => (i >= 5 ? 1 : 0))];
  const { sentence } = await runGraph(session, [ids], types);
  const expected = poolHidden(reference.forward({ inputIds: ids, tokenTypeIds: types[0] }), ids.map(() => 1), 'mean');
  const zeroTypes = poolHidden(reference.forward({ inputIds: ids }), ids.map(() => 1), 'mean');
  t.ok(maxAbsDiff(sentence, expected) < TOLERANCE, 'matches the reference with segment ids');
  t.ok(maxAbsDiff(expected, zeroTypes) > 1e-3, 'segment ids change the result (the check above can fail)');
});
