// The cross-encoder graph (encoder + classifier head on the first token)
// against the float64 reference, for the BERT (ms-marco-MiniLM) and XLM-R
// (bge-reranker) presets, on right-padded batches of pairs of mixed lengths.

import t from 'tap';
import ort from 'onnxruntime-node';
import { buildEncoderGraph, CLASSIFIER_LOGITS, ENCODER_ATTENTION_MASK, ENCODER_INPUT_IDS, ENCODER_TOKEN_TYPE_IDS } from '../../src/model/graph/encoder-graph.js';
import { ReferenceCrossEncoder } from '../../src/model/reference/cross-encoder-reference.js';
import { ENCODER_FAMILY_PRESETS } from '../../src/model/testmodels/encoder-presets.js';
import { randomEncoderWeights } from '../../src/model/testmodels/random-weights.js';
import { MapWeightStore } from '../../src/model/weight-store.js';
import { maxAbsDiff } from '../support/compare.js';

const TOLERANCE = 1e-5;

for (const name of ['bert-rerank', 'xlmr-rerank'] as const) {
  t.test(`${name}: graph logits = reference on a padded batch of pairs`, async (t) => {
    const config = ENCODER_FAMILY_PRESETS[name].config;
    const weights = new MapWeightStore(randomEncoderWeights(config, 31));
    const reference = new ReferenceCrossEncoder(config, weights);
    const session = await ort.InferenceSession.create(buildEncoderGraph(config, weights, { pooling: 'cls', normalize: false }), { intraOpNumThreads: 1 });
    let x = 3;
    const next = (): number => 5 + ((x = (x * 1103515245 + 12345) % 2 ** 31) % (config.vocabSize - 6));
    const bert = config.modelType === 'bert';
    // [CLS] q [SEP] d [SEP] with segment ids 0/1 (BERT), <s> q </s></s> d </s> all type 0 (XLM-R).
    const pairs = [
      [3, 9],
      [1, 1],
      [6, 20],
      [2, 4],
    ].map(([q, d]) => {
      const query = Array.from({ length: q }, next);
      const doc = Array.from({ length: d }, next);
      const ids = bert ? [2, ...query, 3, ...doc, 3] : [0, ...query, 2, 2, ...doc, 2];
      const types = bert ? ids.map((_, i) => (i < q + 2 ? 0 : 1)) : ids.map(() => 0);
      return { ids, types };
    });
    const B = pairs.length;
    const S = Math.max(...pairs.map((p) => p.ids.length));
    const ids = new BigInt64Array(B * S);
    const mask = new BigInt64Array(B * S);
    const types = new BigInt64Array(B * S);
    pairs.forEach((p, b) =>
      p.ids.forEach((id, s) => {
        ids[b * S + s] = BigInt(id);
        mask[b * S + s] = 1n;
        types[b * S + s] = BigInt(p.types[s]);
      }),
    );
    const out = await session.run({
      [ENCODER_INPUT_IDS]: new ort.Tensor('int64', ids, [B, S]),
      [ENCODER_ATTENTION_MASK]: new ort.Tensor('int64', mask, [B, S]),
      [ENCODER_TOKEN_TYPE_IDS]: new ort.Tensor('int64', types, [B, S]),
    });
    const logits = out[CLASSIFIER_LOGITS];
    t.same(logits.dims, [B, 1], 'one logit per pair');
    const got = logits.data as Float32Array;
    const expected = pairs.map((p) => reference.logits({ inputIds: p.ids, tokenTypeIds: p.types })[0]);
    pairs.forEach((p, b) => {
      const d = Math.abs(got[b] - expected[b]);
      t.ok(d < TOLERANCE, `pair ${b} (${p.ids.length} tokens, padded to ${S}): logit ${got[b].toFixed(4)}, |Δ| = ${d.toExponential(2)}`);
    });
    t.ok(maxAbsDiff(expected, expected.map(() => expected[0])) > 1e-3, 'the pairs get different logits (the check can fail)');
    if (bert) {
      const zeroTypes = reference.logits({ inputIds: pairs[0].ids })[0];
      t.ok(Math.abs(zeroTypes - expected[0]) > 1e-4, 'segment ids change a BERT score (so feeding them is tested)');
    }
  });
}
