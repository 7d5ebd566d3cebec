// DecoderForward's two fetch modes on the same inputs: the in-graph argmax
// equals the argmax of the fetched logits rows (ties → lowest id, as the
// sampler's greedy path), and the new K/V are identical either way.

import t from 'tap';
import { buildDecoderGraph } from '../../src/model/graph/decoder-graph.js';
import { createDecoderSession } from '../../src/model/graph/session.js';
import { argmax } from '../../src/model/reference/llama-reference.js';
import { DECODER_PRESETS } from '../../src/model/testmodels/presets.js';
import { randomDecoderWeights } from '../../src/model/testmodels/random-weights.js';
import { MapWeightStore } from '../../src/model/weight-store.js';
import { DecoderForward } from '../../src/worker/forward.js';
import { mulberry32 } from '../support/random.js';

const config = DECODER_PRESETS.tiny;
const weights = new MapWeightStore(randomDecoderWeights(config, 77));
for (const quantize of [undefined, 'int4'] as const) {
  t.test(`runGreedy returns the argmax of the rows run() returns, and the same new K/V (${quantize ?? 'fp32'})`, async (t) => {
    const session = await createDecoderSession(buildDecoderGraph(config, weights, { quantize }), { intraOpThreads: 1 });
    t.teardown(() => session.release());
    const forward = new DecoderForward(session, { layers: config.numLayers, kvHeads: config.numKvHeads, headDim: config.headDim, vocabSize: config.vocabSize });
    const next = mulberry32(5);
    const batch = 6;
    const capacity = 40;
    const pasts = [0, 3, 17, 39, 25, 8];
    const kvSize = batch * config.numKvHeads * capacity * config.headDim;
    const randomKv = (): Float32Array[] => Array.from({ length: config.numLayers }, () => Float32Array.from({ length: kvSize }, () => next() - 0.5));
    const input = {
      batch,
      seqLen: 1,
      inputIds: BigInt64Array.from(pasts, () => BigInt(3 + Math.floor(next() * (config.vocabSize - 3)))),
      positionIds: BigInt64Array.from(pasts, BigInt),
      pastLens: BigInt64Array.from(pasts, BigInt),
      newLens: new BigInt64Array(batch).fill(1n),
      // Rows out of order and one row twice: the argmax follows logits_rows.
      logitsRows: BigInt64Array.from([5, 0, 2, 2, 4, 1, 3], BigInt),
      keys: randomKv(),
      values: randomKv(),
      capacity,
    };
    const full = await forward.run(input);
    const greedy = await forward.runGreedy(input);
    const V = config.vocabSize;
    const expected = Array.from({ length: input.logitsRows.length }, (_, r) => argmax(full.logits.subarray(r * V, (r + 1) * V)));
    t.same(Array.from(greedy.greedyTokenIds, Number), expected);
    t.ok(new Set(expected).size > 1, 'rows pick different tokens');
    for (let layer = 0; layer < config.numLayers; layer++) {
      t.same(Array.from(greedy.newKeys[layer]), Array.from(full.newKeys[layer]), `layer ${layer} keys`);
      t.same(Array.from(greedy.newValues[layer]), Array.from(full.newValues[layer]), `layer ${layer} values`);
    }
  });
}
