// Generated model folders load back exactly: config equals the preset, every
// tensor equals an independent decode of the bytes on disk (and the original
// random weights for F32), sharded equals single-file, and broken folders
// fail with the file and tensor named.

import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { parseDecoderConfig } from '../../src/model/config.js';
import { loadEncoderFolder, loadModelFolder } from '../../src/model/folder.js';
import { writeSafetensors, type TensorToWrite } from '../../src/model/safetensors.js';
import { decoderTensorSpecs } from '../../src/model/tensor-names.js';
import { CHAT_TEMPLATE } from '../../src/model/testmodels/chat-template.js';
import { DECODER_PRESETS, ENCODER_PRESET, ENCODER_SENTENCE_CONFIG, decoderParamCount } from '../../src/model/testmodels/presets.js';
import { randomDecoderWeights, randomEncoderWeights } from '../../src/model/testmodels/random-weights.js';
import { DEFAULT_SEED, decoderConfigJson, writeTestModel } from '../../src/model/testmodels/write-model.js';
import type { WeightStore } from '../../src/model/types.js';
import { bitsEqual, decodeRaw, expectLoadError, parseRaw, rawSafetensors, tempDir } from './helpers.js';

/** Every tensor in the folder's safetensors files, decoded by the test-side formulas. */
function decodeFolder(dir: string): Map<string, { dtype: string; shape: number[]; data: Float32Array }> {
  const out = new Map<string, { dtype: string; shape: number[]; data: Float32Array }>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.safetensors'))) {
    const { header, data } = parseRaw(readFileSync(path.join(dir, f)));
    for (const [name, h] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      out.set(name, { dtype: h.dtype, shape: h.shape, data: decodeRaw(h.dtype, data.subarray(h.data_offsets[0], h.data_offsets[1])) });
    }
  }
  return out;
}

function compareWithDisk(t: Test, dir: string, weights: WeightStore, expectedDtype: string): void {
  const disk = decodeFolder(dir);
  t.same(weights.names().sort(), [...disk.keys()].sort(), 'same tensor names as on disk');
  let mismatched = 0;
  for (const [name, d] of disk) {
    const w = weights.get(name);
    if (d.dtype !== expectedDtype || weights.dtypeOf(name) !== expectedDtype) mismatched++;
    if (w.shape.join() !== d.shape.join() || !bitsEqual(w.data, d.data)) mismatched++;
  }
  t.equal(mismatched, 0, `all ${disk.size} tensors match the independent decode`);
}

const cases: Array<{ preset: 'tiny' | 'small'; dtype: 'F32' | 'F16' | 'BF16'; shardBytes?: number }> = [
  { preset: 'tiny', dtype: 'F32' },
  { preset: 'tiny', dtype: 'F16', shardBytes: 100_000 },
  { preset: 'tiny', dtype: 'BF16' },
  { preset: 'small', dtype: 'F32' },
  { preset: 'small', dtype: 'BF16', shardBytes: 3_000_000 },
];

for (const c of cases) {
  t.test(`${c.preset} ${c.dtype}${c.shardBytes ? ' sharded' : ''} round trip`, async (t) => {
    const dir = tempDir(t);
    const written = await writeTestModel(c.preset, dir, { dtype: c.dtype, shardBytes: c.shardBytes });
    t.equal(written.paramCount, decoderParamCount(DECODER_PRESETS[c.preset]));
    const loaded = await loadModelFolder(dir);
    t.same(loaded.config, DECODER_PRESETS[c.preset], 'config equals the preset');
    t.same(loaded.generation.eosTokenIds, DECODER_PRESETS[c.preset].eosTokenIds, 'eos from both files');
    const cfgJson = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    t.equal(typeof cfgJson.eos_token_id, 'number', 'config.json has the single end-of-text id');
    const genJson = JSON.parse(readFileSync(path.join(dir, 'generation_config.json'), 'utf8'));
    t.equal(genJson.eos_token_id.length, 2, 'generation_config.json lists two eos ids');
    t.equal(loaded.chatTemplate, CHAT_TEMPLATE);
    t.equal(loaded.tokenizerJsonPath, path.join(dir, 'tokenizer.json'));
    t.equal(loaded.tokenizerConfig?.bos_token, '<|begin_of_text|>');
    if (c.shardBytes) t.ok(readdirSync(dir).includes('model.safetensors.index.json'), 'index written');
    compareWithDisk(t, dir, loaded.weights, c.dtype);
    if (c.dtype === 'F32') {
      const original = randomDecoderWeights(DECODER_PRESETS[c.preset], DEFAULT_SEED);
      let same = 0;
      for (const [name, w] of original) if (bitsEqual(loaded.weights.get(name).data, w.data)) same++;
      t.equal(same, original.size, 'F32 weights are bit-identical to the generated ones');
    }
  });
}

t.test('sharded and single-file folders load identically', async (t) => {
  const a = tempDir(t);
  const b = tempDir(t);
  await writeTestModel('tiny', a, { dtype: 'BF16' });
  await writeTestModel('tiny', b, { dtype: 'BF16', shardBytes: 50_000 });
  t.ok(readdirSync(b).filter((f) => f.endsWith('.safetensors')).length > 2);
  const la = await loadModelFolder(a);
  const lb = await loadModelFolder(b);
  t.same(lb.config, la.config);
  let identical = 0;
  for (const name of la.weights.names()) if (bitsEqual(la.weights.get(name).data, lb.weights.get(name).data)) identical++;
  t.equal(identical, la.weights.names().length);
});

t.test('bench preset: config round-trips without writing weights', async (t) => {
  const bench = DECODER_PRESETS.bench;
  const json = decoderConfigJson(bench, 'F32');
  const parsed = parseDecoderConfig(JSON.parse(JSON.stringify(json)));
  t.same({ ...parsed, eosTokenIds: bench.eosTokenIds }, bench);
  const params = decoderParamCount(bench);
  t.ok(params > 54e6 && params < 58e6, `~56M params (${params})`);
});

t.test('presets exercise every feature', async (t) => {
  const all = Object.values(DECODER_PRESETS);
  t.ok(all.some((c) => c.tieWordEmbeddings) && all.some((c) => !c.tieWordEmbeddings), 'tied and untied');
  t.ok(all.every((c) => c.numKvHeads < c.numHeads), 'GQA everywhere');
  t.ok(all.some((c) => c.ropeScaling?.type === 'llama3'), 'llama3 RoPE scaling');
  t.equal(DECODER_PRESETS.tiny.vocabSize, 512);
  t.equal(DECODER_PRESETS.bench.vocabSize, 32000);
  const tiny = decoderParamCount(DECODER_PRESETS.tiny);
  t.ok(tiny > 80e3 && tiny < 200e3, `tiny ~0.1M (${tiny})`);
  // Independent count for tiny from the tensor list.
  t.equal(decoderTensorSpecs(DECODER_PRESETS.tiny).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0), tiny);
});

t.test('chat template sources and precedence', async (t) => {
  const dir = tempDir(t);
  await writeTestModel('tiny', dir);
  const cfgPath = path.join(dir, 'tokenizer_config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.chat_template = [
    { name: 'tool_use', template: 'TOOLS' },
    { name: 'default', template: 'DEFAULT' },
  ];
  writeFileSync(cfgPath, JSON.stringify(cfg));
  t.equal((await loadModelFolder(dir)).chatTemplate, 'DEFAULT', "list form: 'default' wins");
  writeFileSync(path.join(dir, 'chat_template.jinja'), 'FROM-JINJA');
  t.equal((await loadModelFolder(dir)).chatTemplate, 'FROM-JINJA', 'chat_template.jinja takes precedence');
  rmSync(path.join(dir, 'chat_template.jinja'));
  delete cfg.chat_template;
  writeFileSync(cfgPath, JSON.stringify(cfg));
  t.equal((await loadModelFolder(dir)).chatTemplate, null, 'no template anywhere → null');
  rmSync(cfgPath);
  const noCfg = await loadModelFolder(dir);
  t.equal(noCfg.tokenizerConfig, null);
});

t.test('broken decoder folders', async (t) => {
  const config = DECODER_PRESETS.tiny;
  const weights = randomDecoderWeights(config, 7);
  const asWritable = (m: typeof weights): Map<string, TensorToWrite> =>
    new Map([...m].map(([n, w]) => [n, { dtype: 'F32' as const, shape: w.shape, data: w.data }]));

  const missing = tempDir(t);
  await writeTestModel('tiny', missing);
  const withoutOne = asWritable(weights);
  withoutOne.delete('model.layers.1.mlp.up_proj.weight');
  await writeSafetensors(path.join(missing, 'model.safetensors'), withoutOne);
  await expectLoadError(t, () => loadModelFolder(missing), 'model.safetensors', 'model.layers.1.mlp.up_proj.weight', /missing tensor \(expected shape \[172, 64\]\)/);

  const wrongShape = tempDir(t);
  await writeTestModel('tiny', wrongShape);
  const reshaped = asWritable(weights);
  const k = reshaped.get('model.layers.0.self_attn.k_proj.weight')!;
  reshaped.set('model.layers.0.self_attn.k_proj.weight', { ...k, shape: [64, 32] });
  await writeSafetensors(path.join(wrongShape, 'model.safetensors'), reshaped);
  await expectLoadError(
    t,
    () => loadModelFolder(wrongShape),
    'model.safetensors',
    'model.layers.0.self_attn.k_proj.weight',
    /expected \[32, 64\] from config.json, found \[64, 32\]/,
  );

  const intTensor = tempDir(t);
  await writeTestModel('tiny', intTensor);
  const stPath = path.join(intTensor, 'model.safetensors');
  const { header, data } = parseRaw(readFileSync(stPath));
  header['model.norm.weight'].dtype = 'I32'; // same width as F32, so offsets stay consistent
  writeFileSync(stPath, rawSafetensors(header, data));
  await expectLoadError(t, () => loadModelFolder(intTensor), 'model.safetensors', 'model.norm.weight', /unsupported dtype I32; only F32, F16 and BF16/);

  const badConfig = tempDir(t);
  await writeTestModel('tiny', badConfig);
  const cfgPath = path.join(badConfig, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  delete cfg.intermediate_size;
  writeFileSync(cfgPath, JSON.stringify(cfg));
  await expectLoadError(t, () => loadModelFolder(badConfig), cfgPath, 'intermediate_size', /missing required integer field/);
  writeFileSync(cfgPath, '{ not json');
  await expectLoadError(t, () => loadModelFolder(badConfig), cfgPath, null, /malformed JSON/);
  rmSync(cfgPath);
  await expectLoadError(t, () => loadModelFolder(badConfig), cfgPath, null, /file not found/);

  const noTokenizer = tempDir(t);
  await writeTestModel('tiny', noTokenizer);
  rmSync(path.join(noTokenizer, 'tokenizer.json'));
  await expectLoadError(t, () => loadModelFolder(noTokenizer), 'tokenizer.json', null, /file not found/);

  await expectLoadError(t, () => loadModelFolder(path.join(noTokenizer, 'nope')), 'nope', null, /model folder not found/);
});

t.test('encoder folder round trip and sentence-transformers options', async (t) => {
  const dir = tempDir(t);
  await writeTestModel('encoder', dir);
  const loaded = await loadEncoderFolder(dir);
  t.same(loaded.config, ENCODER_PRESET);
  t.same(loaded.sentence, ENCODER_SENTENCE_CONFIG);
  t.equal(loaded.onnxPath, null);
  t.ok(loaded.weights !== null);
  compareWithDisk(t, dir, loaded.weights!, 'F32');
  const original = randomEncoderWeights(ENCODER_PRESET, DEFAULT_SEED);
  let same = 0;
  for (const [name, w] of original) if (bitsEqual(loaded.weights!.get(name).data, w.data)) same++;
  t.equal(same, original.size, 'F32 encoder weights bit-identical');

  // CLS pooling, no Normalize module, shorter max_seq_length, an ONNX export present.
  writeFileSync(
    path.join(dir, '1_Pooling/config.json'),
    JSON.stringify({ word_embedding_dimension: 64, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false }),
  );
  const modules = JSON.parse(readFileSync(path.join(dir, 'modules.json'), 'utf8')) as { type: string }[];
  writeFileSync(path.join(dir, 'modules.json'), JSON.stringify(modules.filter((m) => !m.type.endsWith('Normalize'))));
  writeFileSync(path.join(dir, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: 64 }));
  mkdirSync(path.join(dir, 'onnx'));
  writeFileSync(path.join(dir, 'onnx', 'model.onnx'), 'placeholder');
  const changed = await loadEncoderFolder(dir);
  t.same(changed.sentence, { pooling: 'cls', normalize: false, maxSeqLength: 64 });
  t.equal(changed.onnxPath, path.join(dir, 'onnx', 'model.onnx'));

  writeFileSync(path.join(dir, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: 4096 }));
  await expectLoadError(t, () => loadEncoderFolder(dir), 'sentence_bert_config.json', 'max_seq_length', /exceeds the 128 positions max_position_embeddings/);
  writeFileSync(path.join(dir, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: 64 }));
  writeFileSync(path.join(dir, '1_Pooling/config.json'), JSON.stringify({ pooling_mode_cls_token: true, pooling_mode_mean_tokens: true }));
  await expectLoadError(t, () => loadEncoderFolder(dir), '1_Pooling', 'pooling_mode', /exactly one pooling mode/);
});
