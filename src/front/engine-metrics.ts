// Engine-side Prometheus metrics: scheduler gauges from the actor's periodic
// snapshots, and per-choice phase timings (queue, prefill, decode, inter-token)
// observed on the front as token events arrive.

import type { Engine } from '../engine/client/engine.js';
import type { ServerMetrics } from '../metrics/registry.js';

export function bindEngineMetrics(engine: Engine, metrics: ServerMetrics): void {
  // The actor reports cumulative counts; Prometheus counters take the increase.
  const last = { preemptions: 0, prefixCacheQueries: 0, prefixCacheHits: 0 };
  const advance = (key: keyof typeof last, total: number | undefined, counter: ServerMetrics['numPreemptions']): void => {
    if (total !== undefined && total > last[key]) counter.inc(total - last[key]);
    if (total !== undefined) last[key] = total;
  };
  engine.onStats((stats) => {
    metrics.numRequestsRunning.set(stats.running);
    metrics.numRequestsWaiting.set(stats.waiting);
    const usage = stats.kvUsage.length > 0 ? stats.kvUsage.reduce((a, b) => a + b, 0) / stats.kvUsage.length : 0;
    metrics.kvCacheUsagePerc.set(usage);
    for (const tokens of stats.stepTokens ?? []) metrics.iterationTokens.observe(tokens);
    advance('preemptions', stats.preemptions, metrics.numPreemptions);
    advance('prefixCacheQueries', stats.prefixCacheQueries, metrics.prefixCacheQueries);
    advance('prefixCacheHits', stats.prefixCacheHits, metrics.prefixCacheHits);
  });
}

/** Phase timings of one choice; all times from performance.now(). */
export class ChoiceTimer {
  private readonly metrics: ServerMetrics | null;
  private readonly submittedAt = performance.now();
  private scheduledAt = 0;
  private firstTokenAt = 0;
  private lastTokenAt = 0;

  constructor(metrics: ServerMetrics | null) {
    this.metrics = metrics;
  }

  tokens(count: number, queueTimeMs: number | undefined): void {
    const m = this.metrics;
    if (!m) return;
    const now = performance.now();
    if (this.firstTokenAt === 0) {
      this.firstTokenAt = now;
      this.scheduledAt = this.submittedAt + (queueTimeMs ?? 0);
      m.requestQueueTime.observe((queueTimeMs ?? 0) / 1000);
      m.requestPrefillTime.observe(Math.max(0, now - this.scheduledAt) / 1000);
    } else if (count > 0) {
      const perToken = (now - this.lastTokenAt) / 1000 / count;
      for (let i = 0; i < count; i++) m.interTokenLatency.observe(perToken);
    }
    this.lastTokenAt = now;
  }

  finished(): void {
    const m = this.metrics;
    if (!m || this.firstTokenAt === 0) return;
    const now = performance.now();
    m.requestDecodeTime.observe((now - this.firstTokenAt) / 1000);
    m.requestInferenceTime.observe((now - this.scheduledAt) / 1000);
  }
}
