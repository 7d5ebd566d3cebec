// Engine configuration, used on both threads: what `Engine.create` takes
// (resolved by resolveEngineConfig from EngineOptions), plain data that
// crosses into the scheduler actor thread.

import os from 'node:os';
import { DEFAULT_MAX_PREFILL_TOKENS_WITH_DECODE } from '../scheduler/config.js';
import type { SchedulingPolicy } from '../scheduler/types.js';
import type { ExecutionProviderConfig } from '../worker/types.js';

export interface EngineConfig {
  modelDir: string;
  /** One device worker per entry. */
  devices: ExecutionProviderConfig[];
  intraOpThreads: number;
  /** ORT intra-op spinning; off when several sessions share the cores. */
  spinning: boolean;
  /** KV slots per worker: the largest decode batch. */
  maxBatchSize: number;
  /** Tokens per step (decode rows + prefill chunks). */
  maxBatchTokens: number;
  /** Prefill tokens a step may add to its decode rows (a step without decode rows gets maxBatchTokens). */
  maxPrefillTokensWithDecode: number;
  /** null: the model's max_position_embeddings. */
  maxModelLen: number | null;
  /** KV positions per worker; null: maxBatchSize × maxModelLen. */
  kvCacheTokens: number | null;
  /** Per-slot KV capacity grows and shrinks in steps of this many positions. */
  capacityGranule: number;
  quantize: 'int4' | null;
  sliceKvToMaxPast: boolean;
  /**
   * Steps queued per device worker: 2 forms a worker's next step while its
   * current one runs, so it starts without a round trip through the scheduler
   * actor; 1 is lock-step. Default: 2 when a device is a GPU (run() then waits
   * on the device, and a round trip is idle device time), 1 on CPU, where the
   * actor's work competes with onnxruntime for the same cores and the two
   * measured the same throughput (6 paired runs of the bench:engine workload,
   * pipelined / lock-step tok/s 0.96–1.04) while lock-step admits new requests
   * one step sooner.
   */
  pipelineDepth: 1 | 2;
  /** Automatic prefix caching (SchedulerConfig.prefixCaching); default on. */
  prefixCaching: boolean;
  /** --scheduling-policy: 'priority' orders admission and preemption by the requests' `priority` (lower first); 'fcfs' refuses a non-zero one. */
  schedulingPolicy: SchedulingPolicy;
  /** Grammar compiles waiting for a device worker before new structured-output requests get 429. */
  maxQueuedGrammarCompiles: number;
  /** Enables test-only fault hooks (also needs SERVAL_TEST_HOOKS=1). */
  testHooks: boolean;
}

/** Default of --grammar-compile-queue: at ~1.2 s per compile of a 150k vocabulary, under a minute of backlog. */
export const DEFAULT_MAX_QUEUED_GRAMMAR_COMPILES = 32;

/** Without --max-model-len, the context is the model's max_position_embeddings up to this. */
export const DEFAULT_MAX_MODEL_LEN_CAP = 2048;

export type EngineOptions = Partial<EngineConfig> & { modelDir: string; workers?: number };

export function resolveEngineConfig(options: EngineOptions): EngineConfig {
  const devices = options.devices ?? Array.from({ length: options.workers ?? 1 }, (): ExecutionProviderConfig => 'cpu');
  if (devices.length === 0) throw new Error('at least one device worker is needed');
  const cpuWorkers = devices.filter((device) => device === 'cpu').length;
  const threads = options.intraOpThreads ?? Math.max(1, Math.floor(os.availableParallelism() / Math.max(1, cpuWorkers)));
  return {
    modelDir: options.modelDir,
    devices,
    intraOpThreads: threads,
    // With several CPU sessions, spinning threads steal cores from the other sessions.
    spinning: options.spinning ?? cpuWorkers <= 1,
    maxBatchSize: options.maxBatchSize ?? 32,
    maxBatchTokens: options.maxBatchTokens ?? 512,
    maxPrefillTokensWithDecode: options.maxPrefillTokensWithDecode ?? DEFAULT_MAX_PREFILL_TOKENS_WITH_DECODE,
    maxModelLen: options.maxModelLen ?? null,
    kvCacheTokens: options.kvCacheTokens ?? null,
    capacityGranule: options.capacityGranule ?? 64,
    quantize: options.quantize ?? null,
    sliceKvToMaxPast: options.sliceKvToMaxPast ?? false,
    pipelineDepth: options.pipelineDepth ?? (devices.some((device) => device !== 'cpu') ? 2 : 1),
    prefixCaching: options.prefixCaching ?? true,
    schedulingPolicy: options.schedulingPolicy ?? 'fcfs',
    maxQueuedGrammarCompiles: options.maxQueuedGrammarCompiles ?? DEFAULT_MAX_QUEUED_GRAMMAR_COMPILES,
    testHooks: options.testHooks ?? false,
  };
}

/** Parses `--device`: 'cpu' or 'cuda:0,cuda:1'. */
export function parseDevices(spec: string, workers: number): ExecutionProviderConfig[] {
  if (spec === 'cpu') return Array.from({ length: workers }, (): ExecutionProviderConfig => 'cpu');
  return spec.split(',').map((part) => {
    const match = /^cuda:(\d+)$/.exec(part.trim());
    if (!match) throw new Error(`--device: expected 'cpu' or 'cuda:N[,cuda:M…]', got '${part}'`);
    return { name: 'cuda', deviceId: Number(match[1]) };
  });
}
