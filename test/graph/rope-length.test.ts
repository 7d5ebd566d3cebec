// The device worker builds its graph with RoPE tables of exactly the engine's
// max model length N rather than max_position_embeddings (tens of MB for 64k–131k
// contexts). Positions stay absolute, so row p is the same whatever N is: the
// graph still equals the reference at N−1, and it refuses position N. That the
// engine never asks for position N is the scheduler's invariant (KV length ≤
// capacity ≤ maxModelLen), checked on every plan by test/scheduler/harness.ts
// under the random configs of test/scheduler/property.test.ts, and end to end in
// test/e2e/families.test.ts (a reply running into a small --max-model-len). The
// device worker's own tables: test/worker/load-device.test.ts.

import t from 'tap';
import { buildDecoderGraph } from '../../src/model/graph/decoder-graph.js';
import { ropeTables } from '../../src/model/graph/rope-tables.js';
import { createDecoderSession } from '../../src/model/graph/session.js';
import { ReferenceDecoder } from '../../src/model/reference/llama-reference.js';
import { FAMILY_PRESETS } from '../../src/model/testmodels/family-presets.js';
import { randomDecoderWeights } from '../../src/model/testmodels/random-weights.js';
import type { DecoderConfig } from '../../src/model/types.js';
import { MapWeightStore } from '../../src/model/weight-store.js';
import { SequenceCache, maxAbsDiff, promptTokens, runBatch } from './harness.js';

const TOLERANCE = 1e-4;

/** Phi-4-mini (LongRoPE: the last rows use the long factors) and Gemma 3 (two RoPE bases, two pairs of tables). */
const CASES: [string, DecoderConfig, number][] = [
  ['phi4-mini', FAMILY_PRESETS['phi4-mini'], 4100],
  ['gemma3', FAMILY_PRESETS.gemma3, 700],
];

for (const [name, config, N] of CASES) {
  t.test(`${name}: tables of ${N} rows, exact up to position ${N - 1}, position ${N} refused`, async (t) => {
    const weights = new MapWeightStore(randomDecoderWeights(config, 77));
    const graph = buildDecoderGraph(config, weights, { maxPositions: N });
    const full = buildDecoderGraph(config, weights).length;
    const tableBytesPerRow = 2 * (config.rotaryDim / 2) * 4; // cos + sin, fp32
    t.ok(full - graph.length >= (config.maxPositionEmbeddings - N) * tableBytesPerRow, `graph ${graph.length} B vs ${full} B with ${config.maxPositionEmbeddings} rows`);

    const session = await createDecoderSession(graph, { intraOpThreads: 2 });
    const ref = new ReferenceDecoder(config, weights);
    const first = N - 6;
    const tokens = promptTokens(N, 6, config.vocabSize, 300);
    const expected = ref.forward({ ...ref.newState(), length: first }, tokens); // positions N-6 .. N-1
    const cache = new SequenceCache(config, 8, first);
    let worst = 0;
    let start = 0;
    for (const size of [5, 1]) {
      const chunk = tokens.slice(start, start + size);
      const [got] = await runBatch(session, config, [{ cache, tokens: chunk, logitsAt: chunk.map((_, i) => i) }]);
      worst = Math.max(worst, ...got.map((row, i) => maxAbsDiff(row, expected[start + i])));
      start += size;
    }
    t.equal(cache.length, 6);
    t.ok(worst <= TOLERANCE, `positions ${first}..${N - 1}: max |Δ| = ${worst.toExponential(2)}`);
    await t.rejects(runBatch(session, config, [{ cache, tokens: [tokens[0]] }]), /out of (data )?bounds/, `position ${N} is outside the tables`);
  });
}

t.test('a table of N rows is the first N rows of a longer one (LongRoPE switch included)', async (t) => {
  const config = FAMILY_PRESETS['phi4-mini'];
  if (config.ropeScaling?.type !== 'longrope') throw new Error('expected longrope');
  const half = config.rotaryDim / 2;
  const long = ropeTables(8192, config.rotaryDim, config.ropeTheta, config.ropeScaling);
  for (const n of [100, config.ropeScaling.originalMaxPositionEmbeddings, 4100]) {
    const short = ropeTables(n, config.rotaryDim, config.ropeTheta, config.ropeScaling);
    const sameBits = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer).equals(Buffer.from(b.buffer, 0, n * half * 4));
    t.ok(sameBits(short.cos, long.cos) && sameBits(short.sin, long.sin), `${n} rows: bit-identical to the first ${n} of 8192`);
  }
});

t.test('maxPositions beyond max_position_embeddings is refused', async (t) => {
  const config = FAMILY_PRESETS.granite3;
  const weights = new MapWeightStore(randomDecoderWeights(config, 1));
  t.throws(() => buildDecoderGraph(config, weights, { maxPositions: config.maxPositionEmbeddings + 1 }), /maxPositions/);
});
