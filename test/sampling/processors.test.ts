// logit_bias, penalties and masks: exact formulas against a plain reference,
// and their effect on what gets sampled.

import t from 'tap';
import { applyAllowedMask, applyBiasAndPenalties } from '../../src/sampling/logit-processors.js';
import { createSamplerOutput, Sampler } from '../../src/sampling/sampler.js';
import { SequenceSamplingState } from '../../src/sampling/sequence-state.js';
import { logitBias, logSoftmax, mulberry32, params, randomLogits, referenceDistribution, row } from './helpers.js';

/** The documented formulas, one token at a time, in float64. */
function referencePenalised(
  logits: Float32Array,
  prompt: number[],
  generated: number[],
  p: { rep: number; freq: number; pres: number; bias: Record<number, number> },
): Float64Array {
  const out = Float64Array.from(logits);
  for (let i = 0; i < out.length; i++) {
    let l = out[i] + (p.bias[i] ?? 0);
    if (prompt.includes(i) || generated.includes(i)) l = l > 0 ? l / p.rep : l * p.rep;
    const count = generated.filter((g) => g === i).length;
    l -= p.freq * count;
    if (count > 0) l -= p.pres;
    out[i] = l;
  }
  return out;
}

t.test('bias and penalties change logits by exactly the documented formulas', (t) => {
  const rand = mulberry32(21);
  const V = 60;
  const prompt = [1, 2, 3, 3, 10, 40];
  const generated = [3, 5, 5, 5, 7, 40, 41, 41];
  const cases: Array<{ rep: number; freq: number; pres: number; bias: Record<number, number> }> = [
    { rep: 1.3, freq: 0.5, pres: 0.7, bias: { 2: 4, 5: -3.5, 59: 10 } },
    { rep: 0.8, freq: -0.4, pres: 1.1, bias: {} },
    { rep: 1, freq: 2, pres: -2, bias: { 0: -100 } },
  ];
  for (const c of cases) {
    const logits = randomLogits(rand, V, 3);
    const p = params({
      repetitionPenalty: c.rep,
      frequencyPenalty: c.freq,
      presencePenalty: c.pres,
      logitBias: logitBias(c.bias),
    });
    const state = SequenceSamplingState.forParams(p, prompt, generated);
    const expected = referencePenalised(logits, prompt, generated, c);
    const got = Float32Array.from(logits);
    applyBiasAndPenalties(got, 0, p, state);
    let worst = 0;
    for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
    // float32 storage between steps costs ≤ a few ulps.
    t.ok(worst < 1e-6, `rep=${c.rep} freq=${c.freq} pres=${c.pres}: worst rel diff ${worst.toExponential(2)}`);

    // End to end: the reported logprobs are the log-softmax of the penalised logits.
    const sampler = new Sampler(V);
    const out = createSamplerOutput(1);
    const r = { state: SequenceSamplingState.forParams({ ...p, logprobs: 5 }, prompt, generated), params: { ...p, logprobs: 5 } };
    sampler.sampleBatch(Float32Array.from(logits), [r], out);
    const ref = logSoftmax(expected);
    const tok = out.tokenIds[0];
    t.ok(Math.abs(out.logprobs[0] - ref[tok]) < 1e-5, 'sampled logprob uses penalised logits');
    for (let j = 0; j < out.topCounts[0]; j++) {
      if (Math.abs(out.topLogprobs[j] - ref[out.topIds[j]]) > 1e-5) t.fail(`top ${j} differs`);
    }
  }
  t.end();
});

t.test('counts and the seen set follow generated tokens', (t) => {
  const s = new SequenceSamplingState({ seed: 1, promptTokenIds: [4, 4, 9], trackSeen: true });
  for (const tok of [9, 2, 2, 2]) s.accept(tok);
  t.equal(s.step, 4);
  t.equal(s.countOf(2), 3);
  t.equal(s.countOf(9), 1);
  t.equal(s.countOf(4), 0, 'prompt tokens are not counted for frequency/presence');
  t.same(Array.from(s.seenIds.subarray(0, s.seenUnique)).sort((a, b) => a - b), [2, 4, 9]);
  t.end();
});

t.test('logit_bias −100 never emits the token; +100 always emits it', (t) => {
  const V = 50;
  const rand = mulberry32(8);
  const logits = randomLogits(rand, V, 2);
  logits[7] = 12; // the favourite, by far
  const sampler = new Sampler(V);
  const N = 3000;
  const out = createSamplerOutput(N);
  const run = (bias: Record<number, number>, temperature: number): Int32Array => {
    const batch = new Float32Array(N * V);
    for (let r = 0; r < N; r++) batch.set(logits, r * V);
    const p = params({ temperature, logitBias: logitBias(bias) });
    sampler.sampleBatch(batch, Array.from({ length: N }, (_, s) => row(p, s)), out);
    return out.tokenIds.slice(0, N);
  };
  const unbiased = run({}, 1);
  t.ok(unbiased.filter((x) => x === 7).length > N * 0.9, 'token 7 dominates without bias');
  const banned = run({ 7: -100 }, 1.5);
  t.equal(banned.filter((x) => x === 7).length, 0, 'bias −100: never emitted');
  t.equal(run({ 7: -100 }, 0)[0] !== 7, true, 'bias −100: not the greedy choice');
  const forced = run({ 33: 100 }, 2);
  t.equal(forced.filter((x) => x === 33).length, N, 'bias +100: always emitted at temperature 2');
  t.end();
});

t.test('masks: masked tokens are never sampled; samples follow the renormalised allowed set', (t) => {
  const V = 100;
  const rand = mulberry32(31);
  const sampler = new Sampler(V);
  const out = createSamplerOutput(1);
  for (let trial = 0; trial < 20; trial++) {
    const logits = randomLogits(rand, V, 2);
    const allowed: number[] = [];
    const mask = new Int32Array(Math.ceil(V / 32));
    for (let i = 0; i < V; i++) {
      if (rand() < 0.3) {
        allowed.push(i);
        mask[i >> 5] |= 1 << (i & 31);
      }
    }
    if (allowed.length === 0) continue;
    // Reference: softmax over the allowed set only.
    const restricted = Float32Array.from(logits, (v, i) => (allowed.includes(i) ? v : -Infinity));
    const probs = referenceDistribution(restricted, params({ temperature: 0.9 }));
    const G = 5000;
    const hits = new Float64Array(V);
    let greedyArg = allowed[0];
    for (const i of allowed) if (logits[i] > logits[greedyArg]) greedyArg = i;
    for (let g = 0; g < G; g++) {
      const x = Float32Array.from(logits);
      const r = row(params({ temperature: 0.9 }), 1, { allowedMask: mask });
      hits[sampler.sampleRow(x, 0, r, (g + 0.5) / G, out, 0)]++;
    }
    let outside = 0;
    let worst = 0;
    for (let i = 0; i < V; i++) {
      if (!allowed.includes(i)) outside += hits[i];
      worst = Math.max(worst, Math.abs(hits[i] / G - probs[i]));
    }
    if (outside > 0 || worst > 1.5 / G) t.fail(`trial ${trial}: outside ${outside}, worst ${worst}`);
    const gx = Float32Array.from(logits);
    const greedy = sampler.sampleRow(gx, 0, row(params({ temperature: 0 }), 1, { allowedMask: mask }), 0.5, out, 0);
    if (greedy !== greedyArg) t.fail(`trial ${trial}: greedy chose ${greedy}, expected ${greedyArg}`);
  }
  t.pass('20 random masks');

  // A short mask (fewer words than the vocabulary needs) disallows the rest.
  const x = new Float32Array(V).fill(0);
  x[90] = 50;
  const shortMask = new Int32Array([0, 0, 1 << 4]); // token 68 only; words past the end (tokens 96..99) count as disallowed
  t.equal(sampler.sampleRow(x, 0, row(params({ temperature: 0 }), 1, { allowedMask: shortMask }), 0.5, out, 0), 68);
  // Nothing allowed → -1.
  const none = new Int32Array(4);
  t.equal(sampler.sampleRow(new Float32Array(V), 0, row(params(), 1, { allowedMask: none }), 0.5, out, 0), -1);
  t.end();
});

t.test('applyAllowedMask sets exactly the disallowed entries to -∞', (t) => {
  const V = 70;
  const mask = new Int32Array([-1, 0x0000ffff | 0, 0b101]);
  const x = new Float32Array(V).fill(1);
  applyAllowedMask(x, 0, V, mask);
  for (let i = 0; i < V; i++) {
    const allowed = i < 32 || (i < 48) || i === 64 || i === 66;
    if ((x[i] === 1) !== allowed) t.fail(`token ${i}`);
  }
  t.pass('checked 70 tokens');
  t.end();
});
