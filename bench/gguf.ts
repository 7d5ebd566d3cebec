// GGUF against safetensors on the bench preset (~56M params): the checkpoint
// as fp32 safetensors, and as GGUF F32, Q8_0, Q4_0 and Q4_K written by the test
// writer (cached next to the bench model). Each variant runs in its own child
// process so load time and RSS are its own. Per variant: file size, load time
// (read + graph build + session), RSS after load and peak RSS, raw decode
// tok/s at B = 1 and B = 32 (128 positions of past, bench/raw-forward.ts), and
// for the quantised files max |Δ logit| over a 32-token prompt against
//   (a) an fp32 graph of the same dequantised weights (what the served path costs
//       on top of the file's own quantisation: MatMulNBits' int8 activations), and
//   (b) the original fp32 checkpoint (the quantisation itself).
//
//   npm run bench:gguf [-- --threads 2]

import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildDecoderGraph } from '../src/model/graph/decoder-graph.js';
import { createDecoderSession } from '../src/model/graph/session.js';
import { loadModel } from '../src/model/load-model.js';
import type { GgufWriteType } from '../src/model/testmodels/write-gguf.js';
import type { DecoderConfig, F32Tensor, WeightStore } from '../src/model/types.js';
import { MapWeightStore } from '../src/model/weight-store.js';
import { SequenceCache, maxAbsDiff, promptTokens, runBatch } from '../test/graph/harness.js';
import { ensureBenchGguf, ensureBenchModel } from './bench-model.js';
import { RawForward, median } from './raw-forward.js';

const { values: args } = parseArgs({ options: { threads: { type: 'string', default: '2' }, variant: { type: 'string' }, reference: { type: 'string' } } });
const THREADS = Number(args.threads);
const GGUF_TYPES: GgufWriteType[] = ['F32', 'Q8_0', 'Q4_0', 'Q4_K'];
const PAST = 128;

interface Row {
  name: string;
  fileMb: number;
  loadS: number;
  rssMb: number;
  peakRssMb: number;
  tokS1: number;
  tokS32: number;
  deltaDequant: number | null;
  deltaCheckpoint: number | null;
}

async function logits(config: DecoderConfig, weights: WeightStore, tokens: number[]): Promise<Float32Array[]> {
  const session = await createDecoderSession(buildDecoderGraph(config, weights), { intraOpThreads: THREADS });
  const [rows] = await runBatch(session, config, [{ cache: new SequenceCache(config, tokens.length), tokens, logitsAt: tokens.map((_, i) => i) }]);
  await session.release();
  return rows;
}

const worst = (a: Float32Array[], b: Float32Array[]): number => Math.max(...a.map((row, i) => maxAbsDiff(row, b[i])));

/** Child: one variant, one JSON line on stdout. */
async function measure(modelPath: string, checkpoint: string): Promise<void> {
  const raw = await RawForward.load(modelPath, { quantize: null, intraOpThreads: THREADS, spinning: true });
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const tokS1 = 1000 / median(await raw.decodeStepTimes(1, PAST, 16, 2));
  const tokS32 = (32 * 1000) / median(await raw.decodeStepTimes(32, PAST, 6, 1));
  let deltaDequant: number | null = null;
  let deltaCheckpoint: number | null = null;
  if (modelPath !== checkpoint) {
    const model = await loadModel(modelPath);
    const tokens = promptTokens(7, 32, model.config.vocabSize);
    const served = await logits(model.config, model.weights, tokens);
    const dequantised = new MapWeightStore(new Map(model.weights.names().map((n): [string, F32Tensor] => [n, model.weights.get(n)])));
    deltaDequant = worst(served, await logits(model.config, dequantised, tokens));
    const original = await loadModel(checkpoint);
    deltaCheckpoint = worst(served, await logits(original.config, original.weights, tokens));
  }
  const row: Omit<Row, 'name'> = { fileMb: 0, loadS: raw.buildMs / 1000, rssMb, peakRssMb, tokS1, tokS32, deltaDequant, deltaCheckpoint };
  process.stdout.write(JSON.stringify(row) + '\n');
}

function fileMb(p: string): number {
  if (statSync(p).isFile()) return statSync(p).size / 2 ** 20;
  return statSync(path.join(p, 'model.safetensors')).size / 2 ** 20;
}

async function main(): Promise<void> {
  if (args.variant !== undefined) return measure(args.variant, args.reference ?? args.variant);
  const folder = await ensureBenchModel();
  const variants: [string, string][] = [['safetensors fp32', folder]];
  for (const type of GGUF_TYPES) variants.push([`GGUF ${type}`, await ensureBenchGguf(type)]);
  const rows: Row[] = [];
  for (const [name, p] of variants) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--variant', p, '--reference', folder, '--threads', String(THREADS)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const row = { ...(JSON.parse(out.trim().split('\n').at(-1)!) as Omit<Row, 'name'>), name, fileMb: fileMb(p) };
    rows.push(row);
    process.stderr.write(`${name}: done\n`);
  }
  const f = (v: number | null, digits: number): string => (v === null ? '—' : v.toFixed(digits));
  console.log(`bench preset, ${THREADS} intra-op threads, decode at ${PAST} positions of past`);
  console.log('| variant | file MB | load s | RSS after load MB | peak RSS MB | decode tok/s B=1 | decode tok/s B=32 | max Δlogit vs dequantised fp32 | max Δlogit vs fp32 checkpoint |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${f(r.fileMb, 0)} | ${f(r.loadS, 2)} | ${f(r.rssMb, 0)} | ${f(r.peakRssMb, 0)} | ${f(r.tokS1, 1)} | ${f(r.tokS32, 0)} | ${f(r.deltaDequant, 4)} | ${f(r.deltaCheckpoint, 3)} |`);
  }
}

await main();
