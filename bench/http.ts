// Load test of an OpenAI-compatible server over HTTP, and Serval's HTTP path
// against its own engine driven in-process with the same requests.
//
//   node dist/bench/http.js [--url http://127.0.0.1:8000/v1 --model NAME]
//        [--model-dir DIR] [--endpoint completions|chat] [--concurrency 1,8,32,128]
//        [--requests N] [--prompt-len 128] [--output-len 64] [--max-level-s 60]
//        [--workers 1] [--threads N] [--max-batch-size 32] [--max-batch-tokens 512] [--quantize int4] [--http-transport auto|uws|node] [--no-engine]
//        [--server-node-args "--cpu-prof --cpu-prof-dir /tmp/prof"]
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
// Only loopback URLs are accepted.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../src/engine/client/engine.js';
import { resolveEngineConfig } from '../src/engine/config.js';
import { ensureBenchModel } from './bench-model.js';
import { fmt, makeWorkload, percentile, sleep, sum, type BenchRequest } from './workload.js';

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
    /** The Serval child's --http-transport: auto (uWS on Node 20), uws or node. */
    'http-transport': { type: 'string', default: 'auto' },
    'no-engine': { type: 'boolean', default: false },
    /** Extra node flags for the Serval child, e.g. "--cpu-prof --cpu-prof-dir /tmp/prof". */
    'server-node-args': { type: 'string', default: '' },
    seed: { type: 'string', default: '11' },
  },
});

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const SERVER_START_TIMEOUT_MS = 180_000;

interface RequestResult {
  ok: boolean;
  error?: string;
  ttftMs: number;
  itlMs: number[];
  outputTokens: number;
  endMs: number;
}

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

/** Requests for one level: `count` prompts of fixed length, fixed output length. */
function levelRequests(count: number, seed: number): BenchRequest[] {
  const length = Number(args['prompt-len']);
  const output = Number(args['output-len']);
  return makeWorkload({ count, seed, promptLen: [length, length], outputLen: [output, output], meanGapMs: 0, vocabSize: 3000 });
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
    itl: ok.flatMap((r) => r.itlMs),
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

// ------------------------------------------------------------------ HTTP client

class HttpTarget {
  readonly agent: http.Agent;
  constructor(
    readonly base: URL,
    readonly model: string,
    maxConnections: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: maxConnections, maxFreeSockets: maxConnections });
  }

  body(r: BenchRequest): string {
    const common = { model: this.model, max_tokens: r.maxTokens, ignore_eos: true, temperature: 0, stream: true, stream_options: { include_usage: true } };
    if (args.endpoint === 'chat') {
      // Text prompts: one short word per prompt id; the server's token count will differ.
      const content = r.promptIds.map((id) => `w${id % 997}`).join(' ');
      return JSON.stringify({ ...common, messages: [{ role: 'user', content }] });
    }
    return JSON.stringify({ ...common, prompt: r.promptIds });
  }

  send(r: BenchRequest): Promise<RequestResult> {
    const path = `${this.base.pathname.replace(/\/$/, '')}/${args.endpoint === 'chat' ? 'chat/completions' : 'completions'}`;
    const payload = this.body(r);
    const sent = performance.now();
    return new Promise((resolve) => {
      let ttft = Number.NaN;
      let last = Number.NaN;
      const itl: number[] = [];
      let chunks = 0;
      let usageTokens: number | null = null;
      let buffer = '';
      let status = 0;
      let errorText = '';
      const done = (ok: boolean, error?: string): void =>
        resolve({ ok, error, ttftMs: ttft, itlMs: itl, outputTokens: usageTokens ?? chunks, endMs: performance.now() });
      const onEvent = (data: string): void => {
        if (data === '[DONE]') return;
        const now = performance.now();
        const event = JSON.parse(data) as {
          choices?: Array<{ text?: string; delta?: { role?: string; content?: string | null }; finish_reason?: string | null }>;
          usage?: { completion_tokens?: number } | null;
        };
        if (event.usage?.completion_tokens !== undefined) usageTokens = event.usage.completion_tokens;
        const choice = event.choices?.[0];
        if (!choice) return;
        // A content chunk carries a token's text; the chat role preamble and the finish chunk do not.
        const isContent = choice.text !== undefined ? choice.finish_reason == null : choice.delta?.content != null && !(choice.delta.role && choice.delta.content === '');
        if (!isContent) return;
        chunks++;
        if (Number.isNaN(ttft)) ttft = now - sent;
        else itl.push(now - last);
        last = now;
      };
      const req = http.request(
        { host: this.base.hostname.replace(/^\[|\]$/g, ''), port: this.base.port, path, method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          status = res.statusCode ?? 0;
          res.setEncoding('utf8');
          res.on('data', (text: string) => {
            if (status !== 200) {
              errorText += text;
              return;
            }
            buffer += text;
            let cut: number;
            while ((cut = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              for (const line of block.split('\n')) if (line.startsWith('data: ')) onEvent(line.slice(6));
            }
          });
          res.on('end', () => (status === 200 ? done(true) : done(false, `HTTP ${status}: ${errorText.slice(0, 300)}`)));
          res.on('error', (error) => done(false, error.message));
        },
      );
      req.on('error', (error) => done(false, error.message));
      req.end(payload);
    });
  }
}

async function getJson(url: URL): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (e.g. a 503 page)
  }
  return { status: res.status, body };
}

// ------------------------------------------------------------------ Serval child server

interface StartedServer {
  child: ChildProcess;
  base: URL;
}

async function startServal(modelDir: string): Promise<StartedServer> {
  const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const flags = ['serve', '--port', '0', '--host', '127.0.0.1', '--model', modelDir, '--workers', args.workers, '--max-batch-size', args['max-batch-size'], '--max-batch-tokens', args['max-batch-tokens'], '--http-transport', args['http-transport'], '--log-level', 'info'];
  if (args.threads) flags.push('--threads', args.threads);
  if (args.quantize) flags.push('--quantize', args.quantize);
  const nodeArgs = args['server-node-args'].split(' ').filter((a) => a.length > 0);
  const child = spawn(process.execPath, [...nodeArgs, main, ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('serval did not report its port')), SERVER_START_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`serval exited with ${code} before listening`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { port?: number; level?: number; msg?: string };
        if (typeof entry.port === 'number') {
          clearTimeout(timer);
          resolve(entry.port);
        }
        if ((entry.level ?? 0) >= 50) console.error(`serval: ${line}`);
      } catch {
        console.error(`serval: ${line}`);
      }
    });
  });
  const base = new URL(`http://127.0.0.1:${port}/v1`);
  const deadline = performance.now() + SERVER_START_TIMEOUT_MS;
  for (;;) {
    const health = await getJson(new URL('/health', base)).catch(() => ({ status: 0, body: null }));
    if (health.status === 200) break;
    if (performance.now() > deadline || child.exitCode !== null) throw new Error('serval did not become ready');
    await sleep(250);
  }
  return { child, base };
}

// ------------------------------------------------------------------ in-process engine

async function engineSend(engine: Engine, r: BenchRequest): Promise<RequestResult> {
  const sent = performance.now();
  let ttft = Number.NaN;
  let last = Number.NaN;
  const itl: number[] = [];
  let tokens = 0;
  try {
    for await (const event of engine.generate(r.promptIds, { maxTokens: r.maxTokens, ignoreEos: true, temperature: 0 })) {
      if (event.type !== 'tokens') continue;
      const now = performance.now();
      if (Number.isNaN(ttft)) ttft = now - sent;
      else itl.push(now - last);
      last = now;
      tokens += event.tokenIds.length;
    }
    return { ok: true, ttftMs: ttft, itlMs: itl, outputTokens: tokens, endMs: performance.now() };
  } catch (error) {
    return { ok: false, error: String(error), ttftMs: ttft, itlMs: itl, outputTokens: tokens, endMs: performance.now() };
  }
}

// ------------------------------------------------------------------ main

function row(label: string, l: LevelResult): string {
  const tokS = (l.outputTokens * 1000) / l.wallMs;
  return (
    `| ${label} | ${l.concurrency} (${l.maxInFlight}) | ${l.requests}${l.errors ? ` (${l.errors} failed)` : ''} | ${(l.wallMs / 1000).toFixed(1)} | ${((l.requests - l.errors) * 1000 / l.wallMs).toFixed(2)} | **${fmt(tokS)}** | ` +
    `${fmt(percentile(l.ttft, 50))} / ${fmt(percentile(l.ttft, 90))} / ${fmt(percentile(l.ttft, 99))} | ` +
    `${fmt(percentile(l.itl, 50), 1)} / ${fmt(percentile(l.itl, 90), 1)} / ${fmt(percentile(l.itl, 99), 1)} | ${l.clientLagP99Ms.toFixed(1)} |`
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
      server = await startServal(modelDir);
      base = server.base;
    }
    const models = await getJson(new URL(`${base.pathname.replace(/\/$/, '')}/models`, base));
    const model = args.model ?? ((models.body as { data?: Array<{ id: string }> }).data?.[0]?.id as string | undefined);
    if (!model) throw new Error(`no --model given and ${base}/models lists none`);
    const target = new HttpTarget(base, model, maxConcurrency);

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
    for (const [i, c] of levels.entries()) {
      const count = args.requests ? Number(args.requests) : Math.max(16, Math.min(2 * c, 128));
      const requests = levelRequests(count, Number(args.seed) + i);
      const viaHttpSend = (r: BenchRequest): Promise<RequestResult> => target.send(r);
      if (!engine) {
        const viaHttp = await closedLoop(c, requests, viaHttpSend);
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
      const viaHttp = mergeLevels(h1, h2);
      const inProcess = mergeLevels(e1, e2);
      const ratio = viaHttp.outputTokens / viaHttp.wallMs / (inProcess.outputTokens / inProcess.wallMs);
      const halves = `halves ${(tokPerS(h1) / tokPerS(e1)).toFixed(2)} / ${(tokPerS(h2) / tokPerS(e2)).toFixed(2)}`;
      console.error(`c=${c}: http ${tokPerS(viaHttp).toFixed(0)} tok/s, engine ${tokPerS(inProcess).toFixed(0)} tok/s (${halves})${viaHttp.firstError ? ` (error: ${viaHttp.firstError})` : ''}`);
      rows.push(row('HTTP', viaHttp), row('engine (in-process)', inProcess));
      ratios.push(`c=${c}: **${ratio.toFixed(2)}** (${halves})`);
    }

    const loadEnd = loadavg();
    console.log(`\n## HTTP load test — ${base} model ${model}, ${args.endpoint}, prompt ${args['prompt-len']} tokens, output ${args['output-len']} tokens (ignore_eos), streaming\n`);
    console.log(`load average start ${loadStart.map((l) => l.toFixed(2)).join(' / ')}, end ${loadEnd.map((l) => l.toFixed(2)).join(' / ')}; server flags: workers ${args.workers}, max-batch-size ${args['max-batch-size']}, max-batch-tokens ${args['max-batch-tokens']}${args.quantize ? `, quantize ${args.quantize}` : ''}${args.url ? ' (external server: flags unknown)' : ''}\n`);
    console.log('| path | concurrency (max in flight) | requests | wall s | req/s | output tok/s | TTFT p50 / p90 / p99 ms | ITL p50 / p90 / p99 ms | client loop lag p99 ms |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    if (ratios.length > 0) {
      console.log(
        `\nHTTP output tok/s ÷ in-process engine output tok/s (same requests, same concurrency; each path ran both halves of the level's requests in A-B-B-A order; target ≥ 0.9): ${ratios.join('; ')}`,
      );
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
