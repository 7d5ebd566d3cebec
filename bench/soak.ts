// Soak: many concurrent streaming clients against the real `serval serve`
// process for a fixed time. Reports errors (target 0), TTFT percentiles,
// throughput, and the server's RSS after warm-up and at the end (memory must
// stay bounded: no growth once warm).
//
//   npm run build && node dist/bench/soak.js [--clients 1000] [--duration 60]
//       [--warmup 20] [--max-tokens 16] [--preset tiny] [--hostile] [--slow-read-bps 4096] [-- extra serve flags]
//
// --hostile also serves the built-in encoder and, after the warm-up, mixes in
// hostile clients (bench/soak-hostile.ts): an embeddings flood, distinct-schema
// clients, a 64-prompt completions loop and a canary chat whose TTFT is reported;
// and HTTP-level ones (bench/soak-hostile-http.ts): malformed requests, a slow
// reader (--slow-read-bps) and a half-closing client, counted by outcome.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeTestModel } from '../src/model/testmodels/write-model.js';
import { runHostileClients } from './soak-hostile.js';
import { runHostileHttpClients } from './soak-hostile-http.js';
import { percentile } from './workload.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

const separator = process.argv.indexOf('--');
const own = separator < 0 ? process.argv.slice(2) : process.argv.slice(2, separator);
const extraServeArgs = separator < 0 ? [] : process.argv.slice(separator + 1);
const { values } = parseArgs({
  args: own,
  options: {
    clients: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '20' },
    'max-tokens': { type: 'string', default: '16' },
    preset: { type: 'string', default: 'tiny' },
    hostile: { type: 'boolean', default: false },
    'flood-clients': { type: 'string', default: '16' },
    'schema-clients': { type: 'string', default: '8' },
    'slow-read-bps': { type: 'string', default: '4096' },
  },
});
const clients = Number(values.clients);
const durationS = Number(values.duration);
const warmupS = Number(values.warmup);
const maxTokens = Number(values['max-tokens']);
const preset = values.preset as 'tiny' | 'small';

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function startServer(modelDir: string, encoderDir: string | null): Promise<{ pid: number; port: number; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--model', modelDir, '--served-model-name', 'soak', ...(encoderDir === null ? [] : ['--embedding-model', encoderDir, '--embedding-model-name', 'soak-embed']), '--port', '0', '--log-level', 'info', ...extraServeArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    let found = 0;
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as { port?: number; msg?: string; level?: number };
          if (typeof entry.port === 'number') found = entry.port;
          if (entry.msg === 'ready') resolve(found);
          if ((entry.level ?? 0) >= 50) process.stderr.write(`server: ${line}\n`);
        } catch {
          // not a log line
        }
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before ready`)));
  });
  return {
    pid: child.pid as number,
    port,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

interface Outcome {
  ok: boolean;
  ttftMs: number;
  tokens: number;
  error?: string;
}

function streamOnce(agent: http.Agent, port: number, body: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const start = performance.now();
    let ttft = -1;
    let text = '';
    const req = http.request(
      { host: '127.0.0.1', port, path: '/v1/completions', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (ttft < 0 && chunk.includes('"text"')) ttft = performance.now() - start;
          text += chunk;
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve({ ok: false, ttftMs: ttft, tokens: 0, error: `status ${res.statusCode}: ${text.slice(0, 200)}` });
          if (!text.endsWith('data: [DONE]\n\n')) return resolve({ ok: false, ttftMs: ttft, tokens: 0, error: `no [DONE]: ${text.slice(-200)}` });
          if (text.includes('"error"')) return resolve({ ok: false, ttftMs: ttft, tokens: 0, error: `error event: ${text.slice(-300)}` });
          const usage = /"completion_tokens":(\d+)/.exec(text);
          resolve({ ok: true, ttftMs: ttft, tokens: Number(usage?.[1] ?? 0) });
        });
        res.on('error', (error) => resolve({ ok: false, ttftMs: ttft, tokens: 0, error: error.message }));
      },
    );
    req.on('error', (error) => resolve({ ok: false, ttftMs: ttft, tokens: 0, error: error.message }));
    req.end(body);
  });
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'serval-soak-'));
  const modelDir = path.join(root, preset);
  await writeTestModel(preset, modelDir);
  const encoderDir = values.hostile ? path.join(root, 'encoder') : null;
  if (encoderDir !== null) await writeTestModel('encoder', encoderDir);
  const server = await startServer(modelDir, encoderDir);
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const rss: Array<{ t: number; mib: number }> = [];
  const t0 = performance.now();
  const sampler = setInterval(() => rss.push({ t: (performance.now() - t0) / 1000, mib: rssMiB(server.pid) }), 1000);
  const rssAtLaunch = rssMiB(server.pid);
  const deadline = t0 + durationS * 1000;
  const ttfts: number[] = [];
  const errors = new Map<string, number>();
  let completed = 0;
  let tokens = 0;
  let warmCompleted = 0;
  const client = async (i: number): Promise<void> => {
    let k = 0;
    while (performance.now() < deadline) {
      const body = JSON.stringify({ model: 'soak', prompt: `Client ${i} request ${k++}: tell me about the serval`, max_tokens: maxTokens, ignore_eos: true, stream: true, stream_options: { include_usage: true } });
      const outcome = await streamOnce(agent, server.port, body);
      const warm = performance.now() - t0 > warmupS * 1000;
      if (outcome.ok) {
        completed++;
        tokens += outcome.tokens;
        if (warm) {
          warmCompleted++;
          ttfts.push(outcome.ttftMs);
        }
      } else {
        const key = (outcome.error ?? 'unknown').slice(0, 120);
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
  };
  const hostile = values.hostile
    ? new Promise<void>((resolve) => setTimeout(resolve, warmupS * 1000)).then(() =>
        Promise.all([
          runHostileClients({ port: server.port, deadline, chatModel: 'soak', embeddingModel: 'soak-embed', floodClients: Number(values['flood-clients']), schemaClients: Number(values['schema-clients']) }),
          runHostileHttpClients({ port: server.port, deadline, chatModel: 'soak', readBytesPerS: Number(values['slow-read-bps']) }),
        ]),
      )
    : null;
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  const hostileReport = hostile === null ? null : await hostile;
  clearInterval(sampler);
  const elapsed = (performance.now() - t0) / 1000;
  const warm = rss.filter((s) => s.t >= warmupS);
  const report = {
    clients,
    durationS: Number(elapsed.toFixed(1)),
    maxTokens,
    serveArgs: extraServeArgs,
    completed,
    errors: [...errors.values()].reduce((a, b) => a + b, 0),
    errorKinds: Object.fromEntries(errors),
    requestsPerS: Number((completed / elapsed).toFixed(1)),
    tokensPerS: Number((tokens / elapsed).toFixed(0)),
    ttftMs: { p50: Math.round(percentile(ttfts, 50)), p90: Math.round(percentile(ttfts, 90)), p99: Math.round(percentile(ttfts, 99)), samples: warmCompleted },
    ...(hostileReport === null ? {} : { hostile: hostileReport[0], hostileHttp: hostileReport[1] }),
    rssMiB: {
      atLaunch: Math.round(rssAtLaunch),
      afterWarmup: Math.round(warm[0]?.mib ?? NaN),
      end: Math.round(rss.at(-1)?.mib ?? NaN),
      maxAfterWarmup: Math.round(Math.max(...warm.map((s) => s.mib))),
      /** Mean of the last third of the post-warm-up samples minus the mean of the first third: ~0 when bounded. */
      trendAfterWarmup: Math.round(mean(warm.slice(-Math.ceil(warm.length / 3)).map((s) => s.mib)) - mean(warm.slice(0, Math.ceil(warm.length / 3)).map((s) => s.mib))),
      /** Every 5 s: seconds:MiB. */
      series: rss.filter((_, i) => i % 5 === 4).map((s) => `${Math.round(s.t)}:${Math.round(s.mib)}`).join(' '),
    },
  };
  agent.destroy();
  const exitCode = await server.stop();
  await rm(root, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ ...report, serverExitCode: exitCode }, null, 2)}\n`);
  if (report.errors > 0) process.exitCode = 1;
}

await main();
