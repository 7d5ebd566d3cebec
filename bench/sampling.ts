// µs per row for Sampler.sampleBatch at batch 32, for the common configurations.
// Run: npx tsc -p . && node dist/bench/sampling.js [--flat]
//
// Wall time is reported with the CPU time of this process (process.cpuUsage),
// which stays meaningful when the machine is shared and the process gets
// preempted; compare configurations by the CPU column on a busy machine.
//
// Logits are LLM-like by default: N(0, 2.5²) with a few tokens 8–18 above the
// mean (the sampled head). --flat uses N(0, 1): every token within a few nats of
// the max, the worst case for the exp pass (no token can be skipped).

import { compileSamplerParams, DEFAULT_SAMPLING_PARAMS, type SamplerParams } from '../src/sampling/params.js';
import { createSamplerOutput, Sampler, type SamplerRow } from '../src/sampling/sampler.js';
import { SequenceSamplingState } from '../src/sampling/sequence-state.js';
import { mulberry32 as rng } from '../test/support/random.js';

const BATCH = 32;
const flat = process.argv.includes('--flat');


function cpuMicros(u: NodeJS.CpuUsage): number {
  return u.user + u.system;
}

function makeLogits(vocab: number, rows: number): Float32Array {
  const rand = rng(vocab);
  const x = new Float32Array(vocab * rows);
  for (let i = 0; i < x.length; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    x[i] = g * (flat ? 1 : 2.5);
  }
  if (!flat) {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < 8; j++) x[r * vocab + Math.floor(rand() * vocab)] = 8 + rand() * 10;
    }
  }
  return x;
}

const base = compileSamplerParams(DEFAULT_SAMPLING_PARAMS);
const configs: Array<[string, SamplerParams]> = [
  ['greedy', { ...base, temperature: 0 }],
  ['T=1 (no truncation)', { ...base, temperature: 1 }],
  ['T=0.8 top_p=0.95', { ...base, temperature: 0.8, topP: 0.95 }],
  ['T=1 top_k=50', { ...base, temperature: 1, topK: 50 }],
  ['T=0.7 top_k=40 top_p=0.9 min_p=0.05', { ...base, temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05 }],
  [
    'T=0.8 top_p=0.95 + penalties + bias',
    {
      ...base,
      temperature: 0.8,
      topP: 0.95,
      repetitionPenalty: 1.1,
      frequencyPenalty: 0.5,
      presencePenalty: 0.3,
      logitBias: { ids: Int32Array.of(11, 220, 1000), values: Float64Array.of(5, -3, 2) },
    },
  ],
  ['greedy + logprobs=5', { ...base, temperature: 0, logprobs: 5 }],
  ['T=0.8 top_p=0.95 + logprobs=5', { ...base, temperature: 0.8, topP: 0.95, logprobs: 5 }],
];

function bench(vocab: number): void {
  const sampler = new Sampler(vocab);
  const original = makeLogits(vocab, BATCH);
  const work = new Float32Array(original.length);
  const out = createSamplerOutput(BATCH, 20);
  const rand = rng(7);
  const prompt = Array.from({ length: 1000 }, () => Math.floor(rand() * vocab));
  const generated = Array.from({ length: 200 }, () => Math.floor(rand() * vocab));
  const iterations = vocab > 100000 ? 12 : 40;

  // Memory-pass reference: one read of every logit.
  let sink = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let it = 0; it < iterations; it++) {
    let s = 0;
    for (let i = 0; i < original.length; i++) s += original[i];
    sink += s;
  }
  const readUs = Number(process.hrtime.bigint() - t0) / 1e3 / (iterations * BATCH);
  const readCpu = cpuMicros(process.cpuUsage(c0)) / (iterations * BATCH);

  console.log(`\nV=${vocab}, batch ${BATCH}, ${flat ? 'flat N(0,1)' : 'LLM-like'} logits`);
  console.log(`${'config'.padEnd(40)} ${'wall µs/row'.padStart(12)} ${'min wall'.padStart(9)} ${'cpu µs/row'.padStart(11)}`);
  console.log(`${'(reference: one summing read pass)'.padEnd(40)} ${readUs.toFixed(1).padStart(12)} ${''.padStart(9)} ${readCpu.toFixed(1).padStart(11)}`);
  for (const [name, p] of configs) {
    const rows: SamplerRow[] = Array.from({ length: BATCH }, (_, r) => ({
      state: SequenceSamplingState.forParams({ ...p, seed: r }, prompt, generated),
      params: p,
    }));
    let total = 0;
    let cpu = 0;
    let best = Infinity;
    for (let it = -3; it < iterations; it++) {
      work.set(original);
      const cpuStart = process.cpuUsage();
      const start = process.hrtime.bigint();
      sampler.sampleBatch(work, rows, out);
      const us = Number(process.hrtime.bigint() - start) / 1e3;
      const cpuUs = cpuMicros(process.cpuUsage(cpuStart));
      sink += out.tokenIds[0];
      if (it < 0) continue; // warm-up
      total += us;
      cpu += cpuUs;
      best = Math.min(best, us);
    }
    const perRow = total / (iterations * BATCH);
    const cpuPerRow = cpu / (iterations * BATCH);
    console.log(
      `${name.padEnd(40)} ${perRow.toFixed(1).padStart(12)} ${(best / BATCH).toFixed(1).padStart(9)} ${cpuPerRow.toFixed(1).padStart(11)}`,
    );
  }
  if (sink === 0.123) console.log('');
}

bench(32000);
bench(151936);
