// Runs in the scheduler actor thread: its handle on one device worker. Each device is its own
// one-thread Piscina pool: Piscina gives us the thread lifecycle (start, crash
// detection, replacement), while affinity stays ours because a pool holds
// exactly one thread and therefore one KV slot pool.

import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { AnnouncedSamples, DeviceStep, DeviceStepResult, DeviceWorkerConfig, GrammarCompileTask, SamplesPortTask } from '../../worker/types.js';
import type { Grammar } from '../../structured/grammar.js';
import type { Device } from './core.js';

const WORKER_FILE = new URL('../../../workers/device-worker.js', import.meta.url).href;

export class DeviceLostError extends Error {
  readonly deviceIndex: number;
  constructor(deviceIndex: number, cause: unknown) {
    super(`device worker ${deviceIndex} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.deviceIndex = deviceIndex;
  }
}

export class DeviceHandle implements Device {
  readonly index: number;
  private readonly pool: Piscina;
  /** Our end of the port the worker posts AnnouncedSamples on (a new one per ready(): a replacement thread needs its own). */
  private samplesPort: MessagePort | null = null;
  private onSamples: ((announced: AnnouncedSamples) => void) | null = null;

  /** `pipelineDepth` steps may be queued on the thread at once; it runs them one after another. */
  constructor(config: DeviceWorkerConfig, pipelineDepth: number) {
    this.index = config.deviceIndex;
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: pipelineDepth,
      // A device worker holds its model and KV for the server's whole life.
      idleTimeout: 2 ** 31 - 1,
      workerData: config,
      // Threads for ORT are set explicitly; Piscina must not add its own limits.
      resourceLimits: undefined,
    });
  }

  /** Resolves once the worker has loaded its model; hands it a fresh port for announced samples. */
  async ready(): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (announced: AnnouncedSamples) => this.onSamples?.(announced));
    port1.unref();
    this.samplesPort?.close();
    this.samplesPort = port1;
    const task: SamplesPortTask = { kind: 'samples-port', port: port2 };
    await this.runOrLost(task, [port2]);
  }

  /**
   * Runs one step. If the worker dies or throws, its KV state is gone: the
   * caller must fail every sequence it held; Piscina starts a fresh thread,
   * which reloads the model on its first task.
   */
  async run(step: DeviceStep): Promise<DeviceStepResult> {
    return (await this.runOrLost(step)) as DeviceStepResult;
  }

  /** A task on the worker's thread; its failure means the thread and its KV state are gone. */
  private async runOrLost(task: DeviceStep | SamplesPortTask, transferList: MessagePort[] = []): Promise<unknown> {
    try {
      return await this.pool.run(task, { transferList });
    } catch (error) {
      throw new DeviceLostError(this.index, error);
    }
  }

  /** Calls `listener` with what the worker announces for steps that ask for it (DeviceStep.announce). */
  onAnnouncedSamples(listener: (announced: AnnouncedSamples) => void): void {
    this.onSamples = listener;
  }

  /** A grammar compile as a task of its own on the worker's thread, queued between steps. */
  async compileGrammar(grammar: Grammar): Promise<void> {
    const task: GrammarCompileTask = { kind: 'compile-grammar', grammar };
    try {
      await this.pool.run(task);
    } catch (error) {
      throw error instanceof Error ? error : new Error(String(error));
    }
  }

  async close(): Promise<void> {
    this.samplesPort?.close();
    await this.pool.destroy();
  }
}
