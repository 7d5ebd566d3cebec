// Prometheus series for the operations layer, registered on the server's
// registry next to the vLLM-named ones: the front admission queue (the real
// waiting line once --max-concurrency is on; the scheduler's own
// vllm:num_requests_waiting then stays near zero) and device-worker failures.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { STEP_KINDS } from '../engine/channel/messages.js';
import type { Engine } from '../engine/client/engine.js';
import type { Admission } from './admission.js';

/** Gauges read at scrape time; safe to call once per registry (later calls are no-ops). */
export function registerAdmissionMetrics(registry: Registry, admission: Admission): void {
  if (registry.getSingleMetric('serval:num_requests_queued') !== undefined) return;
  new Gauge({
    name: 'serval:num_requests_queued',
    help: 'Chat/completions requests waiting in the front admission queue (--max-queue).',
    registers: [registry],
    collect() {
      this.set(admission.queued);
    },
  });
  new Gauge({
    name: 'serval:num_sequences_admitted',
    help: 'Sequences admitted to generate (--max-concurrency budget in use).',
    registers: [registry],
    collect() {
      this.set(admission.active);
    },
  });
}

/** serval:device_failures_total, from the engine's snapshots (a crashed or throwing device worker step). */
export function bindDeviceFailureMetric(registry: Registry, engine: Engine): void {
  if (registry.getSingleMetric('serval:device_failures_total') !== undefined) return;
  const failures = new Counter({ name: 'serval:device_failures_total', help: 'Device worker failures (a crashed thread or a step that threw; the step queued behind it counts with it); their sequences ended with an error.', registers: [registry] });
  let seen = 0;
  engine.onStats((stats) => {
    const total = stats.deviceFailures ?? seen;
    if (total > seen) failures.inc(total - seen);
    seen = total;
  });
}

/**
 * Grammar compiles (off the device step loop), from the engine's snapshots:
 * serval:grammar_compiles_queued / _running (the backlog), and counters of
 * compiles finished and of compiles dropped because their client went away.
 */
export function bindGrammarCompileMetrics(registry: Registry, engine: Engine): void {
  if (registry.getSingleMetric('serval:grammar_compiles_queued') !== undefined) return;
  const queued = new Gauge({ name: 'serval:grammar_compiles_queued', help: 'Structured-output grammars waiting to compile on a device worker (--grammar-compile-queue; beyond it 429).', registers: [registry] });
  const running = new Gauge({ name: 'serval:grammar_compiles_running', help: 'Grammar compiles running (at most one per device worker, between steps).', registers: [registry] });
  const completed = new Counter({ name: 'serval:grammar_compiles_total', help: 'Grammar compiles finished (cache misses; identical grammars share one compile).', registers: [registry] });
  const cancelled = new Counter({ name: 'serval:grammar_compiles_cancelled_total', help: 'Grammar compiles dropped before they started because every request waiting for them went away.', registers: [registry] });
  let seen = { completed: 0, cancelled: 0 };
  engine.onStats((stats) => {
    const c = stats.grammarCompiles;
    if (c === undefined) return;
    queued.set(c.queued);
    running.set(c.running);
    if (c.completed > seen.completed) completed.inc(c.completed - seen.completed);
    if (c.cancelled > seen.cancelled) cancelled.inc(c.cancelled - seen.cancelled);
    seen = { completed: c.completed, cancelled: c.cancelled };
  });
}

const STEP_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5];

/**
 * serval:engine_step_duration_seconds{kind}: each device step's wall time, by
 * what it ran (decode rows only, prompt chunks only, or both). A running
 * stream's inter-token gap is at least its step's time, so the tail of
 * vllm:inter_token_latency_seconds shows up here as the 'mixed' steps.
 */
export function bindStepDurationMetric(registry: Registry, engine: Engine): void {
  if (registry.getSingleMetric('serval:engine_step_duration_seconds') !== undefined) return;
  const histogram = new Histogram({
    name: 'serval:engine_step_duration_seconds',
    help: 'Wall time of a device step on its worker thread, by kind: decode (decode rows only), prompt (prompt chunks only, each maybe with its own next token), mixed (both: running streams waited for prompt work).',
    labelNames: ['kind'],
    buckets: STEP_DURATION_BUCKETS,
    registers: [registry],
  });
  for (const kind of STEP_KINDS) histogram.zero({ kind }); // exported before the first step
  const children = new Map(STEP_KINDS.map((kind) => [kind, histogram.labels({ kind })]));
  engine.onStats((stats) => {
    for (const step of stats.stepDurations ?? []) children.get(step.kind)?.observe(step.ms / 1000);
  });
}
