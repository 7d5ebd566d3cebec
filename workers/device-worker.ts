// Piscina entry point of a device worker: one thread, one ORT session, one KV
// slot pool. Each pool has exactly one such thread, so a request's KV stays on
// the worker that prefilled it; Piscina restarts the thread if it dies.
// Piscina may hand over the next step while one runs (pipelining): steps run
// strictly one after another, in the order they arrived.

import { workerData, type MessagePort } from 'node:worker_threads';
import { loadDevice } from '../src/worker/load-device.js';
import type { DeviceStep, DeviceStepResult, DeviceWorkerConfig, GrammarCompileTask, SamplesPortTask } from '../src/worker/types.js';

const config = workerData as DeviceWorkerConfig;
/** Where announced samples go (SamplesPortTask); none until the actor sends it. */
let samplesPort: MessagePort | null = null;
const device = await loadDevice(config, (announced) => samplesPort?.postMessage(announced));
const testHooks = config.testHooks === true && process.env.SERVAL_TEST_HOOKS === '1';
/** Test-only: every grammar compile also blocks this thread this long, as a big schema's compile would. */
const compileDelayMs = testHooks ? Number(process.env.SERVAL_TEST_COMPILE_DELAY_MS ?? 0) : 0;

let previous: Promise<unknown> = Promise.resolve();

export default function runTask(task: DeviceStep | GrammarCompileTask | SamplesPortTask): Promise<DeviceStepResult | null> {
  if (!('kind' in task)) return runStep(task);
  if (task.kind === 'compile-grammar') return compile(task);
  samplesPort?.close();
  samplesPort = task.port;
  samplesPort.unref();
  return Promise.resolve(null);
}

/** A grammar compile is a task of its own, queued like a step: steps before it and after it do not wait inside it. */
function compile(task: GrammarCompileTask): Promise<null> {
  const run = previous.then(async () => {
    if (compileDelayMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, compileDelayMs);
    await device.compileGrammar(task);
    return null;
  });
  previous = run.catch(() => undefined);
  return run;
}

function runStep(step: DeviceStep): Promise<DeviceStepResult> {
  const run = previous.then(() => {
    if (testHooks && step.fault === 'throw') throw new Error('test fault: device worker threw');
    if (testHooks && step.fault === 'crash') process.exit(70);
    return device.step(step);
  });
  previous = run.catch(() => undefined);
  return run;
}
