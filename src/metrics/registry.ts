// Prometheus metrics, on a dedicated Registry (never prom-client's global one,
// so tests and embedders can run several servers in one process).
//
// Names follow vLLM's (`vllm:` prefix, colons are legal in Prometheus names)
// so existing vLLM Grafana dashboards and autoscalers scrape Serval
// unchanged; every vllm:* series carries the `model_name` label like vLLM's.
// Metrics without a vLLM counterpart use plain names (`http_requests_total`).
//
// Who updates what (see docs/metrics.md):
//  - HTTP layer (src/front): http_*, request_success, prompt/generation token
//    counters, TTFT, TPOT, e2e latency, per-request token histograms.
//  - Engine (lead): running/waiting gauges, KV-cache usage, queue/prefill/
//    decode time, inter-token latency, iteration tokens, preemptions, prefix cache.
// Children are pre-bound to their labels so hot paths do no label lookups.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type FinishedReasonLabel = 'stop' | 'length' | 'abort' | 'error';

// vLLM's bucket choices, so histogram_quantile() panels line up.
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const TOKEN_LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const REQUEST_LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];
const HTTP_LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const ITERATION_TOKEN_BUCKETS = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

/** 1, 2, 5, 10, 20, 50, … up to `max` (vLLM's build_1_2_5_buckets). */
export function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let exp = 1; ; exp *= 10) {
    for (const m of [1, 2, 5]) {
      if (m * exp > max) return out;
      out.push(m * exp);
    }
  }
}

interface CounterChild { inc(value?: number): void }
interface GaugeChild { set(value: number): void; inc(value?: number): void; dec(value?: number): void }
interface HistogramChild { observe(value: number): void }

export interface ServerMetrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;

  // --- HTTP layer -------------------------------------------------------
  /** http_requests_total{route,method,status}: `route` is the route pattern (bounded cardinality), '*' when unmatched. */
  httpRequest(route: string, method: string, status: number, seconds: number): void;

  // --- per-request outcome (HTTP layer) -----------------------------------
  readonly requestSuccess: Readonly<Record<FinishedReasonLabel, CounterChild>>;
  readonly promptTokens: CounterChild;
  readonly generationTokens: CounterChild;
  readonly requestPromptTokens: HistogramChild;
  readonly requestGenerationTokens: HistogramChild;
  readonly timeToFirstToken: HistogramChild;
  readonly timePerOutputToken: HistogramChild;
  readonly e2eRequestLatency: HistogramChild;

  // --- engine (lead) ------------------------------------------------------
  readonly numRequestsRunning: GaugeChild;
  readonly numRequestsWaiting: GaugeChild;
  /** Fraction 0..1 of KV-cache capacity in use. */
  readonly kvCacheUsagePerc: GaugeChild;
  readonly interTokenLatency: HistogramChild;
  readonly requestQueueTime: HistogramChild;
  readonly requestPrefillTime: HistogramChild;
  readonly requestDecodeTime: HistogramChild;
  readonly requestInferenceTime: HistogramChild;
  /** Tokens (prefill + decode) scheduled in one engine step. */
  readonly iterationTokens: HistogramChild;
  readonly numPreemptions: CounterChild;
  readonly prefixCacheQueries: CounterChild;
  readonly prefixCacheHits: CounterChild;
}

export interface MetricsOptions {
  /** Value of the `model_name` label on vllm:* series (the served chat model id). */
  modelName: string;
  /** Upper bound for the per-request token histograms' buckets (default 8192). */
  maxModelLen?: number;
  /** process_* and nodejs_* metrics (default true). */
  collectDefaults?: boolean;
}

export function createMetrics(opts: MetricsOptions): ServerMetrics {
  const registry = new Registry();
  if (opts.collectDefaults ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const model = { model_name: opts.modelName };
  const tokenBuckets = buckets125(opts.maxModelLen ?? 8192);

  // Every series is initialised to zero so dashboards see it before the first request.
  const counter = (name: string, help: string): CounterChild => {
    const child = new Counter({ name, help, labelNames: ['model_name'], registers }).labels(model);
    child.inc(0);
    return child;
  };
  const gauge = (name: string, help: string): GaugeChild => {
    const child = new Gauge({ name, help, labelNames: ['model_name'], registers }).labels(model);
    child.set(0);
    return child;
  };
  const histogram = (name: string, help: string, buckets: number[]): HistogramChild => {
    const h = new Histogram({ name, help, labelNames: ['model_name'], buckets, registers });
    h.zero(model);
    return h.labels(model);
  };

  const success = new Counter({
    name: 'vllm:request_success_total',
    help: 'Count of finished requests, by finish reason (abort = client went away, error = failed after start).',
    labelNames: ['model_name', 'finished_reason'],
    registers,
  });
  const reasons: FinishedReasonLabel[] = ['stop', 'length', 'abort', 'error'];
  const requestSuccess = Object.fromEntries(
    reasons.map((r) => {
      const child = success.labels({ ...model, finished_reason: r });
      child.inc(0);
      return [r, child];
    }),
  ) as Record<FinishedReasonLabel, CounterChild>;

  const httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status code.',
    labelNames: ['route', 'method', 'status'],
    registers,
  });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request arrival to the last byte queued, by route pattern.',
    labelNames: ['route'],
    buckets: HTTP_LATENCY_BUCKETS,
    registers,
  });

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    httpRequest(route, method, status, seconds) {
      httpRequests.labels({ route, method, status: String(status) }).inc();
      httpDuration.labels({ route }).observe(seconds);
    },
    requestSuccess,
    promptTokens: counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.'),
    generationTokens: counter('vllm:generation_tokens_total', 'Number of generation tokens processed.'),
    requestPromptTokens: histogram('vllm:request_prompt_tokens', 'Number of prefill tokens processed, per request.', tokenBuckets),
    requestGenerationTokens: histogram('vllm:request_generation_tokens', 'Number of generation tokens processed, per request.', tokenBuckets),
    timeToFirstToken: histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS),
    timePerOutputToken: histogram('vllm:time_per_output_token_seconds', 'Histogram of mean time per output token (after the first) in seconds, per request.', TOKEN_LATENCY_BUCKETS),
    e2eRequestLatency: histogram('vllm:e2e_request_latency_seconds', 'Histogram of end to end request latency in seconds.', REQUEST_LATENCY_BUCKETS),
    numRequestsRunning: gauge('vllm:num_requests_running', 'Number of requests in model execution batches.'),
    numRequestsWaiting: gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.'),
    kvCacheUsagePerc: gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.'),
    interTokenLatency: histogram('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', TOKEN_LATENCY_BUCKETS),
    requestQueueTime: histogram('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', REQUEST_LATENCY_BUCKETS),
    requestPrefillTime: histogram('vllm:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', REQUEST_LATENCY_BUCKETS),
    requestDecodeTime: histogram('vllm:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', REQUEST_LATENCY_BUCKETS),
    requestInferenceTime: histogram('vllm:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', REQUEST_LATENCY_BUCKETS),
    iterationTokens: histogram('vllm:iteration_tokens_total', 'Histogram of number of tokens per engine step.', ITERATION_TOKEN_BUCKETS),
    numPreemptions: counter('vllm:num_preemptions_total', 'Cumulative number of preemptions from the engine.'),
    prefixCacheQueries: counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.'),
    prefixCacheHits: counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.'),
  };
}
