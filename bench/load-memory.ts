// What loading a model costs in memory and time, and what it then runs at:
// each case loads in a fresh process (so peak RSS, VmHWM, is that load's own)
// the way the device worker does, runs decode at B = 1 and B = 32, and reports
// RSS after load, peak RSS during load, load time and decode tok/s. The fixed
// overhead (Node + onnxruntime + a session) is the RSS of the `tiny` preset
// (0.12M params) loaded the same way.
//
//   npm run bench:load [-- --model DIR|FILE.gguf ...] [--inline] [--threads 2]
//
// Default cases: the bench preset (fp32 safetensors) loaded the previous way
// (weights inside the protobuf) and the current way (staged external data),
// the same weights as GGUF F32, Q4_0 and Q4_K, and the bench-1b preset.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBenchGguf, ensureBenchModel, ensureTestModel } from './bench-model.js';
import { decoderParamCount } from '../src/model/testmodels/presets.js';
import { RawForward, median } from './raw-forward.js';

interface LoadReport {
  loadMs: number;
  rssMb: number;
  peakMb: number;
  weightMb: number;
  kvMb: number;
  decodeB1TokS: number;
  decodeB32TokS: number;
}

const BATCHES = [1, 32] as const;
const PAST = 64;

function statusMb(key: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return match === null ? NaN : Number(match[1]) / 1024;
}

/** Child: one load, one measurement, a JSON line on stdout. */
async function child(modelPath: string, inline: boolean, threads: number): Promise<void> {
  const started = performance.now();
  const raw = await RawForward.load(modelPath, { quantize: null, intraOpThreads: threads, spinning: true, inlineWeights: inline });
  const loadMs = performance.now() - started;
  global.gc?.();
  const rssMb = statusMb('VmRSS');
  const peakMb = statusMb('VmHWM');
  const c = raw.config;
  // fp32 as served: every parameter once.
  const weights = decoderParamCount(c) * 4;
  const tokS: number[] = [];
  for (const batch of BATCHES) {
    const times = await raw.decodeStepTimes(batch, PAST, 8, 2);
    tokS.push((batch * 1000) / median(times));
  }
  const kvBytes = BATCHES.reduce((sum, b) => sum + 2 * c.numLayers * b * c.numKvHeads * (PAST + 64) * c.headDim * 4, 0);
  const report: LoadReport = {
    loadMs,
    rssMb,
    peakMb,
    weightMb: weights / 2 ** 20,
    kvMb: kvBytes / 2 ** 20,
    decodeB1TokS: tokS[0],
    decodeB32TokS: tokS[1],
  };
  process.stdout.write(JSON.stringify(report) + '\n');
  await raw.release();
}

function runChild(modelPath: string, inline: boolean, threads: number): LoadReport {
  const args = ['--expose-gc', fileURLToPath(import.meta.url), '--child', modelPath, '--threads', String(threads)];
  if (inline) args.push('--inline');
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as LoadReport;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      model: { type: 'string', multiple: true },
      inline: { type: 'boolean', default: false },
      threads: { type: 'string', default: '2' },
    },
  });
  const threads = Number(values.threads);
  if (values.child !== undefined) return child(values.child, values.inline, threads);

  const overhead = runChild(await ensureTestModel('tiny'), false, threads);
  console.log(`fixed overhead (tiny preset, staged): RSS ${overhead.rssMb.toFixed(0)} MB, peak ${overhead.peakMb.toFixed(0)} MB`);
  const cases: { label: string; path: string; inline: boolean }[] = [];
  if (values.model === undefined) {
    const bench = await ensureBenchModel();
    cases.push({ label: 'bench fp32 safetensors, weights in protobuf (before)', path: bench, inline: true });
    cases.push({ label: 'bench fp32 safetensors, staged external data', path: bench, inline: false });
    for (const type of ['F32', 'Q4_0', 'Q4_K'] as const) {
      cases.push({ label: `bench GGUF ${type}, staged external data`, path: await ensureBenchGguf(type), inline: false });
    }
    cases.push({ label: 'bench-1b (BF16 safetensors → fp32), staged external data', path: await ensureTestModel('bench-1b'), inline: false });
  } else {
    for (const m of values.model) cases.push({ label: m, path: m, inline: values.inline });
  }
  console.log('| model | load s | weights MB (fp32 as served) | RSS after load MB | peak RSS MB | RSS / (weights + KV + overhead) | peak / (weights + KV + overhead) | decode tok/s B=1 | B=32 |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const c of cases) {
    const r = runChild(c.path, c.inline, threads);
    const budget = r.weightMb + r.kvMb + overhead.rssMb;
    console.log(
      `| ${c.label} | ${(r.loadMs / 1000).toFixed(1)} | ${r.weightMb.toFixed(0)} | ${r.rssMb.toFixed(0)} | ${r.peakMb.toFixed(0)} | ` +
        `${(r.rssMb / budget).toFixed(2)} | ${(r.peakMb / budget).toFixed(2)} | ${r.decodeB1TokS.toFixed(0)} | ${r.decodeB32TokS.toFixed(0)} |`,
    );
  }
}

await main();
