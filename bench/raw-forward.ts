// Raw forward throughput of Serval's slot-KV decoder graph, driven exactly as a
// device worker drives it: `DecoderForward` packs the feeds, `KvSlotPool` owns
// the KV buffers (zero-copy prefix / slot views) and stores the returned new
// K/V after every call. No scheduler, no sampling, no threads: this is the
// "raw forward" bench/engine.ts compares the engine against.
//
// Run directly (`npm run bench:graph`), it prints decode step times at
// B = 1, 8, 32, 64 with 128 positions of past and a B = 1 prefill of 512
// tokens, fp32 and int4, on the bench preset (~56M params), with process CPU
// time per call next to wall time. By default it fills the whole KV capacity
// (so --capacity-slack shows what slack costs) and fetches every row's logits;
// --fill past and --greedy drive the graph as the engine's greedy decode does.
// --jitter N instead times N greedy B = 1 decode calls (past 160) with intra-op
// spinning on and off, in alternating blocks, and prints their p50 / p99: the
// floor under the server's inter-token ratio at one stream.
//
//   node dist/bench/raw-forward.js [--model-dir DIR] [--threads 2] [--no-spin] [--slice]
//                                  [--capacity-slack 64] [--fill capacity|past] [--greedy] [--only fp32|int4]
//   node dist/bench/raw-forward.js --jitter 1500 [--model-dir DIR] [--threads 2]
// --chunk-calls 7x16,3x40,2x128 instead times a step's prompt chunks (past 112)
// run as one call each against one call of them all (the device groups them).
//   node dist/bench/raw-forward.js --chunk-calls 7x16,3x40,2x128 [--reps 20] [--model-dir DIR] [--threads 2]

import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadModel } from '../src/model/load-model.js';
import { buildDecoderGraph } from '../src/model/graph/decoder-graph.js';
import type { ExternalDataWriter } from '../src/model/graph/external-data.js';
import { createDecoderSession, createStagedSession } from '../src/model/graph/session.js';
import type { DecoderConfig } from '../src/model/types.js';
import { DecoderForward, type ForwardKv } from '../src/worker/forward.js';
import { KvSlotPool } from '../src/worker/kv-pool.js';
import type ort from 'onnxruntime-node';
import { ensureBenchModel } from './bench-model.js';
import { percentile } from './workload.js';

export interface RawForwardOptions {
  quantize: 'int4' | null;
  intraOpThreads: number;
  spinning: boolean;
  /** Graph variant that slices the KV inputs to the longest past (default off, as the engine). */
  sliceKvToMaxPast?: boolean;
  /** KV positions a decode slot gets beyond its past (default CAPACITY_GRANULE). */
  capacitySlack?: number;
  /** Write data into the slack positions too, not only the past (default off, as in the engine's pool). */
  fillSlack?: boolean;
  /** Decode fetches every row's logits instead of the in-graph argmax (default off, as greedy rows). */
  fetchLogits?: boolean;
  /** Weights inside the protobuf, as before they were staged in an external-data file (default off, as the engine). */
  inlineWeights?: boolean;
}

/** KV positions a slot gets beyond the rows' past: the engine grows capacity in 64-position granules. */
export const CAPACITY_GRANULE = 64;

export class RawForward {
  readonly config: DecoderConfig;
  readonly buildMs: number;
  private readonly session: ort.InferenceSession;
  private readonly forward: DecoderForward;
  private readonly pools = new Map<string, KvSlotPool>();

  private constructor(
    config: DecoderConfig,
    session: ort.InferenceSession,
    buildMs: number,
    readonly graphBytes: number,
    private readonly options: RawForwardOptions,
  ) {
    this.config = config;
    this.session = session;
    this.buildMs = buildMs;
    const c = config;
    this.forward = new DecoderForward(session, { layers: c.numLayers, kvHeads: c.numKvHeads, headDim: c.headDim, vocabSize: c.vocabSize });
  }

  /** Loads the folder's weights and builds the graph the same way `loadDevice` does. */
  static async load(modelDir: string, options: RawForwardOptions): Promise<RawForward> {
    const started = performance.now();
    const model = await loadModel(modelDir);
    const graphOptions = { quantize: options.quantize ?? undefined, sliceKvToMaxPast: options.sliceKvToMaxPast };
    const sessionOptions = { intraOpThreads: options.intraOpThreads, spinning: options.spinning };
    let graphBytes = 0;
    const build = (externalData?: ExternalDataWriter): Uint8Array => {
      const graph = buildDecoderGraph(model.config, model.weights, { ...graphOptions, externalData });
      graphBytes = graph.length;
      return graph;
    };
    const session = options.inlineWeights
      ? await createDecoderSession(build(), sessionOptions)
      : await createStagedSession(build, sessionOptions);
    return new RawForward(model.config, session, performance.now() - started, graphBytes, options);
  }

  /**
   * Wall ms of `steps` decode calls (one token per row) at `batch` rows of `past`
   * positions, each including the KV store, after `warmup` untimed calls.
   */
  async decodeStepTimes(batch: number, past: number, steps: number, warmup = 1): Promise<number[]> {
    const capacity = past + (this.options.capacitySlack ?? CAPACITY_GRANULE);
    const pool = this.pool(batch, capacity, this.options.fillSlack ? capacity : past);
    const ids = new BigInt64Array(batch);
    for (let b = 0; b < batch; b++) ids[b] = BigInt(16 + ((b * 7919) % (this.config.vocabSize - 16)));
    const input = {
      batch,
      seqLen: 1,
      inputIds: ids,
      positionIds: new BigInt64Array(batch).fill(BigInt(past)),
      pastLens: new BigInt64Array(batch).fill(BigInt(past)),
      newLens: new BigInt64Array(batch).fill(1n),
      logitsRows: BigInt64Array.from({ length: batch }, (_, b) => BigInt(b)),
      ...pool.prefixViews(batch),
      capacity,
    };
    const times: number[] = [];
    for (let i = 0; i < warmup + steps; i++) {
      const started = performance.now();
      // The engine's greedy decode steps fetch the in-graph argmax, not the logits.
      const out = this.options.fetchLogits ? await this.forward.run(input) : await this.forward.runGreedy(input);
      for (let row = 0; row < batch; row++) store(pool, out, 1, row, row, past, 1);
      if (i >= warmup) times.push(performance.now() - started);
    }
    return times;
  }

  /** Wall ms of B = 1 prefills of `length` tokens into an empty slot (last position's logits only), KV store included. */
  async prefillTimes(length: number, reps: number, warmup = 1): Promise<number[]> {
    const capacity = Math.ceil(length / CAPACITY_GRANULE) * CAPACITY_GRANULE;
    const pool = this.pool(1, capacity, 0);
    const input = {
      batch: 1,
      seqLen: length,
      inputIds: BigInt64Array.from({ length }, (_, i) => BigInt(16 + ((i * 7919) % (this.config.vocabSize - 16)))),
      positionIds: BigInt64Array.from({ length }, (_, i) => BigInt(i)),
      pastLens: BigInt64Array.of(0n),
      newLens: BigInt64Array.of(BigInt(length)),
      logitsRows: BigInt64Array.of(BigInt(length - 1)),
      // As the device worker runs a first chunk: against an empty cache.
      keys: Array.from({ length: this.config.numLayers }, () => new Float32Array(0)),
      values: Array.from({ length: this.config.numLayers }, () => new Float32Array(0)),
      capacity: 0,
    };
    const times: number[] = [];
    for (let i = 0; i < warmup + reps; i++) {
      const started = performance.now();
      const out = await this.forward.run(input);
      store(pool, out, length, 0, 0, 0, length);
      if (i >= warmup) times.push(performance.now() - started);
    }
    return times;
  }

  /**
   * Wall ms of running `count` prompt chunks of `length` tokens, each continuing
   * a slot of `past` positions, as `count` calls of one row (together: false)
   * or one call of `count` rows (as the device worker groups a step's chunks),
   * KV stores included; one entry per rep, after `warmup` untimed reps.
   */
  async chunkCallTimes(count: number, length: number, past: number, together: boolean, reps: number, warmup = 1): Promise<number[]> {
    const capacity = past + length + CAPACITY_GRANULE;
    const pool = this.pool(count, capacity, past);
    const input = (first: number, batch: number) => ({
      batch,
      seqLen: length,
      inputIds: BigInt64Array.from({ length: batch * length }, (_, i) => BigInt(16 + ((i * 7919) % (this.config.vocabSize - 16)))),
      positionIds: BigInt64Array.from({ length: batch * length }, (_, i) => BigInt(past + (i % length))),
      pastLens: new BigInt64Array(batch).fill(BigInt(past)),
      newLens: new BigInt64Array(batch).fill(BigInt(length)),
      logitsRows: BigInt64Array.from({ length: batch }, (_, b) => BigInt(b * length + length - 1)),
      ...pool.slotViews(first, batch),
      capacity,
    });
    const calls = together ? [input(0, count)] : Array.from({ length: count }, (_, slot) => input(slot, 1));
    const times: number[] = [];
    for (let i = 0; i < warmup + reps; i++) {
      const started = performance.now();
      for (const [c, call] of calls.entries()) {
        const out = await this.forward.run(call);
        for (let row = 0; row < call.batch; row++) store(pool, out, length, row, together ? row : c, past, length);
      }
      if (i >= warmup) times.push(performance.now() - started);
    }
    return times;
  }

  release(): Promise<void> {
    this.pools.clear();
    return this.session.release();
  }

  /** Pools are kept per shape: the B = 64 ones are hundreds of MB and get reused across measurement rounds. */
  private pool(slots: number, capacity: number, filled: number): KvSlotPool {
    const key = `${slots}x${capacity}x${filled}`;
    const cached = this.pools.get(key);
    if (cached) return cached;
    const c = this.config;
    const pool = new KvSlotPool({ layers: c.numLayers, kvHeads: c.numKvHeads, headDim: c.headDim, maxSlots: slots, budgetTokens: slots * capacity });
    pool.reserve(capacity, slots);
    for (let s = 0; s < slots; s++) pool.acquire(`raw-${s}`);
    fillWithData(pool, slots, filled);
    this.pools.set(key, pool);
    return pool;
  }
}

/**
 * Writes small non-zero values into positions [0, past) of every slot, as the
 * prefills and decode steps before this call would have (with fillSlack, `past`
 * is the whole capacity). Positions beyond stay
 * untouched, as in the engine's pool: a fresh Float32Array's untouched pages all
 * map the kernel's zero page, which stays in cache, so attention over them is
 * nearly free while written positions cost real memory traffic. Without this the
 * reference would read its whole capacity from that one cached page.
 */
function fillWithData(pool: KvSlotPool, slots: number, past: number): void {
  const { keys, values } = pool.prefixViews(slots);
  const { kvHeads, headDim } = pool.shape;
  const rowStride = pool.capacity * headDim;
  for (const buffer of [...keys, ...values]) {
    for (let row = 0; row < slots * kvHeads; row++) {
      const start = row * rowStride;
      for (let i = 0; i < past * headDim; i++) buffer[start + i] = ((i % 97) - 48) / 512;
    }
  }
}

/** The device worker's store step (`Device.store`): new K/V of one batch row into its slot. */
export function store(pool: KvSlotPool, out: ForwardKv, seqLen: number, row: number, slot: number, start: number, count: number): void {
  for (let layer = 0; layer < out.newKeys.length; layer++) {
    pool.write(layer, out.newKeys[layer], out.newValues[layer], seqLen, row, slot, start, count);
  }
}

export function median(values: number[]): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.floor(sorted.length / 2)];
}

/** Raw decode step times on a (batch × past) grid, interpolated linearly in both (extrapolated at the edges). */
export class DecodeStepModel {
  constructor(
    readonly batches: number[],
    readonly pasts: number[],
    /** ms[pastIndex][batchIndex] */
    readonly ms: number[][],
  ) {}

  stepMs(batch: number, past: number): number {
    const [p0, p1, wp] = bracket(this.pasts, past);
    const [b0, b1, wb] = bracket(this.batches, batch);
    const at = (pi: number): number => this.ms[pi][b0] + (this.ms[pi][b1] - this.ms[pi][b0]) * wb;
    return Math.max(0, at(p0) + (at(p1) - at(p0)) * wp);
  }
}

/** Prefill time fitted as T(S) = a·S + b·S² through two measured lengths (linear work + attention). */
export class PrefillModel {
  readonly a: number;
  readonly b: number;
  constructor(s1: number, ms1: number, s2: number, ms2: number) {
    this.b = (ms2 / s2 - ms1 / s1) / (s2 - s1);
    this.a = ms1 / s1 - this.b * s1;
  }

  ms(length: number): number {
    return Math.max(0, this.a * length + this.b * length * length);
  }
}

/** Indices of the grid segment around x and x's fraction along it (outside the grid: the end segment, extrapolated). */
function bracket(grid: number[], x: number): [number, number, number] {
  if (grid.length === 1) return [0, 0, 0];
  let i = 0;
  while (i < grid.length - 2 && x > grid[i + 1]) i++;
  return [i, i + 1, (x - grid[i]) / (grid[i + 1] - grid[i])];
}

// ---- `npm run bench:graph`: the raw forward alone, as a table ----------------

const PAST = 128;
const BATCHES = [1, 8, 32, 64];
const PREFILL = 512;

interface Row {
  variant: string;
  what: string;
  ms: number;
  tokPerS: number;
  /** Process CPU time (user + sys, all threads) per call: less sensitive to other load than wall time. */
  cpuMs: number;
}

/** Median wall ms and process CPU ms per call of `measure(calls)`, after `warmup` untimed calls. */
async function timed(warmup: number, calls: number, measure: (calls: number, warmup: number) => Promise<number[]>): Promise<{ ms: number; cpuMs: number }> {
  await measure(0, warmup);
  const cpu = process.cpuUsage();
  const times = await measure(calls, 0);
  const used = process.cpuUsage(cpu);
  return { ms: median(times), cpuMs: (used.user + used.system) / 1000 / calls };
}

async function benchVariant(label: string, modelDir: string, options: RawForwardOptions, rows: Row[]): Promise<DecoderConfig> {
  const raw = await RawForward.load(modelDir, options);
  console.error(`${label}: protobuf ${(raw.graphBytes / 1e6).toFixed(1)} MB; weights + graph + session in ${raw.buildMs.toFixed(0)} ms`);
  for (const batch of BATCHES) {
    const { ms, cpuMs } = await timed(3, batch >= 32 ? 15 : 30, (calls, warmup) => raw.decodeStepTimes(batch, PAST, calls, warmup));
    rows.push({ variant: label, what: `decode B=${batch} past=${PAST}`, ms, tokPerS: (batch * 1000) / ms, cpuMs });
  }
  const { ms, cpuMs } = await timed(1, 3, (calls, warmup) => raw.prefillTimes(PREFILL, calls, warmup));
  rows.push({ variant: label, what: `prefill B=1 S=${PREFILL}`, ms, tokPerS: (PREFILL * 1000) / ms, cpuMs });
  await raw.release();
  return raw.config;
}

/** B = 1 greedy decode calls with spinning on and off, in alternating blocks of 100 so both see the same load drift. */
async function jitter(modelDir: string, threads: number, calls: number): Promise<void> {
  const modes = [true, false];
  const sessions = await Promise.all(
    modes.map((spinning) => RawForward.load(modelDir, { quantize: null, intraOpThreads: threads, spinning, fillSlack: false, fetchLogits: false })),
  );
  const times: number[][] = modes.map(() => []);
  for (let done = 0; done < calls; done += 100) {
    for (let i = 0; i < modes.length; i++) times[i].push(...(await sessions[i].decodeStepTimes(1, 160, Math.min(100, calls - done), done === 0 ? 20 : 1)));
  }
  console.log(`\nB = 1 greedy decode calls, past 160, ${calls} each, intraOp=${threads}; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
  console.log('| spinning | p50 ms | p90 ms | p99 ms | p99 ÷ p50 |');
  console.log('|---|---|---|---|---|');
  modes.forEach((spinning, i) => {
    const [p50, p90, p99] = [50, 90, 99].map((p) => percentile(times[i], p));
    console.log(`| ${spinning ? 'on' : 'off'} | ${p50.toFixed(2)} | ${p90.toFixed(2)} | ${p99.toFixed(2)} | ${(p99 / p50).toFixed(2)} |`);
  });
  await Promise.all(sessions.map((session) => session.release()));
}

/** `count`×`length` chunk shapes run as separate calls and as one call, in alternating reps so both see the same load drift. */
async function chunkCalls(modelDir: string, threads: number, shapes: string, reps: number): Promise<void> {
  const raw = await RawForward.load(modelDir, { quantize: null, intraOpThreads: threads, spinning: true });
  const past = 112;
  console.log(`\nPrompt chunks continuing ${past} positions of past, ${reps} alternating reps; intraOp=${threads}`);
  console.log('| chunks × tokens | separate calls p50 ms | one call p50 ms | one ÷ separate |');
  console.log('|---|---|---|---|');
  for (const shape of shapes.split(',')) {
    const [count, length] = shape.split('x').map(Number);
    if (!(count >= 1 && length >= 1)) throw new Error(`--chunk-calls takes COUNTxLENGTH[,…], got '${shape}'`);
    const separate: number[] = [];
    const together: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      separate.push(...(await raw.chunkCallTimes(count, length, past, false, 1)));
      together.push(...(await raw.chunkCallTimes(count, length, past, true, 1)));
    }
    const [a, b] = [percentile(separate, 50), percentile(together, 50)];
    console.log(`| ${count} × ${length} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(2)} |`);
  }
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
  await raw.release();
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      'model-dir': { type: 'string' },
      threads: { type: 'string', default: '2' },
      'no-spin': { type: 'boolean', default: false },
      slice: { type: 'boolean', default: false },
      'capacity-slack': { type: 'string', default: '64' },
      fill: { type: 'string', default: 'capacity' },
      greedy: { type: 'boolean', default: false },
      only: { type: 'string' },
      jitter: { type: 'string' },
      'chunk-calls': { type: 'string' },
      reps: { type: 'string', default: '20' },
    },
  });
  if (args.fill !== 'capacity' && args.fill !== 'past') throw new Error(`--fill must be capacity or past, got '${args.fill}'`);
  console.error(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
  const modelDir = args['model-dir'] ?? (await ensureBenchModel());
  if (args.jitter !== undefined) return jitter(modelDir, Number(args.threads), Number(args.jitter));
  if (args['chunk-calls'] !== undefined) return chunkCalls(modelDir, Number(args.threads), args['chunk-calls'], Number(args.reps));
  const slice = args.slice === true;
  const common = {
    intraOpThreads: Number(args.threads),
    spinning: !args['no-spin'],
    sliceKvToMaxPast: slice,
    capacitySlack: Number(args['capacity-slack']),
    fillSlack: args.fill === 'capacity',
    fetchLogits: !args.greedy,
  };
  const rows: Row[] = [];
  const variants = (['fp32', 'int4'] as const).filter((variant) => args.only === undefined || args.only === variant);
  let config: DecoderConfig | null = null;
  for (const variant of variants) {
    config = await benchVariant(slice ? `${variant} Cs` : variant, modelDir, { quantize: variant === 'int4' ? 'int4' : null, ...common }, rows);
  }
  if (config === null) throw new Error(`--only must be fp32 or int4, got '${args.only}'`);
  console.log(
    `\n${modelDir} (${config.numLayers} layers, hidden ${config.hiddenSize}, vocab ${config.vocabSize}); intraOp=${args.threads}, spinning=${common.spinning}, ` +
      `KV capacity = past + ${common.capacitySlack} (${args.fill === 'capacity' ? 'all of it' : 'the past'} holding data), decode fetches ${common.fetchLogits ? 'every row\'s logits' : 'the in-graph argmax'}`,
  );
  console.log(`load average at the end (1/5/15 min): ${loadavg().map((l) => l.toFixed(2)).join(' / ')} (a quiet 2-core box reads < 1)`);
  console.log('| variant | step | median ms | tok/s | CPU ms/step (all threads) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.variant} | ${r.what} | ${r.ms.toFixed(2)} | ${r.tokPerS.toFixed(0)} | ${r.cpuMs.toFixed(1)} |`);
}

// A library for bench/engine.ts; a bench of its own when run as the script.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
