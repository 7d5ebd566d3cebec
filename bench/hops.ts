// Where a token's time goes at concurrency 1: the same requests (prompt 128
// token ids, 64 greedy tokens, one at a time) driven at three depths, so each
// layer's added cost is the difference between two rows.
//
//   node dist/bench/hops.js [--model-dir DIR] [--requests 12] [--threads N] [--spinning on|off] [--rounds 2]
//
// device: the bench thread drives one device worker (Piscina pool, as the actor
//         does) step by step: wall time of each run() round trip, and the time
//         the worker spent inside session.run() (forwardMs). wall − forward =
//         the actor ↔ device hop: structured clone both ways, thread wake-ups,
//         feed packing and sampling.
// engine: Engine.create in-process (front ring → scheduler actor → device →
//         actor → ring → front): adds the actor's step formation and the rings.
// http:   `serval serve` as a child, streamed completions over loopback:
//         adds the front thread (parse, tokenize-free token-id prompts, SSE writes)
//         and the client's socket reads.
// Layers take turns request by request (device, engine, http), so load drift hits all three.

import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { DeviceHandle } from '../src/engine/actor/device-handle.js';
import { DEFAULT_SAMPLING, Engine } from '../src/engine/client/engine.js';
import { DEFAULT_MAX_MODEL_LEN_CAP, resolveEngineConfig } from '../src/engine/config.js';
import { readModelConfigs } from '../src/model/load-model.js';
import type { DeviceStep } from '../src/worker/types.js';
import { ensureBenchModel } from './bench-model.js';
import { engineSend, HttpTarget, startServal, type RequestResult, type StartedServer } from './serval-http.js';
import { fmt, makeWorkload, percentile, type BenchRequest } from './workload.js';

const { values: args } = parseArgs({
  options: {
    'model-dir': { type: 'string' },
    requests: { type: 'string', default: '12' },
    rounds: { type: 'string', default: '2' },
    threads: { type: 'string' },
    spinning: { type: 'string' },
  },
});

interface Samples {
  ttft: number[];
  itl: number[];
  /** Device layer only: session.run() time of the prefill step and of each decode step. */
  prefillForward: number[];
  decodeForward: number[];
}

const empty = (): Samples => ({ ttft: [], itl: [], prefillForward: [], decodeForward: [] });

function record(into: Samples, r: RequestResult): void {
  if (!r.ok) throw new Error(`request failed: ${r.error}`);
  into.ttft.push(r.ttftMs);
  into.itl.push(...r.itlMs);
}

/** One request through a device worker directly: a prefill step, then one decode step per token. */
async function deviceRequest(device: DeviceHandle, r: BenchRequest, id: string, into: Samples): Promise<void> {
  const params = { ...DEFAULT_SAMPLING, maxTokens: r.maxTokens, ignoreEos: true };
  const capacity = r.promptIds.length + r.maxTokens;
  const sent = performance.now();
  const first: DeviceStep = {
    release: [],
    capacity,
    admit: [{ seqId: id, params, promptTokenIds: r.promptIds, generatedTokenIds: [], stopTokenIds: [] }],
    rows: [{ seqId: id, tokens: r.promptIds, startPos: 0, sample: true, promptLogprobs: null, followingToken: null }],
  };
  let result = await device.run(first);
  let last = performance.now();
  into.ttft.push(last - sent);
  into.prefillForward.push(result.forwardMs);
  let pos = r.promptIds.length;
  for (let i = 1; i < r.maxTokens; i++) {
    const token = result.samples[0].token;
    result = await device.run({ release: [], capacity, admit: [], rows: [{ seqId: id, tokens: [token], startPos: pos++, sample: true, promptLogprobs: null, followingToken: null }] });
    const now = performance.now();
    into.itl.push(now - last);
    into.decodeForward.push(result.forwardMs);
    last = now;
  }
  await device.run({ release: [id], capacity: 0, admit: [], rows: [] });
}


const stat = (values: number[]): string => `${fmt(percentile(values, 50), 1)} / ${fmt(percentile(values, 99), 1)}`;

async function main(): Promise<void> {
  const loadStart = loadavg();
  const modelDir = args['model-dir'] ?? (await ensureBenchModel());
  const count = Number(args.requests);
  const requests = makeWorkload({ count, seed: 5, promptLen: [128, 128], outputLen: [64, 64], meanGapMs: 0, vocabSize: 3000 });
  const warm = requests.slice(0, 2).map((r) => ({ ...r, maxTokens: 8 }));

  // Without the prefix cache: the rounds repeat the same prompts, and the direct
  // device path has none, so every layer must prefill every prompt to compare.
  const config = resolveEngineConfig({
    modelDir,
    prefixCaching: false,
    intraOpThreads: args.threads ? Number(args.threads) : undefined,
    spinning: args.spinning ? args.spinning === 'on' : undefined,
  });
  const decoder = (await readModelConfigs(modelDir)).config;
  const maxModelLen = Math.min(decoder.maxPositionEmbeddings, DEFAULT_MAX_MODEL_LEN_CAP);
  const device = new DeviceHandle(
    {
      deviceIndex: 0,
      modelDir,
      quantize: null,
      sliceKvToMaxPast: false,
      executionProvider: 'cpu',
      intraOpThreads: config.intraOpThreads,
      spinning: config.spinning,
      maxSlots: config.maxBatchSize,
      kvBudgetTokens: config.maxBatchSize * maxModelLen,
      maxModelLen,
    },
    1,
  );
  let engine: Engine | null = null;
  let server: StartedServer | null = null;
  // An empty step: the bare actor ↔ device round trip (Piscina postMessage both ways).
  const emptyTrips: number[] = [];
  try {
    await device.ready();
    engine = await Engine.create(config);
    const flags = ['--model', modelDir, '--threads', String(config.intraOpThreads), '--spinning', config.spinning ? 'on' : 'off', '--no-prefix-caching', '--log-level', 'info'];
    server = await startServal(flags);
    const models = (await (await fetch(`${server.base.href}/models`)).json()) as { data: Array<{ id: string }> };
    const target = new HttpTarget(server.base, models.data[0].id, 1);
    console.error(`threads ${config.intraOpThreads}, spinning ${config.spinning ? 'on' : 'off'}; load average ${loadStart.map((l) => l.toFixed(2)).join(' / ')}`);
    let nextId = 0;
    for (const r of warm) {
      await deviceRequest(device, r, `w${nextId++}`, empty());
      await engineSend(engine, r);
      await target.send(r);
    }
    const layers = { device: empty(), engine: empty(), http: empty() };
    for (let round = 0; round < Number(args.rounds); round++) {
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        await device.run({ release: [], capacity: 0, admit: [], rows: [] });
        emptyTrips.push(performance.now() - t);
      }
      for (const r of requests) {
        await deviceRequest(device, r, `d${nextId++}`, layers.device);
        record(layers.engine, await engineSend(engine, r));
        record(layers.http, await target.send(r));
      }
    }

    const loadEnd = loadavg();
    console.log(`\n## Hops at concurrency 1 — prompt 128 token ids, 64 greedy tokens, ${count} requests × ${args.rounds} rounds per layer, threads ${config.intraOpThreads}, spinning ${config.spinning ? 'on' : 'off'}\n`);
    console.log(`load average start ${loadStart.map((l) => l.toFixed(2)).join(' / ')}, end ${loadEnd.map((l) => l.toFixed(2)).join(' / ')}\n`);
    console.log('| layer | TTFT p50 / p99 ms | ITL p50 / p99 ms | ITL p99 ÷ p50 | added to ITL p50 ms | added to TTFT p50 ms |');
    console.log('|---|---|---|---|---|---|');
    const d = layers.device;
    const fwdRow = `| session.run() only | ${stat(d.prefillForward)} | ${stat(d.decodeForward)} | ${(percentile(d.decodeForward, 99) / percentile(d.decodeForward, 50)).toFixed(2)} | | |`;
    console.log(fwdRow);
    let prev: Samples | null = null;
    for (const [name, s] of Object.entries(layers)) {
      const base = prev ?? { ...d, ttft: d.prefillForward, itl: d.decodeForward };
      const addItl = percentile(s.itl, 50) - percentile(base.itl, 50);
      const addTtft = percentile(s.ttft, 50) - percentile(base.ttft, 50);
      console.log(`| ${name} | ${stat(s.ttft)} | ${stat(s.itl)} | ${(percentile(s.itl, 99) / percentile(s.itl, 50)).toFixed(2)} | ${addItl.toFixed(2)} | ${addTtft.toFixed(2)} |`);
      prev = s;
    }
    console.log(`\nempty step round trip (bench thread ↔ device worker): p50 ${fmt(percentile(emptyTrips, 50), 3)} ms, p99 ${fmt(percentile(emptyTrips, 99), 3)} ms`);
  } finally {
    await engine?.close();
    await device.close();
    const child = server?.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
}

await main();
