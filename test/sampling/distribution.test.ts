// The sampler draws from the documented distribution: statistically through
// sampleBatch (one draw per seed), and exactly through sampleRow with a grid
// of uniforms (each token owns one interval of u, so grid frequencies equal its
// probability within 1/G).

import t, { type Test } from 'tap';
import { createSamplerOutput, Sampler } from '../../src/sampling/sampler.js';
import type { SamplerParams } from '../../src/sampling/params.js';
import {
  chiSquare,
  chiSquareCritical,
  mulberry32,
  params,
  randomLogits,
  referenceDistribution,
  row,
  Z_1E3,
} from './helpers.js';

const DRAWS = 4000;

/** First-token counts over DRAWS sequences seeded 0..DRAWS-1, all in one batch. */
function drawCounts(logits: Float32Array, p: SamplerParams): Int32Array {
  const V = logits.length;
  const sampler = new Sampler(V);
  const batch = new Float32Array(DRAWS * V);
  for (let r = 0; r < DRAWS; r++) batch.set(logits, r * V);
  const rows = Array.from({ length: DRAWS }, (_, seed) => row(p, seed));
  const out = createSamplerOutput(DRAWS);
  sampler.sampleBatch(batch, rows, out);
  const counts = new Int32Array(V);
  for (let r = 0; r < DRAWS; r++) counts[out.tokenIds[r]]++;
  return counts;
}

function checkAgainstReference(t: Test, logits: Float32Array, p: SamplerParams, label: string): Float64Array {
  const probs = referenceDistribution(logits, p);
  const counts = drawCounts(logits, p);
  const { stat, df, impossible } = chiSquare(counts, probs, DRAWS);
  t.equal(impossible, 0, `${label}: no draws outside the support`);
  const crit = chiSquareCritical(df, Z_1E3);
  t.ok(stat < crit, `${label}: χ²=${stat.toFixed(1)} < ${crit.toFixed(1)} (df ${df})`);
  return probs;
}

/** logits = log(probs): the softmax at temperature 1 is probs itself. */
function logitsOf(probs: number[], pad = 0, padProb = 0): Float32Array {
  const x = new Float32Array(probs.length + pad);
  probs.forEach((q, i) => (x[i] = Math.log(q)));
  for (let i = probs.length; i < x.length; i++) x[i] = Math.log(padProb);
  return x;
}

t.test('statistical: first-token distribution over many seeds', (t) => {
  const rand = mulberry32(11);
  const logits = randomLogits(rand, 40, 1.5);

  checkAgainstReference(t, logits, params({ temperature: 1 }), 'T=1 vs softmax');
  checkAgainstReference(t, logits, params({ temperature: 0.5 }), 'T=0.5 vs softmax(l/0.5)');

  // Power check: the T=1 draws must NOT fit softmax(l/0.5).
  const counts = drawCounts(logits, params({ temperature: 1 }));
  const wrong = chiSquare(counts, referenceDistribution(logits, params({ temperature: 0.5 })), DRAWS);
  t.ok(wrong.stat > chiSquareCritical(wrong.df, Z_1E3) || wrong.impossible > 0, 'the test distinguishes temperatures');

  const k5 = checkAgainstReference(t, logits, params({ topK: 5 }), 'top_k=5');
  t.equal(k5.filter((q) => q > 0).length, 5, 'top_k=5 support has 5 tokens');

  // top_p = 0.9 on p = [.4 .25 .15 .12 .04 .025 .015]: cumulative .4 .65 .8 .92 → exactly 4 kept;
  // token 4 (p = .04, ~160 expected draws if wrongly kept) must never appear.
  const pLogits = logitsOf([0.4, 0.25, 0.15, 0.12, 0.04, 0.025, 0.015]);
  const pCounts = drawCounts(pLogits, params({ topP: 0.9 }));
  t.same(Array.from(pCounts.slice(4)), [0, 0, 0], 'top_p=0.9 never draws past the minimal prefix');
  const pStat = chiSquare(pCounts, [0.4 / 0.92, 0.25 / 0.92, 0.15 / 0.92, 0.12 / 0.92, 0, 0, 0], DRAWS);
  t.ok(pStat.stat < chiSquareCritical(pStat.df, Z_1E3), `top_p=0.9 renormalised prefix χ²=${pStat.stat.toFixed(1)}`);
  t.ok(pCounts[3] > 0, 'the prefix includes the token that crosses 0.9');

  // Same with a long tail over a larger vocabulary (histogram path with many buckets).
  const tail = logitsOf([0.4, 0.25, 0.15, 0.12], 3000, 0.08 / 3000);
  const tailCounts = drawCounts(tail, params({ topP: 0.9 }));
  t.equal(tailCounts.slice(4).reduce((s, c) => s + c, 0), 0, 'top_p=0.9 drops the 8% tail');

  // min_p = 0.1 on p = [.5 .2 .1 .06 .049 ...]: keep p ≥ 0.05 → tokens 0..3.
  const mLogits = logitsOf([0.5, 0.2, 0.1, 0.06, 0.049, 0.041, 0.05 - 1e-3]);
  const mCounts = drawCounts(mLogits, params({ minP: 0.1 }));
  t.same(Array.from(mCounts.slice(4, 6)), [0, 0], 'min_p=0.1 never draws p < 0.1·p_max');
  t.ok(mCounts[3] > 0 && mCounts[6] === 0, 'boundary: 0.06 kept, 0.049 dropped');
  checkAgainstReference(t, mLogits, params({ minP: 0.1 }), 'min_p=0.1 renormalised');
  t.end();
});

t.test('exact: inverse CDF over a grid of uniforms equals the reference distribution', (t) => {
  const rand = mulberry32(5);
  const cases: Array<[string, Partial<SamplerParams>]> = [
    ['T=1', { temperature: 1 }],
    ['T=0.7', { temperature: 0.7 }],
    ['T=1.8', { temperature: 1.8 }],
    ['top_k=7', { topK: 7 }],
    ['top_k=50 T=0.8', { topK: 50, temperature: 0.8 }],
    ['top_p=0.9', { topP: 0.9 }],
    ['top_p=0.5 T=1.5', { topP: 0.5, temperature: 1.5 }],
    ['top_p=0.95 T=0.3', { topP: 0.95, temperature: 0.3 }],
    ['min_p=0.05', { minP: 0.05 }],
    ['top_k=20 top_p=0.8', { topK: 20, topP: 0.8 }],
    ['top_p=0.9 min_p=0.1', { topP: 0.9, minP: 0.1 }],
    ['top_k=50 min_p=0.1', { topK: 50, minP: 0.1 }],
    ['top_k=30 top_p=0.9 min_p=0.02 T=1.2', { topK: 30, topP: 0.9, minP: 0.02, temperature: 1.2 }],
  ];
  for (const V of [64, 3000]) {
    const sampler = new Sampler(V);
    const out = createSamplerOutput(1);
    const G = V > 100 ? 6000 : 20000;
    for (const [label, over] of cases) {
      const logits = randomLogits(rand, V, V > 100 ? 3 : 1.5);
      const p = params(over);
      const probs = referenceDistribution(logits, p);
      const r = row(p, 1);
      const hits = new Float64Array(V);
      for (let g = 0; g < G; g++) hits[sampler.sampleRow(logits, 0, r, (g + 0.5) / G, out, 0)]++;
      let worst = 0;
      let outside = 0;
      for (let i = 0; i < V; i++) {
        worst = Math.max(worst, Math.abs(hits[i] / G - probs[i]));
        if (probs[i] === 0 && hits[i] > 0) outside++;
      }
      t.equal(outside, 0, `V=${V} ${label}: nothing outside the support`);
      t.ok(worst <= 1.5 / G, `V=${V} ${label}: max |grid − reference| = ${worst.toExponential(2)}`);
    }
  }
  t.end();
});

t.test('top_p on a flat distribution keeps the lowest ids first (ties → lower id)', (t) => {
  const V = 1000;
  const sampler = new Sampler(V);
  const out = createSamplerOutput(1);
  const logits = new Float32Array(V).fill(0.25);
  const r = row(params({ topP: 0.5 }), 1);
  const seen = new Set<number>();
  for (let g = 0; g < 5000; g++) seen.add(sampler.sampleRow(logits, 0, r, (g + 0.5) / 5000, out, 0));
  t.equal(seen.size, 500, '500 tokens reachable');
  t.equal(Math.max(...seen), 499, 'and they are ids 0..499');
  t.end();
});

t.test('greedy equivalents: top_k=1 and top_p=1e-6 choose the argmax', (t) => {
  const rand = mulberry32(99);
  let mismatches = 0;
  for (let trial = 0; trial < 300; trial++) {
    const V = 10 + Math.floor(rand() * 2000);
    const sampler = new Sampler(V);
    const base = randomLogits(rand, V, 0.5 + rand() * 4);
    const out = createSamplerOutput(3);
    const batch = new Float32Array(3 * V);
    for (let r = 0; r < 3; r++) batch.set(base, r * V);
    const temperature = 0.2 + rand() * 1.8;
    sampler.sampleBatch(
      batch,
      [
        row(params({ temperature: 0 }), trial),
        row(params({ topK: 1, temperature }), trial),
        row(params({ topP: 1e-6, temperature }), trial),
      ],
      out,
    );
    // Independent argmax, ties → lowest id.
    let arg = 0;
    for (let i = 1; i < V; i++) if (base[i] > base[arg]) arg = i;
    if (out.tokenIds[0] !== arg || out.tokenIds[1] !== arg || out.tokenIds[2] !== arg) mismatches++;
  }
  t.equal(mismatches, 0, '300 random logit vectors');
  t.end();
});
