// A request's samples depend only on its seed and its own step index.

import t from 'tap';
import { createSamplerOutput, Sampler, type SamplerRow } from '../../src/sampling/sampler.js';
import { SequenceSamplingState } from '../../src/sampling/sequence-state.js';
import { mulberry32, params, randomLogits, row } from './helpers.js';

const V = 500;
const STEPS = 25;
const rand = mulberry32(4);
/** The logits the tracked sequence sees at each step (same in every scenario). */
const stepLogits = Array.from({ length: STEPS }, () => randomLogits(rand, V, 1));
const tracked = params({ temperature: 1, topP: 0.95, seed: 42 });

/** Run STEPS steps; at each step the tracked row sits at position `at(step)` among `others(step)` filler rows. */
function runScenario(at: (step: number) => number, others: (step: number) => number): number[] {
  const sampler = new Sampler(V);
  const out = createSamplerOutput(16);
  const mine: SamplerRow = row(tracked);
  const filler = mulberry32(1000 + at(1) * 7 + others(1));
  const tokens: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const n = others(s) + 1;
    const pos = Math.min(at(s), n - 1);
    const rows: SamplerRow[] = [];
    const batch = new Float32Array(n * V);
    for (let r = 0; r < n; r++) {
      if (r === pos) {
        rows.push(mine);
        batch.set(stepLogits[s], r * V);
      } else {
        const seeded = filler() < 0.5;
        rows.push(row(params({ temperature: 0.5 + filler(), topK: filler() < 0.5 ? 10 : 0, seed: seeded ? 42 : null })));
        batch.set(randomLogits(filler, V, 2), r * V);
      }
    }
    sampler.sampleBatch(batch, rows, out);
    tokens.push(out.tokenIds[pos]);
  }
  return tokens;
}

t.test('same seed, same samples, alone or anywhere in changing batches', (t) => {
  const alone = runScenario(() => 0, () => 0);
  t.same(runScenario(() => 3, () => 7), alone, 'position 3 of 8');
  t.same(runScenario((s) => s % 5, (s) => 1 + ((s * 3) % 9)), alone, 'moving position, changing batch size');
  t.same(runScenario((s) => 15, () => 15), alone, 'last of 16');
  t.ok(new Set(alone).size > 5, 'the sequence is genuinely random (many distinct tokens)');
  t.end();
});

t.test('the uniform advances with the step: identical logits every step still give varied tokens', (t) => {
  const sampler = new Sampler(V);
  const out = createSamplerOutput(1);
  const r = row(params({ seed: 7 }));
  const tokens = new Set<number>();
  for (let s = 0; s < STEPS; s++) {
    t.equal(r.state.step, s);
    sampler.sampleBatch(new Float32Array(V), [r], out); // uniform distribution over V
    tokens.add(out.tokenIds[0]);
  }
  t.ok(tokens.size > STEPS / 2, `${tokens.size} distinct tokens in ${STEPS} steps`);
  t.end();
});

t.test('a different seed gives a different sequence; unseeded states differ from each other', (t) => {
  const sampler = new Sampler(V);
  const out = createSamplerOutput(3);
  const rows = [row(params({ seed: 42 })), row(params({ seed: 43 })), row(params(), null)];
  const seqs: number[][] = [[], [], []];
  for (let s = 0; s < STEPS; s++) {
    const batch = new Float32Array(3 * V);
    for (let r = 0; r < 3; r++) batch.set(stepLogits[s], r * V);
    sampler.sampleBatch(batch, rows, out);
    for (let r = 0; r < 3; r++) seqs[r].push(out.tokenIds[r]);
  }
  t.notSame(seqs[0], seqs[1]);
  const a = new SequenceSamplingState({ seed: null });
  const b = new SequenceSamplingState({ seed: null });
  t.not(a.uniform(), b.uniform(), 'random seeds differ');
  t.end();
});

t.test('a state rebuilt from generated tokens (preemption) continues the same stream', (t) => {
  const sampler = new Sampler(V);
  const out = createSamplerOutput(1);
  const full = row(tracked);
  const tokens: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    sampler.sampleBatch(Float32Array.from(stepLogits[s]), [full], out);
    tokens.push(out.tokenIds[0]);
  }
  const resumed: SamplerRow = {
    state: SequenceSamplingState.forParams(tracked, [1, 2, 3], tokens.slice(0, 10)),
    params: tracked,
  };
  const rest: number[] = [];
  for (let s = 10; s < STEPS; s++) {
    sampler.sampleBatch(Float32Array.from(stepLogits[s]), [resumed], out);
    rest.push(out.tokenIds[0]);
  }
  t.same(rest, tokens.slice(10));
  t.end();
});

t.test('64-bit seeds: negative and large seeds are distinct keys', (t) => {
  const keys = [0, 1, -1, 2 ** 32, 2 ** 40 + 5, -(2 ** 40)].map((seed) => {
    const s = new SequenceSamplingState({ seed });
    return `${s.seedHi}:${s.seedLo}`;
  });
  t.equal(new Set(keys).size, keys.length);
  const neg = new SequenceSamplingState({ seed: -1 });
  t.same([neg.seedHi, neg.seedLo], [0xffffffff, 0xffffffff], 'two’s complement of −1');
  t.end();
});
