// A device worker's engine room on the tiny test model, in this thread: the
// worker tests drive Device.step() by hand and watch its announcements.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import type { Device } from '../../src/worker/device.js';
import { loadDevice } from '../../src/worker/load-device.js';
import type { AnnouncedSamples } from '../../src/worker/types.js';

/** 8 slots of up to 64 positions; the model folder is removed when `t` ends. */
export async function loadTinyDevice(t: Test, announce: (message: AnnouncedSamples) => void): Promise<Device> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'serval-device-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const modelDir = path.join(root, 'tiny');
  await writeTestModel('tiny', modelDir);
  return loadDevice(
    { deviceIndex: 0, modelDir, quantize: null, sliceKvToMaxPast: false, executionProvider: 'cpu', intraOpThreads: 1, spinning: false, maxSlots: 8, kvBudgetTokens: 8 * 64, maxModelLen: 64 },
    announce,
  );
}
