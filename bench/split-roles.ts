// Prefill and decode on separate threads, each with a one-thread session (a
// layout the engine does not have), against the engine's one two-thread
// session that runs a step's prompt chunk beside its decode rows. On this
// 2-core CPU a 128-token chunk costs about 1.5 decode passes at 32 rows, so
// the steps that carry one hold the inter-token tail; with the roles split,
// no decode pass waits for a chunk. Raw graph only (RawForward, no scheduler,
// no KV hand-over between the two): an upper bound for what splitting could give.
//
//   node dist/bench/split-roles.js [--rows 32] [--chunk 128] [--seconds 15] [--output-tokens 64]
//
// Prints, for each layout, the decode pass p50 / p99 and the prompt rate, and
// the output tok/s those allow: rows per decode pass, as long as prompts come
// in at rows ÷ output-tokens per pass.

import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ensureBenchModel } from './bench-model.js';
import { RawForward } from './raw-forward.js';
import { percentile } from './workload.js';

type Role = 'decode' | 'prefill' | 'mixed';

interface RoleTask {
  role: Role;
  rows: number;
  chunk: number;
  seconds: number;
  threads: number;
  modelDir: string;
  /** Both threads start timing together once loaded. */
  barrier: Int32Array;
  parties: number;
}

interface RoleTimes {
  role: Role;
  /** ms per call: a decode pass, a prompt, or (mixed) a decode pass plus a prompt. */
  times: number[];
}

const PAST = 128;

async function runRole(task: RoleTask): Promise<RoleTimes> {
  const raw = await RawForward.load(task.modelDir, { quantize: null, intraOpThreads: task.threads, spinning: task.threads > 1 });
  await raw.decodeStepTimes(task.rows, PAST, 3);
  await raw.prefillTimes(task.chunk, 2);
  Atomics.add(task.barrier, 0, 1);
  while (Atomics.load(task.barrier, 0) < task.parties) Atomics.wait(task.barrier, 0, Atomics.load(task.barrier, 0), 50);
  const times: number[] = [];
  const end = performance.now() + task.seconds * 1000;
  while (performance.now() < end) {
    if (task.role === 'decode') times.push(...(await raw.decodeStepTimes(task.rows, PAST, 10, 0)));
    else if (task.role === 'prefill') times.push(...(await raw.prefillTimes(task.chunk, 1, 0)));
    else {
      const [decode] = await raw.decodeStepTimes(task.rows, PAST, 1, 0);
      const [prefill] = await raw.prefillTimes(task.chunk, 1, 0);
      times.push(decode + prefill);
    }
  }
  await raw.release();
  return { role: task.role, times };
}

function runThreads(roles: Role[], base: Omit<RoleTask, 'role' | 'barrier' | 'parties' | 'threads'>, threads: number): Promise<RoleTimes[]> {
  const barrier = new Int32Array(new SharedArrayBuffer(4));
  return Promise.all(
    roles.map(
      (role) =>
        new Promise<RoleTimes>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: { ...base, role, threads, barrier, parties: roles.length } satisfies RoleTask });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      rows: { type: 'string', default: '32' },
      chunk: { type: 'string', default: '128' },
      seconds: { type: 'string', default: '15' },
      'output-tokens': { type: 'string', default: '64' },
    },
  });
  const rows = Number(args.rows);
  const chunk = Number(args.chunk);
  const outputTokens = Number(args['output-tokens']);
  const base = { rows, chunk, seconds: Number(args.seconds), modelDir: await ensureBenchModel() };
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
  const stats = (times: number[]): { p50: number; p99: number } => ({ p50: percentile(times, 50), p99: percentile(times, 99) });

  // The engine's layout: one two-thread session, decode passes alone and with a prompt beside them.
  const [decodeAlone] = await runThreads(['decode'], base, 2);
  const [mixed] = await runThreads(['mixed'], base, 2);
  // Split roles: a one-thread decode session and a one-thread prefill session, running at once.
  const split = await runThreads(['decode', 'prefill'], base, 1);
  const splitDecode = stats(split[0].times);
  const splitPrefill = stats(split[1].times);

  const d = stats(decodeAlone.times);
  const m = stats(mixed.times);
  console.log(`\n${rows} decode rows (past ${PAST}), ${chunk}-token prompts, ${outputTokens} output tokens per request\n`);
  console.log('| layout | decode pass p50 / p99 ms | step with a prompt p50 ms | prompts/s | output tok/s it allows |');
  console.log('|---|---|---|---|---|');
  // One session: a prompt every outputTokens ÷ rows passes rides on a decode pass (every pass at most).
  const mixedShare = Math.min(1, rows / outputTokens);
  const oneSessionPassMs = d.p50 * (1 - mixedShare) + m.p50 * mixedShare;
  console.log(`| one session, 2 threads | ${d.p50.toFixed(1)} / ${d.p99.toFixed(1)} | ${m.p50.toFixed(1)} | — | ${((rows * 1000) / oneSessionPassMs).toFixed(0)} |`);
  const promptRate = 1000 / splitPrefill.p50;
  const splitTokS = Math.min((rows * 1000) / splitDecode.p50, promptRate * outputTokens);
  console.log(`| split, 1 + 1 threads | ${splitDecode.p50.toFixed(1)} / ${splitDecode.p99.toFixed(1)} | — (prompt ${splitPrefill.p50.toFixed(1)}) | ${promptRate.toFixed(1)} | ${splitTokS.toFixed(0)} |`);
  console.log(`\nload average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
}

if (isMainThread) await main();
else parentPort?.postMessage(await runRole(workerData as RoleTask));
