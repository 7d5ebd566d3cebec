// The slot-KV graph of each family beyond Llama/Qwen against the independent
// reference decoder (fp32, max |Δ logits| ≤ 1e-4), on the family presets (the
// published shape of SmolLM3-3B, Granite-3.0-2B, Phi-4-mini and gemma-3-270m,
// with fewer layers, see family-presets.ts): prefill with every position's
// logits, chunked prefill over a garbage-filled capacity, cached decode, and
// batch invariance (alone vs batched, token-exact greedy). Then what only one
// family has: LongRoPE crossing its switch position (Phi), and Gemma 3's
// sliding window on prompts longer than the window, with the global layers
// still seeing the whole prompt.

import type ort from 'onnxruntime-node';
import t from 'tap';
import { buildDecoderGraph } from '../../src/model/graph/decoder-graph.js';
import { createDecoderSession } from '../../src/model/graph/session.js';
import { ReferenceDecoder, argmax, type ReferenceState } from '../../src/model/reference/llama-reference.js';
import { FAMILY_PRESETS } from '../../src/model/testmodels/family-presets.js';
import { randomDecoderWeights } from '../../src/model/testmodels/random-weights.js';
import type { DecoderConfig, WeightStore } from '../../src/model/types.js';
import { MapWeightStore } from '../../src/model/weight-store.js';
import { SequenceCache, maxAbsDiff, promptTokens, runBatch, type BatchRow } from './harness.js';

const TOLERANCE = 1e-4;
/** Rows in the graph's RoPE tables: enough for these tests, far fewer than the presets' 32k–131k. */
const MAX_POSITIONS = 1024;

interface Built {
  config: DecoderConfig;
  weights: WeightStore;
  ref: ReferenceDecoder;
  session: ort.InferenceSession;
}

async function build(config: DecoderConfig, maxPositions = MAX_POSITIONS, weights?: WeightStore): Promise<Built> {
  const w = weights ?? new MapWeightStore(randomDecoderWeights(config, 1234));
  const session = await createDecoderSession(buildDecoderGraph(config, w, { maxPositions }), { intraOpThreads: 2 });
  return { config, weights: w, ref: new ReferenceDecoder(config, w), session };
}

const worstOf = (got: Float32Array[], want: Float32Array[]): number => Math.max(...got.map((row, i) => maxAbsDiff(row, want[i])));

/** Greedy decode of `steps` tokens, every row in one batch per step; returns each row's tokens. */
async function greedyBatched(b: Built, prompts: number[][], steps: number, capacity: number): Promise<number[][]> {
  const caches = prompts.map(() => new SequenceCache(b.config, capacity));
  const out: number[][] = prompts.map(() => []);
  let rows: BatchRow[] = prompts.map((tokens, i) => ({ cache: caches[i], tokens }));
  for (let s = 0; s < steps; s++) {
    const logits = await runBatch(b.session, b.config, rows, { capacity: capacity - 8, garbage: 5 });
    logits.forEach(([row], i) => out[i].push(argmax(row)));
    rows = caches.map((cache, i) => ({ cache, tokens: [out[i][s]] }));
  }
  return out;
}

for (const [name, config] of Object.entries(FAMILY_PRESETS)) {
  t.test(name, async (t) => {
    const b = await build(config);
    const V = config.vocabSize;
    const prompt = promptTokens(name.length * 17 + 3, 24, V, 300);
    const refState = b.ref.newState();
    const refPrompt = b.ref.forward(refState, prompt);

    t.test('prefill, logits for every position', async (t) => {
      const cache = new SequenceCache(config, 32);
      const [all] = await runBatch(b.session, config, [{ cache, tokens: prompt, logitsAt: prompt.map((_, i) => i) }]);
      const worst = worstOf(all, refPrompt);
      t.ok(worst <= TOLERANCE, `max |Δ| over ${prompt.length} positions = ${worst.toExponential(2)}`);
    });

    t.test('chunked prefill (10+8+6) over garbage capacity, then cached decode', async (t) => {
      const cache = new SequenceCache(config, 40);
      let worst = 0;
      let start = 0;
      for (const size of [10, 8, 6]) {
        const chunk = prompt.slice(start, start + size);
        const [got] = await runBatch(b.session, config, [{ cache, tokens: chunk, logitsAt: chunk.map((_, i) => i) }], { capacity: 32, garbage: 7 });
        worst = Math.max(worst, worstOf(got, refPrompt.slice(start, start + size)));
        start += size;
      }
      t.ok(worst <= TOLERANCE, `chunked prefill max |Δ| = ${worst.toExponential(2)}`);
      let graphLogits = refPrompt.at(-1)!;
      let refLogits = refPrompt.at(-1)!;
      worst = 0;
      for (let step = 0; step < 3; step++) {
        const next = argmax(refLogits);
        t.equal(argmax(graphLogits), next, `step ${step} argmax agrees`);
        [[graphLogits]] = await runBatch(b.session, config, [{ cache, tokens: [next] }], { capacity: 36, garbage: -3 });
        [refLogits] = b.ref.forward(refState, [next]);
        worst = Math.max(worst, maxAbsDiff(graphLogits, refLogits));
      }
      t.ok(worst <= TOLERANCE, `cached decode max |Δ| = ${worst.toExponential(2)}`);
    });

    t.test('batch invariance: alone vs batched, token-exact greedy', async (t) => {
      const prompts = [prompt.slice(0, 5), prompt.slice(3, 20), prompt.slice(7, 16)];
      const together = await greedyBatched(b, prompts, 4, 32);
      for (let i = 0; i < prompts.length; i++) {
        const [alone] = await greedyBatched(b, [prompts[i]], 4, 32);
        t.same(together[i], alone, `prompt ${i} (${prompts[i].length} tokens)`);
      }
    });
  });
}

t.test('phi4-mini: LongRoPE switches to the long factors at position 4096', async (t) => {
  const config = FAMILY_PRESETS['phi4-mini'];
  if (config.ropeScaling?.type !== 'longrope') throw new Error('expected longrope');
  const switchAt = config.ropeScaling.originalMaxPositionEmbeddings;
  const b = await build(config, switchAt + 64);
  const first = switchAt - 6;
  // A sequence whose first token sits at position 4090 (the cache and the reference start there).
  const refState: ReferenceState = { ...b.ref.newState(), length: first };
  const tokens = promptTokens(99, 12, config.vocabSize, 300);
  const expected = b.ref.forward(refState, tokens); // positions 4090..4101
  const cache = new SequenceCache(config, 24, first);
  let worst = 0;
  let start = 0;
  for (const size of [4, 5, 1, 1, 1]) {
    // Chunks 4090–4093, 4094–4098 (across the switch), then one token at a time.
    const chunk = tokens.slice(start, start + size);
    const [got] = await runBatch(b.session, config, [{ cache, tokens: chunk, logitsAt: chunk.map((_, i) => i) }], { capacity: 20, garbage: 3 });
    worst = Math.max(worst, worstOf(got, expected.slice(start, start + size)));
    start += size;
  }
  t.ok(worst <= TOLERANCE, `positions ${first}..${first + start - 1}: max |Δ| = ${worst.toExponential(2)}`);

  // The switch matters: with the short factors everywhere, positions before 4096 agree and later ones do not.
  const shortOnly = new ReferenceDecoder({ ...config, ropeScaling: { ...config.ropeScaling, longFactor: config.ropeScaling.shortFactor } }, b.weights);
  const shortLogits = shortOnly.forward({ ...shortOnly.newState(), length: first }, tokens);
  const before = worstOf(shortLogits.slice(0, 6), expected.slice(0, 6));
  const after = Math.min(...shortLogits.slice(6).map((row, i) => maxAbsDiff(row, expected[6 + i])));
  t.ok(before <= 1e-9, `before ${switchAt}: short factors only, identical (${before.toExponential(2)})`);
  t.ok(after > 1e-2, `from ${switchAt} on: long factors change every logits row (min max |Δ| ${after.toExponential(2)})`);
});

t.test('gemma3: the sliding window bounds attention', async (t) => {
  // Narrow Gemma 3 (the preset's layer pattern, window, RoPE bases, norms and scales; small
  // widths and vocabulary) so that the reference can afford prompts longer than the real window.
  const narrow: DecoderConfig = { ...FAMILY_PRESETS.gemma3, hiddenSize: 64, intermediateSize: 128, headDim: 32, rotaryDim: 32, vocabSize: 512, embeddingMultiplier: 8, attentionScale: 1 / Math.sqrt(32) };

  t.test('prompt of 540 > 512 in two chunks, then decode: equals the reference', async (t) => {
    const b = await build(narrow);
    const prompt = promptTokens(5, 540, narrow.vocabSize, 300);
    const refState = b.ref.newState();
    const expected = b.ref.forward(refState, prompt);
    const cache = new SequenceCache(narrow, 560);
    const [first] = await runBatch(b.session, narrow, [{ cache, tokens: prompt.slice(0, 300), logitsAt: at(300) }]);
    const [second] = await runBatch(b.session, narrow, [{ cache, tokens: prompt.slice(300), logitsAt: at(240) }], { capacity: 320, garbage: 2 });
    const worst = Math.max(worstOf(first, expected.slice(0, 300)), worstOf(second, expected.slice(300)));
    t.ok(worst <= TOLERANCE, `540 positions: max |Δ| = ${worst.toExponential(2)}`);
    let decodeWorst = 0;
    let last = expected.at(-1)!;
    for (let step = 0; step < 3; step++) {
      const next = argmax(last);
      const [[got]] = await runBatch(b.session, narrow, [{ cache, tokens: [next] }], { capacity: 552 });
      [last] = b.ref.forward(refState, [next]);
      decodeWorst = Math.max(decodeWorst, maxAbsDiff(got, last));
    }
    t.ok(decodeWorst <= TOLERANCE, `decode at 540..542: max |Δ| = ${decodeWorst.toExponential(2)}`);
  });

  t.test('window 8: only the global layer carries a token further back than the windows reach', async (t) => {
    // Two sliding layers see 2·(8−1) = 14 positions back; with the second layer global, all of them.
    const mixed = await build({ ...narrow, slidingWindow: 8 });
    const slidingOnly = await build({ ...narrow, slidingWindow: 8, layerAttention: ['sliding', 'sliding'] }, MAX_POSITIONS, mixed.weights);
    const prompt = promptTokens(8, 30, narrow.vocabSize, 300);
    const changed = [prompt[0] === 300 ? 301 : 300, ...prompt.slice(1)];
    for (const [label, b, shouldChange] of [['sliding + global', mixed, true], ['sliding only', slidingOnly, false]] as const) {
      const logitsFor = async (tokens: number[]): Promise<Float32Array[]> => {
        const cache = new SequenceCache(b.config, 40);
        const [a] = await runBatch(b.session, b.config, [{ cache, tokens: tokens.slice(0, 13), logitsAt: at(13) }]);
        const [c] = await runBatch(b.session, b.config, [{ cache, tokens: tokens.slice(13), logitsAt: at(17) }], { capacity: 16, garbage: 9 });
        return [...a, ...c];
      };
      const got = await logitsFor(prompt);
      const expected = b.ref.forward(b.ref.newState(), prompt);
      const worst = worstOf(got, expected);
      t.ok(worst <= TOLERANCE, `${label}: chunked prefill over the window, max |Δ| = ${worst.toExponential(2)}`);
      const moved = maxAbsDiff((await logitsFor(changed))[29], got[29]);
      if (shouldChange) t.ok(moved > 1e-3, `${label}: changing token 0 moves position 29's logits (${moved.toExponential(2)})`);
      else t.ok(moved === 0, `${label}: changing token 0 leaves position 29's logits exactly unchanged (${moved})`);
    }
  });

  t.test('final logit soft-capping', async (t) => {
    const b = await build({ ...narrow, finalLogitSoftcap: 3 });
    const prompt = promptTokens(4, 12, narrow.vocabSize, 300);
    const [got] = await runBatch(b.session, b.config, [{ cache: new SequenceCache(b.config, 16), tokens: prompt, logitsAt: at(12) }]);
    const expected = b.ref.forward(b.ref.newState(), prompt);
    t.ok(worstOf(got, expected) <= TOLERANCE, `max |Δ| = ${worstOf(got, expected).toExponential(2)}`);
    t.ok(got.every((row) => row.every((v) => Math.abs(v) <= 3)), 'every logit within ±cap');
  });
});

function at(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
