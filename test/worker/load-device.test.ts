// A device worker loads its graph with RoPE tables of the engine's max model
// length (DeviceWorkerConfig.maxModelLen), not the checkpoint's
// max_position_embeddings (1024 for the tiny preset): position N−1 runs, and a
// row at position N fails in the graph's table Gather. The engine never plans
// that row (see test/graph/rope-length.test.ts for where that is checked).

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { DEFAULT_SAMPLING_PARAMS } from '../../src/sampling/params.js';
import { loadDevice } from '../../src/worker/load-device.js';
import type { DeviceRow, DeviceStep } from '../../src/worker/types.js';

const N = 16;

t.test(`a device loaded for maxModelLen ${N} runs position ${N - 1} and refuses ${N}`, async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'serval-load-device-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const modelDir = path.join(root, 'tiny');
  await writeTestModel('tiny', modelDir);
  const device = await loadDevice({
    deviceIndex: 0,
    modelDir,
    quantize: null,
    sliceKvToMaxPast: false,
    executionProvider: 'cpu',
    intraOpThreads: 1,
    spinning: false,
    maxSlots: 1,
    kvBudgetTokens: 4 * N, // room for a step past N: the tables, not the KV pool, must refuse it
    maxModelLen: N,
  });
  const prompt = Array.from({ length: N - 1 }, (_, i) => 10 + i);
  const step = (tokens: number[], startPos: number, admit = false): DeviceStep => {
    const row: DeviceRow = { seqId: 's', tokens, startPos, sample: true, promptLogprobs: null, followingToken: null };
    const params = { ...DEFAULT_SAMPLING_PARAMS, temperature: 0, ignoreEos: true };
    return {
      release: [],
      capacity: startPos + tokens.length,
      admit: admit ? [{ seqId: 's', params, promptTokenIds: prompt, generatedTokenIds: [], stopTokenIds: [] }] : [],
      rows: [row],
    };
  };
  const prefill = await device.step(step(prompt, 0, true));
  t.equal(prefill.samples.length, 1, `prompt at positions 0..${N - 2}`);
  const last = await device.step(step([prefill.samples[0].token], N - 1));
  t.equal(last.samples.length, 1, `position ${N - 1} runs`);
  await t.rejects(device.step(step([last.samples[0].token], N)), /out of (data )?bounds/, `position ${N} is beyond the tables`);
});
