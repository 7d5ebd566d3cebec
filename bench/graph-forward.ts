// Raw forward throughput of the slot-KV decoder graph on the bench preset
// (~56M params), fp32 and int4: decode steps at B = 1, 8, 32, 64 with 128
// tokens of past per row, and B = 1 prefill of 512 tokens. JS owns the KV
// buffers and scatters the returned new K/V into them after every step, as the
// device worker does (shared/research/ort-batching.md, variant C).
//
//   node dist/bench/graph-forward.js [--threads 2] [--no-spin] [--slice] [--capacity-slack 64] [--only fp32|int4]

import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { buildDecoderGraph, type DecoderGraphOptions } from '../src/model/graph/decoder-graph.js';
import {
  INPUT_IDS,
  LOGITS_ROWS,
  NEW_LENS,
  PAST_LENS,
  POSITION_IDS,
  kvKeyInput,
  kvValueInput,
  newKeyOutput,
  newValueOutput,
} from '../src/model/graph/graph-io.js';
import { createDecoderSession } from '../src/model/graph/session.js';
import { DECODER_PRESETS } from '../src/model/testmodels/presets.js';
import { randomDecoderWeights } from '../src/model/testmodels/random-weights.js';
import type { DecoderConfig } from '../src/model/types.js';
import { MapWeightStore } from '../src/model/weight-store.js';

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

/** Per-layer K and V slot buffers [B, kvH, cap, D], owned by JS. */
class KvSlots {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  constructor(readonly c: DecoderConfig, readonly batch: number, readonly cap: number) {
    const size = batch * c.numKvHeads * cap * c.headDim;
    const fill = (a: Float32Array): Float32Array => {
      for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37) * 0.5;
      return a;
    };
    this.keys = Array.from({ length: c.numLayers }, () => fill(new Float32Array(size)));
    this.values = Array.from({ length: c.numLayers }, () => fill(new Float32Array(size)));
  }

  /** Writes new.{l}.* [B, kvH, S, D] (first `count` positions of each row) at position `at`. */
  scatter(out: ort.InferenceSession.OnnxValueMapType, seq: number, at: number, count: number): void {
    const { numKvHeads: kvH, headDim: D, numLayers } = this.c;
    for (let l = 0; l < numLayers; l++) {
      const nk = out[newKeyOutput(l)].data as Float32Array;
      const nv = out[newValueOutput(l)].data as Float32Array;
      for (let bh = 0; bh < this.batch * kvH; bh++) {
        const from = bh * seq * D;
        const to = (bh * this.cap + at) * D;
        this.keys[l].set(nk.subarray(from, from + count * D), to);
        this.values[l].set(nv.subarray(from, from + count * D), to);
      }
    }
  }
}

function feeds(c: DecoderConfig, batch: number, seq: number, past: number, slots: KvSlots | null): Record<string, ort.Tensor> {
  const ids = new BigInt64Array(batch * seq);
  const pos = new BigInt64Array(batch * seq);
  for (let i = 0; i < ids.length; i++) {
    ids[i] = BigInt(3 + ((i * 7919) % (c.vocabSize - 3)));
    pos[i] = BigInt(past + (i % seq));
  }
  const f: Record<string, ort.Tensor> = {
    [INPUT_IDS]: new ort.Tensor('int64', ids, [batch, seq]),
    [POSITION_IDS]: new ort.Tensor('int64', pos, [batch, seq]),
    [PAST_LENS]: new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(past)), [batch]),
    [NEW_LENS]: new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(seq)), [batch]),
    // Decode wants every row's (only) position; prefill only the last one.
    [LOGITS_ROWS]: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: seq === 1 ? batch : 1 }, (_, b) => BigInt(seq === 1 ? b : seq - 1)),
      [seq === 1 ? batch : 1],
    ),
  };
  for (let l = 0; l < c.numLayers; l++) {
    const cap = slots?.cap ?? 0;
    const dims = [batch, c.numKvHeads, cap, c.headDim];
    f[kvKeyInput(l)] = new ort.Tensor('float32', slots?.keys[l] ?? new Float32Array(0), dims);
    f[kvValueInput(l)] = new ort.Tensor('float32', slots?.values[l] ?? new Float32Array(0), dims);
  }
  return f;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
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
  console.error(`${label}: graph ${(bytes.length / 1e6).toFixed(1)} MB built in ${buildMs.toFixed(0)} ms; session in ${sessionMs.toFixed(0)} ms`);

  for (const batch of BATCHES) {
    const slots = new KvSlots(config, batch, PAST + Number(args['capacity-slack']));
    const f = feeds(config, batch, 1, PAST, slots);
    const times: number[] = [];
    const steps = batch >= 32 ? 15 : 30;
    let cpu = process.cpuUsage();
    for (let i = 0; i < steps + 3; i++) {
      if (i === 3) cpu = process.cpuUsage();
      const start = performance.now();
      const out = await session.run(f);
      slots.scatter(out, 1, PAST, 1);
      if (i >= 3) times.push(performance.now() - start);
    }
    const cpuMs = cpuMsSince(cpu) / steps;
    const ms = median(times);
    rows.push({ variant: label, what: `decode B=${batch} past=${PAST}`, ms, tokPerS: (batch * 1000) / ms, cpuMs });
  }

  const f = feeds(config, 1, PREFILL, 0, null);
  const times: number[] = [];
  let cpu = process.cpuUsage();
  for (let i = 0; i < 4; i++) {
    if (i === 1) cpu = process.cpuUsage();
    const start = performance.now();
    await session.run(f);
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
