// Scheduler configuration: defaults and the checks that make the policy's
// guarantees hold (every decode row fits a step; a lone sequence always fits).

import { SchedulerConfigError } from './errors.js';
import type { SchedulerConfig, SchedulerConfigInput } from './types.js';

export const DEFAULT_CAPACITY_GRANULE = 64;
export const MAX_PIPELINE_DEPTH = 2;
/** Measured with bench/http.ts: see the README's Benchmarks section. */
export const DEFAULT_MAX_PREFILL_TOKENS_WITH_DECODE = 128;

export function resolveSchedulerConfig(input: SchedulerConfigInput): SchedulerConfig {
  const cfg: SchedulerConfig = {
    ...input,
    capacityGranule: input.capacityGranule ?? DEFAULT_CAPACITY_GRANULE,
    kvBudgetTokensPerWorker: input.kvBudgetTokensPerWorker ?? input.maxSlotsPerWorker * input.maxModelLen,
    pipelineDepth: input.pipelineDepth ?? 1,
    prefixCaching: input.prefixCaching ?? false,
    schedulingPolicy: input.schedulingPolicy ?? 'fcfs',
    maxPrefillTokensWithDecode: input.maxPrefillTokensWithDecode ?? DEFAULT_MAX_PREFILL_TOKENS_WITH_DECODE,
  };
  const positive: (keyof SchedulerConfig)[] = [
    'workers',
    'maxSlotsPerWorker',
    'maxBatchTokens',
    'maxModelLen',
    'kvBudgetTokensPerWorker',
    'capacityGranule',
    'maxPrefillTokensWithDecode',
  ];
  for (const k of positive) {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new SchedulerConfigError(`${k} must be a positive integer, got ${String(v)}`);
    }
  }
  if (cfg.pipelineDepth !== 1 && cfg.pipelineDepth !== MAX_PIPELINE_DEPTH) {
    throw new SchedulerConfigError(`pipelineDepth must be 1 or ${MAX_PIPELINE_DEPTH}, got ${String(cfg.pipelineDepth)}`);
  }
  if (cfg.schedulingPolicy !== 'fcfs' && cfg.schedulingPolicy !== 'priority') {
    throw new SchedulerConfigError(`schedulingPolicy must be 'fcfs' or 'priority', got ${String(cfg.schedulingPolicy)}`);
  }
  if (cfg.maxModelLen < 2) throw new SchedulerConfigError('maxModelLen must be ≥ 2 (one prompt token + one generated)');
  // Decode rows cost one token each and are never deferred, so they must all fit one step.
  if (cfg.maxBatchTokens < cfg.maxSlotsPerWorker) {
    throw new SchedulerConfigError(
      `the step token budget (maxBatchTokens, --max-batch-tokens: ${cfg.maxBatchTokens}) must be ≥ the KV slots per worker (maxSlotsPerWorker, --max-batch-size: ${cfg.maxSlotsPerWorker})`,
    );
  }
  // A sequence alone on its worker must always fit, or the oldest one could be stuck forever.
  if (cfg.kvBudgetTokensPerWorker < cfg.maxModelLen) {
    throw new SchedulerConfigError(
      `the KV budget per worker (kvBudgetTokensPerWorker, --kv-cache-tokens: ${cfg.kvBudgetTokensPerWorker}) must hold one sequence of the max model length (maxModelLen: ${cfg.maxModelLen})`,
    );
  }
  return cfg;
}
