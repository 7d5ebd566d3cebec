// The slot-KV graph against the independent reference decoder (fp32, max |Δ logits| ≤ 1e-4):
// single prefill with every position's logits, chunked prefill, cached decode,
// ragged and mixed batches with an idle row and garbage past the valid KV,
// and the sliceKvToMaxPast variant. Covers tiny (tied, GQA 4:2), small
// (untied, GQA 8:2, llama3 RoPE scaling) and tiny-derived Qwen2 (q/k/v bias),
// Qwen3 (q/k norm) and linear-RoPE-scaling configs.

import ort from 'onnxruntime-node';
import t from 'tap';
import { INPUT_IDS, LOGITS_ROWS, NEW_LENS, PAST_LENS, POSITION_IDS, kvKeyInput, kvValueInput } from '../../src/model/graph/graph-io.js';
import { buildDecoderGraph } from '../../src/model/graph/decoder-graph.js';
import { createDecoderSession } from '../../src/model/graph/session.js';
import { ReferenceDecoder, argmax } from '../../src/model/reference/llama-reference.js';
import { DECODER_PRESETS } from '../../src/model/testmodels/presets.js';
import { randomDecoderWeights } from '../../src/model/testmodels/random-weights.js';
import type { DecoderConfig } from '../../src/model/types.js';
import { MapWeightStore } from '../../src/model/weight-store.js';
import { SequenceCache, maxAbsDiff, promptTokens, runBatch } from './harness.js';

const TOLERANCE = 1e-4;

const configs: Array<[string, DecoderConfig]> = [
  ['tiny', DECODER_PRESETS.tiny],
  ['small', DECODER_PRESETS.small],
  ['tiny+qwen2-bias', { ...DECODER_PRESETS.tiny, modelType: 'qwen2', architecture: 'Qwen2ForCausalLM', attentionBias: true, tieWordEmbeddings: false }],
  ['tiny+qwen3-qknorm', { ...DECODER_PRESETS.tiny, modelType: 'qwen3', architecture: 'Qwen3ForCausalLM', qkNorm: true, rmsNormEps: 1e-6 }],
  ['tiny+linear-rope', { ...DECODER_PRESETS.tiny, ropeScaling: { type: 'linear', factor: 4 }, ropeTheta: 1000 }],
];

for (const [label, config] of configs) {
  t.test(label, async (t) => {
    const weights = new MapWeightStore(randomDecoderWeights(config, 1234));
    const ref = new ReferenceDecoder(config, weights);
    const session = await createDecoderSession(buildDecoderGraph(config, weights), { intraOpThreads: 2 });
    const sliced = await createDecoderSession(buildDecoderGraph(config, weights, { sliceKvToMaxPast: true }), { intraOpThreads: 2 });
    const V = config.vocabSize;

    const prompt = promptTokens(label.length * 31 + 1, 40, V);
    const refState = ref.newState();
    const refPrompt = ref.forward(refState, prompt);

    t.test('single prefill, logits for every position', async (t) => {
      const cache = new SequenceCache(config, 64);
      const [all] = await runBatch(session, config, [{ cache, tokens: prompt, logitsAt: prompt.map((_, i) => i) }]);
      t.equal(all.length, prompt.length);
      let worst = 0;
      all.forEach((row, i) => (worst = Math.max(worst, maxAbsDiff(row, refPrompt[i]))));
      t.ok(worst <= TOLERANCE, `max |Δ| over ${prompt.length} positions = ${worst.toExponential(2)}`);
    });

    t.test('chunked prefill (15+13+12) equals one prefill; then cached greedy decode', async (t) => {
      for (const [name, s] of [['default', session], ['sliced', sliced]] as const) {
        const cache = new SequenceCache(config, 64);
        let worst = 0;
        let start = 0;
        for (const size of [15, 13, 12]) {
          const chunk = prompt.slice(start, start + size);
          const [got] = await runBatch(s, config, [{ cache, tokens: chunk, logitsAt: chunk.map((_, i) => i) }], { capacity: 48, garbage: 7 });
          got.forEach((row, i) => (worst = Math.max(worst, maxAbsDiff(row, refPrompt[start + i]))));
          start += size;
        }
        t.ok(worst <= TOLERANCE, `${name}: chunked prefill max |Δ| = ${worst.toExponential(2)}`);

        // Greedy decode continuing from the cache, against the reference continuing from its state.
        const refDecodeState = ref.newState();
        let refLogits = ref.forward(refDecodeState, prompt).at(-1)!;
        let graphLogits = refPrompt.at(-1)!;
        worst = 0;
        for (let step = 0; step < 6; step++) {
          const next = argmax(refLogits);
          t.equal(argmax(graphLogits), next, `${name}: step ${step} argmax agrees`);
          [[graphLogits]] = await runBatch(s, config, [{ cache, tokens: [next] }], { capacity: 56, garbage: -3 });
          [refLogits] = ref.forward(refDecodeState, [next]);
          worst = Math.max(worst, maxAbsDiff(graphLogits, refLogits));
        }
        t.ok(worst <= TOLERANCE, `${name}: cached decode max |Δ| = ${worst.toExponential(2)}`);
      }
    });

    t.test('ragged + mixed batch with an idle row equals each row alone', async (t) => {
      // Three sequences with different pasts: 5, 17 and 9 tokens.
      const seqs = [promptTokens(11, 5 + 1, V), promptTokens(12, 17 + 4, V), promptTokens(13, 9 + 1, V)];
      const pastLens = [5, 17, 9];
      const byVariant: Float32Array[][][] = [];
      for (const [name, s] of [['default', session], ['sliced', sliced]] as const) {
        const caches = seqs.map(() => new SequenceCache(config, 32));
        // Prefill the pasts in one right-padded batch (different new_lens).
        await runBatch(s, config, seqs.map((seq, i) => ({ cache: caches[i], tokens: seq.slice(0, pastLens[i]) })));
        // Mixed step: row 0 decodes 1 token, row 1 is idle, row 2 continues a prefill with 4 tokens,
        // row 3 decodes 1 token. Capacity > longest past, filled with garbage.
        const rows = [
          { cache: caches[0], tokens: seqs[0].slice(5) },
          { cache: null, tokens: [] },
          { cache: caches[1], tokens: seqs[1].slice(17), logitsAt: [0, 1, 2, 3] },
          { cache: caches[2], tokens: seqs[2].slice(9) },
        ];
        const got = await runBatch(s, config, rows, { capacity: 24, garbage: 1e3 });
        byVariant.push(got);
        const expected = seqs.map((seq) => ref.forward(ref.newState(), seq));
        let worst = 0;
        worst = Math.max(worst, maxAbsDiff(got[0][0], expected[0][5]));
        got[2].forEach((row, i) => (worst = Math.max(worst, maxAbsDiff(row, expected[1][17 + i]))));
        worst = Math.max(worst, maxAbsDiff(got[3][0], expected[2][9]));
        t.equal(got[1].length, 0, 'idle row asks for no logits');
        t.ok(worst <= TOLERANCE, `${name}: ragged/mixed max |Δ| = ${worst.toExponential(2)}`);
        // The KV appended for every row must also be right: one more decode step for all three.
        const next = caches.map(() => 5);
        const after = await runBatch(s, config, caches.map((cache, i) => ({ cache, tokens: [next[i]] })));
        const refAfter = seqs.map((seq, i) => ref.forward(ref.newState(), [...seq, next[i]]).at(-1)!);
        const worstAfter = Math.max(...after.map((r, i) => maxAbsDiff(r[0], refAfter[i])));
        t.ok(worstAfter <= TOLERANCE, `${name}: decode after the mixed step max |Δ| = ${worstAfter.toExponential(2)}`);
      }
      const [plain, slicedRows] = byVariant;
      let variantDiff = 0;
      plain.forEach((row, r) => row.forEach((v, i) => (variantDiff = Math.max(variantDiff, maxAbsDiff(v, slicedRows[r][i])))));
      t.ok(variantDiff <= TOLERANCE, `sliceKvToMaxPast equals the default: max |Δ| = ${variantDiff.toExponential(2)}`);
    });

    t.test('idle rows and padding produce finite outputs', async (t) => {
      const out = await session.run(idleFeeds(config));
      for (const [name, tensor] of Object.entries(out)) {
        if (tensor.type === 'int64') {
          const ids = tensor.data as BigInt64Array;
          t.ok(ids.every((id) => id >= 0n && id < BigInt(config.vocabSize)), `${name} within the vocabulary`);
        } else {
          const data = tensor.data as Float32Array;
          t.ok(data.every(Number.isFinite), `${name} finite`);
        }
      }
    });
  });
}

/** A batch of two idle rows with no past (CAP = 0): every score is masked. */
function idleFeeds(config: DecoderConfig): Record<string, ort.Tensor> {
  const B = 2;
  const S = 3;
  const i64 = (n: number) => new BigInt64Array(n);
  const feeds: Record<string, ort.Tensor> = {
    [INPUT_IDS]: new ort.Tensor('int64', i64(B * S), [B, S]),
    [POSITION_IDS]: new ort.Tensor('int64', i64(B * S), [B, S]),
    [PAST_LENS]: new ort.Tensor('int64', i64(B), [B]),
    [NEW_LENS]: new ort.Tensor('int64', i64(B), [B]),
    [LOGITS_ROWS]: new ort.Tensor('int64', BigInt64Array.from([0n, 4n]), [2]),
  };
  for (let l = 0; l < config.numLayers; l++) {
    const dims = [B, config.numKvHeads, 0, config.headDim];
    feeds[kvKeyInput(l)] = new ort.Tensor('float32', new Float32Array(0), dims);
    feeds[kvValueInput(l)] = new ort.Tensor('float32', new Float32Array(0), dims);
  }
  return feeds;
}
