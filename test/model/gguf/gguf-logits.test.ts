// GGUF files written from make-model checkpoints (as llama.cpp would convert
// them) through Serval's loader and graph, against the same weights loaded
// from safetensors (F32, F16) or the independent reference forward of the
// dequantised weights (Q8_0, Q4_0, Q4_K). Covers the llama architecture (q/k rows
// permuted, llama3 RoPE as rope_freqs) and qwen2 / qwen3 (not permuted).
//
// Bounds: F32 / F16 1e-4, as the fp32 graph against the reference
// (test/graph/decoder-graph.test.ts): the weights are bit-identical, so only
// float summation order differs. Q8_0 / Q4_0 / Q4_K go through MatMulNBits
// (8- and 4-bit codes as stored) at accuracy_level 0 (fp32 compute): the
// kernel dequantises block by block to exactly the reference's values and sums
// in its own order; 1e-3 for the 4-bit ones, as
// test/graph/int4-agreement.test.ts, and 1e-4 for Q8_0 (measured ~2e-5).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { buildDecoderGraph, type DecoderGraphOptions } from '../../../src/model/graph/decoder-graph.js';
import { createDecoderSession } from '../../../src/model/graph/session.js';
import { loadModel } from '../../../src/model/load-model.js';
import { ReferenceDecoder } from '../../../src/model/reference/llama-reference.js';
import { ggufTokenizerMetadata } from '../../../src/model/testmodels/gguf-tokenizer-metadata.js';
import { DECODER_PRESETS } from '../../../src/model/testmodels/presets.js';
import { randomDecoderWeights } from '../../../src/model/testmodels/random-weights.js';
import { writeGguf, writeGgufFromFolder, type GgufWriteType } from '../../../src/model/testmodels/write-gguf.js';
import { writeTestModel } from '../../../src/model/testmodels/write-model.js';
import type { DecoderConfig, WeightStore } from '../../../src/model/types.js';
import { MapWeightStore } from '../../../src/model/weight-store.js';
import { SequenceCache, maxAbsDiff, promptTokens, runBatch } from '../../graph/harness.js';
import { tempDir } from '../helpers.js';

async function logits(config: DecoderConfig, weights: WeightStore, tokens: number[], options: DecoderGraphOptions = {}): Promise<Float32Array[]> {
  const session = await createDecoderSession(buildDecoderGraph(config, weights, options), { intraOpThreads: 1 });
  const [rows] = await runBatch(session, config, [{ cache: new SequenceCache(config, tokens.length), tokens, logitsAt: tokens.map((_, i) => i) }]);
  await session.release();
  return rows;
}

function worst(a: Float32Array[], b: Float32Array[]): number {
  return Math.max(...a.map((row, i) => maxAbsDiff(row, b[i])));
}

/** The reference decoder's logits for every position of `tokens`. */
function reference(config: DecoderConfig, weights: WeightStore, tokens: number[]): Float32Array[] {
  const ref = new ReferenceDecoder(config, weights);
  return ref.forward(ref.newState(), tokens);
}

const CONFIG_FIELDS = ['modelType', 'hiddenSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'intermediateSize', 'ropeTheta', 'maxPositionEmbeddings', 'tieWordEmbeddings', 'vocabSize', 'attentionBias', 'qkNorm', 'bosTokenId'] as const;

for (const [preset, type] of [['tiny', 'F32'], ['small', 'F16']] as const) {
  t.test(`llama ${preset} ${type}: GGUF logits equal the safetensors checkpoint's`, async (t) => {
    const dir = tempDir(t);
    const folder = path.join(dir, 'model');
    await writeTestModel(preset, folder, { dtype: type });
    const file = path.join(dir, `model-${type}.gguf`);
    await writeGgufFromFolder(folder, file, type);
    const st = await loadModel(folder);
    const gg = await loadModel(file);
    for (const f of CONFIG_FIELDS) t.same(gg.config[f], st.config[f], `config ${f}`);
    t.same(gg.config.eosTokenIds.sort(), st.config.eosTokenIds.sort(), 'end ids');
    t.equal(gg.summary.format, 'gguf');
    t.equal(gg.summary.weightTypes.attention, type);
    const tokens = promptTokens(5, 24, st.config.vocabSize);
    const d = worst(await logits(gg.config, gg.weights, tokens), await logits(st.config, st.weights, tokens));
    t.ok(d <= 1e-4, `max |Δ logits| = ${d.toExponential(2)}`);
  });
}

for (const type of ['Q8_0', 'Q4_0', 'Q4_K'] as GgufWriteType[]) {
  t.test(`llama small ${type}: logits equal the reference forward of the dequantised weights`, async (t) => {
    const dir = tempDir(t);
    const folder = path.join(dir, 'model');
    await writeTestModel('small', folder);
    const file = path.join(dir, `model-${type}.gguf`);
    await writeGgufFromFolder(folder, file, type);
    const gg = await loadModel(file);
    // mlp.down_proj has K = 688, not a multiple of 32: written F16, as llama-quantize falls back.
    t.equal(gg.summary.weightTypes.attention, type);
    t.match(gg.summary.weightTypes.mlp, /F16/);
    const tokens = promptTokens(9, 20, gg.config.vocabSize);
    const want = reference(gg.config, gg.weights, tokens);
    const d = worst(await logits(gg.config, gg.weights, tokens, { int4AccuracyLevel: 0 }), want);
    const bound = type === 'Q8_0' ? 1e-4 : 1e-3;
    t.ok(d <= bound, `max |Δ logits| = ${d.toExponential(2)} (bound ${bound})`);
  });
}

const qwen2: DecoderConfig = { ...DECODER_PRESETS.tiny, modelType: 'qwen2', architecture: 'Qwen2ForCausalLM', attentionBias: true, tieWordEmbeddings: false, intermediateSize: 192 };
const qwen3: DecoderConfig = { ...DECODER_PRESETS.tiny, modelType: 'qwen3', architecture: 'Qwen3ForCausalLM', qkNorm: true, rmsNormEps: 1e-6, intermediateSize: 192 };
for (const [config, type] of [[qwen2, 'F32'], [qwen3, 'F32'], [qwen3, 'Q4_0']] as const) {
  t.test(`${config.modelType} ${type}: q/k rows are not permuted; logits match`, async (t) => {
    const weights = randomDecoderWeights(config, 31);
    const dir = tempDir(t);
    // The tiny preset's tokenizer (same vocabulary size) supplies the tokenizer.ggml.* keys.
    await writeTestModel('tiny', path.join(dir, 'tok'));
    const metadata = ggufTokenizerMetadata(path.join(dir, 'tok', 'tokenizer.json'), JSON.parse(readFileSync(path.join(dir, 'tok', 'tokenizer_config.json'), 'utf8')));
    const file = path.join(dir, 'model.gguf');
    await writeGguf(file, config, weights, { arch: config.modelType as 'qwen2' | 'qwen3', type, metadata });
    const gg = await loadModel(file);
    for (const f of CONFIG_FIELDS) t.same(gg.config[f], config[f], `config ${f}`);
    const tokens = promptTokens(3, 16, config.vocabSize);
    const want = type === 'F32' ? await logits(config, new MapWeightStore(weights), tokens) : reference(gg.config, gg.weights, tokens);
    const d = worst(await logits(gg.config, gg.weights, tokens, { int4AccuracyLevel: 0 }), want);
    const bound = type === 'Q4_0' ? 1e-3 : 1e-4;
    t.ok(d <= bound, `max |Δ logits| = ${d.toExponential(2)} (bound ${bound})`);
  });
}
