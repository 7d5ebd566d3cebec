// Piscina entry point of a device worker: one thread, one ORT session, one KV
// slot pool. Each pool has exactly one such thread, so a request's KV stays on
// the worker that prefilled it; Piscina restarts the thread if it dies.

import { workerData } from 'node:worker_threads';
import { loadDevice } from '../src/worker/load-device.js';
import type { DeviceStep, DeviceStepResult, DeviceWorkerConfig } from '../src/worker/types.js';

const config = workerData as DeviceWorkerConfig;
const device = await loadDevice(config);
const testHooks = config.testHooks === true && process.env.SERVAL_TEST_HOOKS === '1';

export default async function runStep(step: DeviceStep): Promise<DeviceStepResult> {
  if (testHooks && step.fault === 'throw') throw new Error('test fault: device worker threw');
  if (testHooks && step.fault === 'crash') process.exit(70);
  return device.step(step);
}
