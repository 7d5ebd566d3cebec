// Piscina entry point of an encoder worker: one thread, one ORT session.
// Encoders keep no per-request state, so one pool of N such threads serves
// every batch. Each thread starts loading the model at once; a load failure
// (e.g. "not an embedding model") is reported through every task instead of
// killing the thread, which Piscina would otherwise respawn in a loop.

import { workerData } from 'node:worker_threads';
import { loadEncoder, type LoadedEncoder } from '../src/worker/encoder/load-encoder.js';
import type { EncoderBatchResult, EncoderInfo, EncoderTask, EncoderWorkerConfig } from '../src/worker/encoder/types.js';

const config = workerData as EncoderWorkerConfig;
const loading: Promise<LoadedEncoder> = loadEncoder(config);
loading.catch(() => undefined); // observed by the tasks below

/** A one-token probe tells the front the embedding size whatever the export declares. */
async function info(encoder: LoadedEncoder): Promise<EncoderInfo> {
  const probe = await encoder.runner.run({ ids: Int32Array.of(0), offsets: Int32Array.of(0, 1) });
  return { source: encoder.source, onnxPath: encoder.onnxPath, dimensions: probe.dimensions, inputNames: encoder.runner.inputNames };
}

export default async function run(task: EncoderTask): Promise<EncoderBatchResult | EncoderInfo> {
  const encoder = await loading;
  return task.kind === 'info' ? info(encoder) : encoder.runner.run(task.batch);
}
