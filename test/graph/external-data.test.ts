// Weights staged in an external-data file (how the server loads a model) give
// the same graph as weights inside the protobuf: the same logits, bit for bit,
// from a protobuf that no longer carries the weights; and the staging folder
// is gone once the session is open.

import { existsSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { buildDecoderGraph } from '../../src/model/graph/decoder-graph.js';
import { ExternalDataWriter, StagedModel } from '../../src/model/graph/external-data.js';
import { createDecoderSession, createStagedSession } from '../../src/model/graph/session.js';
import { DECODER_PRESETS } from '../../src/model/testmodels/presets.js';
import { randomDecoderWeights } from '../../src/model/testmodels/random-weights.js';
import { MapWeightStore } from '../../src/model/weight-store.js';
import { SequenceCache, promptTokens, runBatch } from './harness.js';

const config = DECODER_PRESETS.small;
const weights = new MapWeightStore(randomDecoderWeights(config, 11));
const SESSION = { intraOpThreads: 1 };

t.test('staged external data: same logits as inline weights, small protobuf, staging removed', async (t) => {
  const inline = buildDecoderGraph(config, weights, { maxPositions: 256 });
  let stagedDir = '';
  let stagedGraphBytes = 0;
  const staged = await createStagedSession((externalData) => {
    stagedDir = externalData.dir;
    const graph = buildDecoderGraph(config, weights, { maxPositions: 256, externalData });
    stagedGraphBytes = graph.length;
    return graph;
  }, SESSION);
  t.teardown(() => staged.release());
  const reference = await createDecoderSession(inline, SESSION);
  t.teardown(() => reference.release());

  t.ok(stagedGraphBytes < inline.length / 20, `protobuf ${stagedGraphBytes} B without the weights (inline: ${inline.length} B)`);
  t.notOk(existsSync(stagedDir), 'the staging folder is removed once the session is open');

  const prompt = promptTokens(5, 23, config.vocabSize);
  const a = new SequenceCache(config, 64);
  const b = new SequenceCache(config, 64);
  const [[fromStaged]] = await runBatch(staged, config, [{ cache: a, tokens: prompt }]);
  const [[fromInline]] = await runBatch(reference, config, [{ cache: b, tokens: prompt }]);
  t.same(Array.from(fromStaged), Array.from(fromInline), 'prefill logits identical');
  const [[stepStaged]] = await runBatch(staged, config, [{ cache: a, tokens: [7] }]);
  const [[stepInline]] = await runBatch(reference, config, [{ cache: b, tokens: [7] }]);
  t.same(Array.from(stepStaged), Array.from(stepInline), 'cached decode logits identical');
});

t.test('the writer page-aligns every tensor and the staging folder cleans up after a failed build', async (t) => {
  const staged = StagedModel.create();
  const writer: ExternalDataWriter = staged.weights;
  const first = writer.append(new Uint8Array(5000).fill(1));
  const second = writer.append(new Uint8Array(10).fill(2));
  t.same([first.offset, first.length], [0, 5000]);
  t.same([second.offset, second.length], [8192, 10], 'next tensor starts on the next 4 KiB page');
  const modelPath = staged.finish(new Uint8Array([1, 2, 3]));
  t.equal(statSync(path.join(staged.dir, 'weights.bin')).size, 8202);
  t.ok(existsSync(modelPath));
  staged.remove();
  t.notOk(existsSync(staged.dir));

  const before = readdirSync(os.tmpdir()).filter((name) => name.startsWith('serval-graph-')).length;
  await t.rejects(
    createStagedSession(() => {
      throw new Error('build failed');
    }, SESSION),
    /build failed/,
  );
  const after = readdirSync(os.tmpdir()).filter((name) => name.startsWith('serval-graph-')).length;
  t.ok(after <= before, 'no staging folder left behind');
});
