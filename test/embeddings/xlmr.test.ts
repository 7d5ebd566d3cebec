// XLM-RoBERTa embeddings (the bge-m3 preset: RoBERTa position ids, one token
// type, a SentencePiece-Unigram tokenizer, CLS pooling, Normalize) against the
// float64 reference, in-graph on right-padded batches of mixed lengths and end
// to end through the real server with the openai client.

import t from 'tap';
import ort from 'onnxruntime-node';
import { buildEncoderGraph, ENCODER_ATTENTION_MASK, ENCODER_INPUT_IDS, ENCODER_TOKEN_TYPE_IDS, SENTENCE_EMBEDDING } from '../../src/model/graph/encoder-graph.js';
import { l2Normalize, poolHidden, positionIdsOf, ReferenceEncoder } from '../../src/model/reference/bert-reference.js';
import { ENCODER_FAMILY_PRESETS } from '../../src/model/testmodels/encoder-presets.js';
import { randomEncoderWeights } from '../../src/model/testmodels/random-weights.js';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { MapWeightStore } from '../../src/model/weight-store.js';
import { maxAbsDiff, ReferenceEmbedder, startEmbeddingServer, tempDir } from './helpers.js';

const TOLERANCE = 1e-5;
const PRESET = ENCODER_FAMILY_PRESETS['xlmr-embed'];
const config = PRESET.config;
const PAD = 1;

t.test('RoBERTa position ids follow HF create_position_ids_from_input_ids', async (t) => {
  t.same(positionIdsOf([0, 57, 1, 60, 2], PAD), [2, 3, 1, 4, 5], 'pad tokens take padding_idx and are not counted');
  t.same(positionIdsOf([0, 57, 2], null), [0, 1, 2], 'BERT counts from 0');
});

t.test('graph = reference on a padded batch of mixed lengths (bge-m3 shape)', async (t) => {
  const weights = new MapWeightStore(randomEncoderWeights(config, 21));
  const reference = new ReferenceEncoder(config, weights);
  const session = await ort.InferenceSession.create(buildEncoderGraph(config, weights, { pooling: 'cls', normalize: true }), { intraOpNumThreads: 1 });
  // <s> … </s> rows of different lengths; the third carries a pad id inside its real tokens
  // (positions skip it, as HF's do), so both halves of the position rule are exercised.
  let x = 7;
  const next = (): number => 4 + ((x = (x * 1103515245 + 12345) % 2 ** 31) % (config.vocabSize - 5));
  const rows = [3, 11, 6, 1, 17].map((n) => [0, ...Array.from({ length: n }, next), 2]);
  rows[2][3] = PAD;
  const B = rows.length;
  const S = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(B * S);
  const mask = new BigInt64Array(B * S);
  rows.forEach((r, b) => r.forEach((id, s) => ((ids[b * S + s] = BigInt(id)), (mask[b * S + s] = 1n))));
  const out = await session.run({
    [ENCODER_INPUT_IDS]: new ort.Tensor('int64', ids, [B, S]),
    [ENCODER_ATTENTION_MASK]: new ort.Tensor('int64', mask, [B, S]),
    [ENCODER_TOKEN_TYPE_IDS]: new ort.Tensor('int64', new BigInt64Array(B * S), [B, S]),
  });
  const got = out[SENTENCE_EMBEDDING].data as Float32Array;
  const H = config.hiddenSize;
  const bertPositions = new ReferenceEncoder({ ...config, positionPaddingIdx: null, maxPositionEmbeddings: config.maxPositionEmbeddings }, weights);
  rows.forEach((r, b) => {
    const mine = got.subarray(b * H, (b + 1) * H);
    const expected = l2Normalize(poolHidden(reference.forward({ inputIds: r }), r.map(() => 1), 'cls'));
    const d = maxAbsDiff(mine, expected);
    t.ok(d < TOLERANCE, `row ${b} (${r.length} tokens, padded to ${S}): max |Δ| = ${d.toExponential(2)}`);
    const unshifted = l2Normalize(poolHidden(bertPositions.forward({ inputIds: r }), r.map(() => 1), 'cls'));
    t.ok(maxAbsDiff(expected, unshifted) > 1e-3, `row ${b}: BERT positions would give another vector (the check can fail)`);
  });
});

t.test('served: the openai client embeds through the Unigram tokenizer', async (t) => {
  const tmp = await tempDir('serval-xlmr-');
  t.teardown(tmp.remove);
  await writeTestModel('xlmr-embed', tmp.dir);
  const reference = await ReferenceEmbedder.load(tmp.dir);
  t.equal(reference.tokenizer.vocabType, 'raw', 'a SentencePiece Unigram vocabulary');
  const ids = await reference.ids('Once upon a time');
  t.equal(ids[0], 0, 'starts with <s>');
  t.equal(ids[ids.length - 1], 2, 'ends with </s>');
  const srv = await startEmbeddingServer(tmp.dir, { servedName: 'bge-m3-test' });
  t.teardown(srv.close);
  t.equal(srv.model.info.source, 'built-graph');
  const input = ['The quick brown fox', 'a longer sentence about bees, honey and the old woman who kept them', 'x'];
  const r = await srv.client.embeddings.create({ model: 'bge-m3-test', input, encoding_format: 'float' });
  let tokens = 0;
  for (let i = 0; i < input.length; i++) {
    const expected = await reference.embed(input[i]);
    tokens += (await reference.ids(input[i])).length;
    t.equal(r.data[i].embedding.length, config.hiddenSize);
    const d = maxAbsDiff(r.data[i].embedding, expected);
    t.ok(d < TOLERANCE, `input ${i} vs reference: ${d.toExponential(2)}`);
  }
  t.equal(r.usage.prompt_tokens, tokens, 'usage counts <s> and </s>');
});
