// The front's handle on the encoder workers: one Piscina pool of N threads,
// each with its own ORT session. Encoders hold no per-request state, so any
// thread may run any batch (unlike decoder devices, which own KV slots).

import { Piscina } from 'piscina';
import type { EncoderBatch, EncoderBatchResult, EncoderInfo, EncoderTask, EncoderWorkerConfig } from '../../worker/encoder/types.js';

const WORKER_FILE = new URL('../../../workers/encoder-worker.js', import.meta.url).href;

export class EncoderPool {
  readonly workers: number;
  private readonly pool: Piscina;

  constructor(config: EncoderWorkerConfig, workers: number) {
    if (workers < 1) throw new Error('at least one encoder worker is needed');
    this.workers = workers;
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: workers,
      maxThreads: workers,
      concurrentTasksPerWorker: 1,
      // Workers hold the model for the server's whole life.
      idleTimeout: 2 ** 31 - 1,
      workerData: config,
    });
  }

  /**
   * Resolves once the workers have loaded the model (a one-token probe per
   * worker), with what the model produces; rejects with the load error
   * (e.g. "not an embedding model") otherwise.
   */
  async ready(): Promise<EncoderInfo> {
    const task: EncoderTask = { kind: 'info' };
    const infos = (await Promise.all(Array.from({ length: this.workers }, () => this.pool.run(task)))) as EncoderInfo[];
    return infos[0];
  }

  async run(batch: EncoderBatch): Promise<EncoderBatchResult> {
    const task: EncoderTask = { kind: 'embed', batch };
    return (await this.pool.run(task)) as EncoderBatchResult;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
