// Load test of an OpenAI-compatible server over HTTP, and Serval's HTTP path
// against its own engine driven in-process with the same requests.
//
//   node dist/bench/http.js [--url http://127.0.0.1:8000/v1 --model NAME]
//        [--model-dir DIR] [--endpoint completions|chat] [--concurrency 1,8,32,128]
//        [--requests N] [--prompt-len 128|LO-HI] [--output-len 64|LO-HI] [--max-level-s 60]
//        [--workers 1] [--threads N] [--max-batch-size 32] [--max-batch-tokens 512] [--quantize int4] [--http-transport auto|uws|node] [--no-engine]
//        [--spinning on|off] [--pipeline-depth 1|2] [--max-prefill-with-decode N] (unset: the server's defaults)
//        [--server-node-args "--cpu-prof --cpu-prof-dir /tmp/prof"] [--skip-gaps N]
//
// Without --url it starts Serval itself (`node dist/src/cli/main.js serve --port 0`)
// on the bench preset model (or --model-dir) and also runs the in-process engine
// (Engine.create → generate, same model and flags) on the same request mix at each
// concurrency, interleaved level by level so both see the same machine load. The
// ratio HTTP output tok/s ÷ engine output tok/s is what the HTTP front costs.
//
// Each level is a closed loop: `c` clients, each sending its next request when the
// previous one finished, until the level's requests are used up (or --max-level-s
// passed). With the engine comparison, the level's requests are split in two
// halves run A-B-B-A (HTTP, engine, engine, HTTP) against load drift, so at most
// half of them are in flight at once. Streaming requests with a fixed output length (max_tokens + ignore_eos,
// the vLLM extension); TTFT = first content chunk, ITL = gaps between content
// chunks as they arrive. Prompts are token-id arrays (completions) so the server
// and the engine see identical inputs; --endpoint chat sends text instead.
// Against a Serval server it also reports the device steps each level's HTTP
// runs took, by kind (decode, prompt, mixed), from its /metrics.
// --skip-gaps N leaves each stream's first N gaps out of the ITL figures: with one burst
// of long requests (--requests 2C --concurrency C --output-len 256 --skip-gaps 64) the
// gaps left are decode-only steps after the burst's prompts, the floor that
// no scheduling of prompts can go below.
// Only loopback URLs are accepted.

import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Engine } from '../src/engine/client/engine.js';
import { resolveEngineConfig } from '../src/engine/config.js';
import { ensureBenchModel } from './bench-model.js';
import { engineSend, getJson, HttpTarget, startServal, type RequestResult, type StartedServer } from './serval-http.js';
import { readStepTotals, stepSummary } from './step-metrics.js';
import { fmt, makeWorkload, percentile, sum, type BenchRequest } from './workload.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    model: { type: 'string' },
    'model-dir': { type: 'string' },
    endpoint: { type: 'string', default: 'completions' },
    concurrency: { type: 'string', default: '1,8,32,128' },
    requests: { type: 'string' },
    'prompt-len': { type: 'string', default: '128' },
    'output-len': { type: 'string', default: '64' },
    'max-level-s': { type: 'string', default: '60' },
    workers: { type: 'string', default: '1' },
    threads: { type: 'string' },
    'max-batch-size': { type: 'string', default: '32' },
    'max-batch-tokens': { type: 'string', default: '512' },
    quantize: { type: 'string' },
    spinning: { type: 'string' },
    'max-prefill-with-decode': { type: 'string' },
    'pipeline-depth': { type: 'string' },
    /** The Serval child's --http-transport: auto (uWS on Node 20), uws or node. */
    'http-transport': { type: 'string', default: 'auto' },
    'no-engine': { type: 'boolean', default: false },
    /** Extra node flags for the Serval child, e.g. "--cpu-prof --cpu-prof-dir /tmp/prof". */
    'server-node-args': { type: 'string', default: '' },
    seed: { type: 'string', default: '11' },
    'skip-gaps': { type: 'string', default: '0' },
  },
});

const skipGaps = Number(args['skip-gaps']);
if (!Number.isInteger(skipGaps) || skipGaps < 0) throw new Error(`--skip-gaps takes a whole number ≥ 0, got '${args['skip-gaps']}'`);

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);


interface LevelResult {
  concurrency: number;
  requests: number;
  errors: number;
  wallMs: number;
  outputTokens: number;
  ttft: number[];
  itl: number[];
  clientLagP99Ms: number;
  /** Most requests in flight at once (below `concurrency` when a run has fewer requests). */
  maxInFlight: number;
  firstError?: string;
}

/** `N` or `LO-HI` (drawn uniformly per request) as an inclusive range. */
function lengthRange(flag: 'prompt-len' | 'output-len'): [number, number] {
  const [lo, hi = lo] = (args[flag] as string).split('-').map(Number);
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1 && hi >= lo)) throw new Error(`--${flag} takes N or LO-HI, got '${args[flag]}'`);
  return [lo, hi];
}

/** Requests for one level: `count` prompts and output lengths drawn from their ranges. */
function levelRequests(count: number, seed: number): BenchRequest[] {
  return makeWorkload({ count, seed, promptLen: lengthRange('prompt-len'), outputLen: lengthRange('output-len'), meanGapMs: 0, vocabSize: 3000 });
}

/** Runs `requests` through `c` closed-loop clients; `send` returns one request's result. */
async function closedLoop(concurrency: number, requests: BenchRequest[], send: (r: BenchRequest) => Promise<RequestResult>): Promise<LevelResult> {
  const maxMs = Number(args['max-level-s']) * 1000;
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const started = performance.now();
  let next = 0;
  const results: RequestResult[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const client = async (): Promise<void> => {
    while (next < requests.length && performance.now() - started < maxMs) {
      const r = requests[next++];
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      results.push(await send(r));
      inFlight--;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  lag.disable();
  const ok = results.filter((r) => r.ok);
  const end = Math.max(...results.map((r) => r.endMs));
  return {
    concurrency,
    requests: results.length,
    errors: results.length - ok.length,
    wallMs: end - started,
    outputTokens: sum(ok.map((r) => r.outputTokens)),
    ttft: ok.map((r) => r.ttftMs),
    itl: ok.flatMap((r) => r.itlMs.slice(skipGaps)),
    clientLagP99Ms: lag.percentile(99) / 1e6,
    maxInFlight,
    firstError: results.find((r) => !r.ok)?.error,
  };
}

const tokPerS = (l: LevelResult): number => (l.outputTokens * 1000) / l.wallMs;

/** Two runs of one path at one concurrency as one: walls add up, samples pool. */
function mergeLevels(a: LevelResult, b: LevelResult): LevelResult {
  return {
    concurrency: a.concurrency,
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    wallMs: a.wallMs + b.wallMs,
    outputTokens: a.outputTokens + b.outputTokens,
    ttft: [...a.ttft, ...b.ttft],
    itl: [...a.itl, ...b.itl],
    clientLagP99Ms: Math.max(a.clientLagP99Ms, b.clientLagP99Ms),
    maxInFlight: Math.max(a.maxInFlight, b.maxInFlight),
    firstError: a.firstError ?? b.firstError,
  };
}

// ------------------------------------------------------------------ main

function row(label: string, l: LevelResult): string {
  const tokS = (l.outputTokens * 1000) / l.wallMs;
  return (
    `| ${label} | ${l.concurrency} (${l.maxInFlight}) | ${l.requests}${l.errors ? ` (${l.errors} failed)` : ''} | ${(l.wallMs / 1000).toFixed(1)} | ${((l.requests - l.errors) * 1000 / l.wallMs).toFixed(2)} | **${fmt(tokS)}** | ` +
    `${fmt(percentile(l.ttft, 50))} / ${fmt(percentile(l.ttft, 90))} / ${fmt(percentile(l.ttft, 99))} | ` +
    `${fmt(percentile(l.itl, 50), 1)} / ${fmt(percentile(l.itl, 90), 1)} / ${fmt(percentile(l.itl, 99), 1)} / ${fmt(percentile(l.itl, 100), 1)} | ${(percentile(l.itl, 99) / percentile(l.itl, 50)).toFixed(2)} | ${l.clientLagP99Ms.toFixed(1)} |`
  );
}

async function main(): Promise<void> {
  const benchStarted = performance.now();
  const loadStart = loadavg();
  const levels = args.concurrency.split(',').map(Number);
  const maxConcurrency = Math.max(...levels);
  let server: StartedServer | null = null;
  let engine: Engine | null = null;
  const stopServer = (): void => {
    if (server && server.child.exitCode === null) server.child.kill('SIGTERM');
  };
  const serverExited = (): Promise<void> =>
    server && server.child.exitCode === null ? new Promise((resolve) => (server as StartedServer).child.once('exit', () => resolve())) : Promise.resolve();
  process.once('exit', stopServer);

  try {
    let base: URL;
    let modelDir = args['model-dir'] ?? null;
    if (args.url) {
      base = new URL(args.url);
      if (!LOOPBACK.has(base.hostname)) throw new Error(`--url must be a loopback address (127.0.0.1, localhost, ::1), got ${base.hostname}`);
    } else {
      modelDir ??= await ensureBenchModel();
      console.error(`starting serval on ${modelDir} …`);
      const flags = ['--model', modelDir, '--workers', args.workers, '--max-batch-size', args['max-batch-size'], '--max-batch-tokens', args['max-batch-tokens'], '--http-transport', args['http-transport'], '--log-level', 'info'];
      if (args.threads) flags.push('--threads', args.threads);
      if (args.quantize) flags.push('--quantize', args.quantize);
      if (args.spinning) flags.push('--spinning', args.spinning);
      if (args['pipeline-depth']) flags.push('--pipeline-depth', args['pipeline-depth']);
      if (args['max-prefill-with-decode']) flags.push('--max-prefill-with-decode', args['max-prefill-with-decode']);
      server = await startServal(flags, args['server-node-args'].split(' ').filter((a) => a.length > 0));
      base = server.base;
    }
    const models = await getJson(new URL(`${base.pathname.replace(/\/$/, '')}/models`, base));
    const model = args.model ?? ((models.body as { data?: Array<{ id: string }> }).data?.[0]?.id as string | undefined);
    if (!model) throw new Error(`no --model given and ${base}/models lists none`);
    const target = new HttpTarget(base, model, maxConcurrency, args.endpoint === 'chat' ? 'chat' : 'completions');

    const withEngine = !args['no-engine'] && modelDir !== null;
    if (withEngine) {
      engine = await Engine.create(
        resolveEngineConfig({
          modelDir: modelDir as string,
          workers: Number(args.workers),
          intraOpThreads: args.threads ? Number(args.threads) : undefined,
          maxBatchSize: Number(args['max-batch-size']),
          maxBatchTokens: Number(args['max-batch-tokens']),
          quantize: args.quantize === 'int4' ? 'int4' : undefined,
          spinning: args.spinning ? args.spinning === 'on' : undefined,
          maxPrefillTokensWithDecode: args['max-prefill-with-decode'] ? Number(args['max-prefill-with-decode']) : undefined,
          pipelineDepth: args['pipeline-depth'] === '2' ? 2 : args['pipeline-depth'] === '1' ? 1 : undefined,
        }),
      );
    }
    console.error(`target ${base} model ${model}; in-process engine ${withEngine ? 'on' : 'off'}; load average ${loadStart.map((l) => l.toFixed(2)).join(' / ')}`);

    // Warm-up: a few requests each way, so lazy initialisation stays out of the first level.
    const warm = levelRequests(4, 999);
    await Promise.all(warm.map((r) => target.send({ ...r, maxTokens: 8 })));
    if (engine) await Promise.all(warm.map((r) => engineSend(engine as Engine, { ...r, maxTokens: 8 })));

    const rows: string[] = [];
    const ratios: string[] = [];
    const steps: string[] = [];
    for (const [i, c] of levels.entries()) {
      const count = args.requests ? Number(args.requests) : Math.max(16, Math.min(2 * c, 128));
      const requests = levelRequests(count, Number(args.seed) + i);
      const viaHttpSend = (r: BenchRequest): Promise<RequestResult> => target.send(r);
      // The server only works during the HTTP runs, so one reading before and one after the level cover them.
      const stepsBefore = await readStepTotals(base);
      const readSteps = async (): Promise<void> => {
        await new Promise((resolve) => setTimeout(resolve, 450)); // the actor's next snapshots (every 200 ms) carry the last steps
        const stepsAfter = stepsBefore && (await readStepTotals(base));
        if (stepsBefore && stepsAfter) steps.push(`c=${c}: ${stepSummary(stepsBefore, stepsAfter)}`);
      };
      if (!engine) {
        const viaHttp = await closedLoop(c, requests, viaHttpSend);
        await readSteps();
        console.error(`c=${c}: http ${((viaHttp.outputTokens * 1000) / viaHttp.wallMs).toFixed(0)} tok/s${viaHttp.firstError ? ` (error: ${viaHttp.firstError})` : ''}`);
        rows.push(row('HTTP', viaHttp));
        continue;
      }
      // A-B-B-A: each path runs both halves of the request list, in mirrored order,
      // so load that drifts linearly during the level hits both paths equally.
      const inProcessSend = (r: BenchRequest): Promise<RequestResult> => engineSend(engine as Engine, r);
      const half = Math.ceil(requests.length / 2);
      const [first, second] = [requests.slice(0, half), requests.slice(half)];
      const h1 = await closedLoop(c, first, viaHttpSend);
      const e1 = await closedLoop(c, first, inProcessSend);
      const e2 = await closedLoop(c, second, inProcessSend);
      const h2 = await closedLoop(c, second, viaHttpSend);
      await readSteps();
      const viaHttp = mergeLevels(h1, h2);
      const inProcess = mergeLevels(e1, e2);
      const ratio = viaHttp.outputTokens / viaHttp.wallMs / (inProcess.outputTokens / inProcess.wallMs);
      const halves = `halves ${(tokPerS(h1) / tokPerS(e1)).toFixed(2)} / ${(tokPerS(h2) / tokPerS(e2)).toFixed(2)}`;
      console.error(`c=${c}: http ${tokPerS(viaHttp).toFixed(0)} tok/s, engine ${tokPerS(inProcess).toFixed(0)} tok/s (${halves})${viaHttp.firstError ? ` (error: ${viaHttp.firstError})` : ''}`);
      rows.push(row('HTTP', viaHttp), row('engine (in-process)', inProcess));
      ratios.push(`c=${c}: **${ratio.toFixed(2)}** (${halves})`);
    }

    const loadEnd = loadavg();
    console.log(`\n## HTTP load test — ${base} model ${model}, ${args.endpoint}, prompt ${args['prompt-len']} tokens, output ${args['output-len']} tokens (ignore_eos), streaming${skipGaps > 0 ? `; ITL without each stream's first ${skipGaps} gaps` : ''}\n`);
    console.log(`load average start ${loadStart.map((l) => l.toFixed(2)).join(' / ')}, end ${loadEnd.map((l) => l.toFixed(2)).join(' / ')}; server flags: workers ${args.workers}${args.threads ? `, threads ${args.threads}` : ''}${args.spinning ? `, spinning ${args.spinning}` : ''}${args['pipeline-depth'] ? `, pipeline-depth ${args['pipeline-depth']}` : ''}${args['max-prefill-with-decode'] ? `, max-prefill-with-decode ${args['max-prefill-with-decode']}` : ''}, max-batch-size ${args['max-batch-size']}, max-batch-tokens ${args['max-batch-tokens']}${args.quantize ? `, quantize ${args.quantize}` : ''}${args.url ? ' (external server: flags unknown)' : ''}\n`);
    console.log('| path | concurrency (max in flight) | requests | wall s | req/s | output tok/s | TTFT p50 / p90 / p99 ms | ITL p50 / p90 / p99 / max ms | ITL p99 ÷ p50 | client loop lag p99 ms |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    if (ratios.length > 0) {
      console.log(
        `\nHTTP output tok/s ÷ in-process engine output tok/s (same requests, same concurrency; each path ran both halves of the level's requests in A-B-B-A order; target ≥ 0.9): ${ratios.join('; ')}`,
      );
    }
    if (steps.length > 0) {
      console.log(`\nThe server's device steps during the HTTP runs (serval:engine_step_duration_seconds; mixed: running streams waited for prompt chunks): ${steps.join('; ')}`);
    }
    console.log(`\nSummary: ${rows.length} levels in ${((performance.now() - benchStarted) / 1000).toFixed(0)} s.`);
  } finally {
    await engine?.close();
    const exited = serverExited();
    stopServer();
    await exited;
  }
}

await main();
