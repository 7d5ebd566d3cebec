// Reported logprobs = log-softmax of the processed (bias/penalty/mask) logits,
// checked against an independent float64 computation.

import t from 'tap';
import { createSamplerOutput, Sampler } from '../../src/sampling/sampler.js';
import { promptLogprobs } from '../../src/sampling/prompt-logprobs.js';
import { logSoftmax, mulberry32, params, randomLogits, row } from './helpers.js';

function topNReference(lp: Float64Array, n: number): number[] {
  return Array.from(lp.keys())
    .sort((a, b) => lp[b] - lp[a] || a - b)
    .slice(0, n);
}

t.test('sampled-token logprob and top-N equal float64 log-softmax within 1e-5', (t) => {
  const rand = mulberry32(17);
  let checked = 0;
  for (const V of [50, 4000, 32000]) {
    const sampler = new Sampler(V);
    const out = createSamplerOutput(4, 20);
    for (let trial = 0; trial < 4; trial++) {
      const scale = [0.5, 2, 5, 12][trial];
      const logits = randomLogits(rand, V, scale);
      const lp = logSoftmax(logits);
      const configs = [
        params({ temperature: 0, logprobs: 5 }),
        params({ temperature: 0.7, topP: 0.9, logprobs: 20 }),
        params({ temperature: 1.3, topK: 40, logprobs: 0 }),
        params({ temperature: 1, logprobs: 3 }),
      ];
      const batch = new Float32Array(configs.length * V);
      configs.forEach((_, r) => batch.set(logits, r * V));
      sampler.sampleBatch(batch, configs.map((p, i) => row(p, trial * 10 + i)), out);
      configs.forEach((p, r) => {
        const tok = out.tokenIds[r];
        const n = p.logprobs as number;
        if (Math.abs(out.logprobs[r] - lp[tok]) > 1e-5) t.fail(`V=${V} row ${r}: chosen ${out.logprobs[r]} vs ${lp[tok]}`);
        t.equal(out.topCounts[r], n);
        const ids = Array.from(out.topIds.subarray(r * out.maxTop, r * out.maxTop + n));
        const vals = Array.from(out.topLogprobs.subarray(r * out.maxTop, r * out.maxTop + n));
        t.same(ids, topNReference(lp, n), `V=${V} scale=${scale} row ${r}: top-${n} ids`);
        for (let j = 0; j < n; j++) {
          if (Math.abs(vals[j] - lp[ids[j]]) > 1e-5) t.fail(`top ${j}: ${vals[j]} vs ${lp[ids[j]]}`);
          if (j > 0 && vals[j] > vals[j - 1]) t.fail('top list not descending');
        }
        if (p.temperature === 0) t.equal(tok, ids[0], 'greedy choice is top-1');
        checked++;
      });
    }
  }
  t.equal(checked, 48);
  t.end();
});

t.test('logsumexp is stable for huge and tiny logits', (t) => {
  const V = 1000;
  const rand = mulberry32(2);
  const sampler = new Sampler(V);
  const out = createSamplerOutput(1, 5);
  for (const offset of [1e3, -1e3, 1e4, 3e4]) {
    const logits = randomLogits(rand, V, 3).map((v) => v + offset);
    // Reference: float64, max-shifted (naive Math.exp(l) overflows/underflows at these offsets).
    const lp = logSoftmax(logits);
    t.equal(Number.isFinite(Math.log(Array.from(logits).reduce((s, v) => s + Math.exp(v), 0))), false, 'naive sum is not finite here');
    sampler.sampleBatch(Float32Array.from(logits), [row(params({ logprobs: 5 }), 1)], out);
    t.ok(Number.isFinite(out.logprobs[0]));
    t.ok(Math.abs(out.logprobs[0] - lp[out.tokenIds[0]]) < 1e-5, `offset ${offset}`);
  }
  t.end();
});

t.test('masked tokens are not offered as alternatives', (t) => {
  const V = 64;
  const sampler = new Sampler(V);
  const out = createSamplerOutput(1, 10);
  const logits = new Float32Array(V).map((_, i) => i / 10);
  const mask = new Int32Array([0b111, 0]); // only 0, 1, 2 allowed
  sampler.sampleBatch(logits, [row(params({ temperature: 0, logprobs: 10 }), 1, { allowedMask: mask })], out);
  t.equal(out.tokenIds[0], 2);
  t.equal(out.topCounts[0], 3, 'only the three allowed tokens are listed');
  t.same(Array.from(out.topIds.subarray(0, 3)), [2, 1, 0]);
  const lp = logSoftmax([0, 0.1, 0.2]);
  t.ok(Math.abs(out.logprobs[0] - lp[2]) < 1e-6, 'normalised over the allowed set');
  t.end();
});

t.test('prompt logprobs: each next token and top-N from raw logits', (t) => {
  const V = 3000;
  const rand = mulberry32(23);
  const rows = 6;
  const logits = new Float32Array(rows * V);
  for (let j = 0; j < rows; j++) logits.set(randomLogits(rand, V, 4), j * V);
  const copy = Float32Array.from(logits);
  const next = [5, 17, 2999, 0, 1234, 77];
  const res = promptLogprobs(logits, V, next, 4);
  t.same(logits, copy, 'logits untouched');
  for (let j = 0; j < rows; j++) {
    const lp = logSoftmax(logits.subarray(j * V, (j + 1) * V));
    t.ok(Math.abs(res.logprobs[j] - lp[next[j]]) < 1e-5, `row ${j} next-token logprob`);
    t.same(Array.from(res.topIds.subarray(j * 4, j * 4 + 4)), topNReference(lp, 4), `row ${j} top-4`);
    for (let i = 0; i < 4; i++) {
      if (Math.abs(res.topLogprobs[j * 4 + i] - lp[res.topIds[j * 4 + i]]) > 1e-5) t.fail(`row ${j} top ${i}`);
    }
  }
  t.end();
});
