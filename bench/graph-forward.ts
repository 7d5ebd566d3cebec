// Raw forward throughput of the slot-KV decoder graph on the bench preset
// (~56M params), fp32 and int4: decode steps at B = 1, 8, 32, 64 with 128
// tokens of past per row, and B = 1 prefill of 512 tokens, through the device
// worker's own DecoderForward and KvSlotPool (KV stored after every step). Unlike
// bench/raw-forward.ts it builds graph variants (--slice) from in-memory weights
// and fills every KV position, so --capacity-slack shows what slack costs.
//
//   node dist/bench/graph-forward.js [--threads 2] [--no-spin] [--slice] [--capacity-slack 64] [--only fp32|int4]

import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { buildDecoderGraph, type DecoderGraphOptions } from '../src/model/graph/decoder-graph.js';
import { createDecoderSession } from '../src/model/graph/session.js';
import { DECODER_PRESETS } from '../src/model/testmodels/presets.js';
import { randomDecoderWeights } from '../src/model/testmodels/random-weights.js';
import { MapWeightStore } from '../src/model/weight-store.js';
import { DecoderForward, type ForwardBatch } from '../src/worker/forward.js';
import { KvSlotPool } from '../src/worker/kv-pool.js';
import { median, store } from './raw-forward.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    'no-spin': { type: 'boolean', default: false },
    slice: { type: 'boolean', default: false },
    'capacity-slack': { type: 'string', default: '64' },
    only: { type: 'string' },
  },
});

const PAST = 128;
const BATCHES = [1, 8, 32, 64];
const PREFILL = 512;
const config = DECODER_PRESETS.bench;

/**
 * A pool of `batch` slots of `capacity` positions, every position filled with
 * data (not only the past: this bench also measures what KV slack costs).
 */
function filledPool(batch: number, capacity: number): KvSlotPool {
  const c = config;
  const pool = new KvSlotPool({ layers: c.numLayers, kvHeads: c.numKvHeads, headDim: c.headDim, maxSlots: batch, budgetTokens: batch * capacity });
  pool.reserve(capacity, batch);
  for (let b = 0; b < batch; b++) pool.acquire(`row-${b}`);
  const { keys, values } = pool.prefixViews(batch);
  for (const buffer of [...keys, ...values]) {
    for (let i = 0; i < buffer.length; i++) buffer[i] = Math.sin(i * 0.37) * 0.5;
  }
  return pool;
}

/** `batch` rows of `seq` new tokens after `past` positions; decode wants every row's logits, prefill only the last position's. */
function forwardBatch(batch: number, seq: number, past: number, pool: KvSlotPool | null): ForwardBatch {
  const c = config;
  const ids = new BigInt64Array(batch * seq);
  const pos = new BigInt64Array(batch * seq);
  for (let i = 0; i < ids.length; i++) {
    ids[i] = BigInt(3 + ((i * 7919) % (c.vocabSize - 3)));
    pos[i] = BigInt(past + (i % seq));
  }
  const empty = Array.from({ length: c.numLayers }, () => new Float32Array(0));
  const views = pool?.prefixViews(batch) ?? { keys: empty, values: empty };
  return {
    batch,
    seqLen: seq,
    inputIds: ids,
    positionIds: pos,
    pastLens: new BigInt64Array(batch).fill(BigInt(past)),
    newLens: new BigInt64Array(batch).fill(BigInt(seq)),
    logitsRows: BigInt64Array.from({ length: seq === 1 ? batch : 1 }, (_, b) => BigInt(seq === 1 ? b : seq - 1)),
    keys: views.keys,
    values: views.values,
    capacity: pool?.capacity ?? 0,
  };
}

interface Row {
  variant: string;
  what: string;
  ms: number;
  tokPerS: number;
  /** Process CPU time (user + sys, all threads) per step: less sensitive to other load than wall time. */
  cpuMs: number;
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

async function benchVariant(label: string, options: DecoderGraphOptions, weights: MapWeightStore, rows: Row[]): Promise<void> {
  let t0 = performance.now();
  const bytes = buildDecoderGraph(config, weights, options);
  const buildMs = performance.now() - t0;
  t0 = performance.now();
  const session = await createDecoderSession(bytes, { intraOpThreads: Number(args.threads), spinning: !args['no-spin'] });
  const sessionMs = performance.now() - t0;
  const c = config;
  const forward = new DecoderForward(session, { layers: c.numLayers, kvHeads: c.numKvHeads, headDim: c.headDim, vocabSize: c.vocabSize });
  console.error(`${label}: graph ${(bytes.length / 1e6).toFixed(1)} MB built in ${buildMs.toFixed(0)} ms; session in ${sessionMs.toFixed(0)} ms`);

  for (const batch of BATCHES) {
    const pool = filledPool(batch, PAST + Number(args['capacity-slack']));
    const input = forwardBatch(batch, 1, PAST, pool);
    const times: number[] = [];
    const steps = batch >= 32 ? 15 : 30;
    let cpu = process.cpuUsage();
    for (let i = 0; i < steps + 3; i++) {
      if (i === 3) cpu = process.cpuUsage();
      const start = performance.now();
      const out = await forward.run(input);
      for (let row = 0; row < batch; row++) store(pool, out, 1, row, row, PAST, 1);
      if (i >= 3) times.push(performance.now() - start);
    }
    const cpuMs = cpuMsSince(cpu) / steps;
    const ms = median(times);
    rows.push({ variant: label, what: `decode B=${batch} past=${PAST}`, ms, tokPerS: (batch * 1000) / ms, cpuMs });
  }

  const prefill = forwardBatch(1, PREFILL, 0, null);
  const times: number[] = [];
  let cpu = process.cpuUsage();
  for (let i = 0; i < 4; i++) {
    if (i === 1) cpu = process.cpuUsage();
    const start = performance.now();
    await forward.run(prefill);
    if (i >= 1) times.push(performance.now() - start);
  }
  const cpuMs = cpuMsSince(cpu) / 3;
  const ms = median(times);
  rows.push({ variant: label, what: `prefill B=1 S=${PREFILL}`, ms, tokPerS: (PREFILL * 1000) / ms, cpuMs });
  await session.release();
}

async function main(): Promise<void> {
  let t0 = performance.now();
  const weights = new MapWeightStore(randomDecoderWeights(config, 1));
  console.error(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
  console.error(`random bench weights in ${(performance.now() - t0).toFixed(0)} ms`);
  const rows: Row[] = [];
  const slice = args.slice === true;
  if (args.only !== 'int4') await benchVariant(slice ? 'fp32 Cs' : 'fp32', { sliceKvToMaxPast: slice }, weights, rows);
  if (args.only !== 'fp32') await benchVariant(slice ? 'int4 Cs' : 'int4', { quantize: 'int4', sliceKvToMaxPast: slice }, weights, rows);
  t0 = performance.now();

  console.log(`\nbench preset (${config.numLayers} layers, hidden ${config.hiddenSize}, vocab ${config.vocabSize}); intraOp=${args.threads}, spinning=${!args['no-spin']}, KV capacity = past + ${args['capacity-slack']}`);
  console.log(`load average at the end (1/5/15 min): ${loadavg().map((l) => l.toFixed(2)).join(' / ')} (a quiet 2-core box reads < 1)`);
  console.log('| variant | step | median ms | tok/s | CPU ms/step (all threads) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.variant} | ${r.what} | ${r.ms.toFixed(2)} | ${r.tokPerS.toFixed(0)} | ${r.cpuMs.toFixed(1)} |`);
  }
}

await main();
