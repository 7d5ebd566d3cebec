// Prometheus series for the operations layer, registered on the server's
// registry next to the vLLM-named ones: the front admission queue (the real
// waiting line once --max-concurrency is on; the scheduler's own
// vllm:num_requests_waiting then stays near zero) and device-worker failures.

import { Counter, Gauge, type Registry } from 'prom-client';
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
