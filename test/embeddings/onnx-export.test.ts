// Encoder folders that ship an ONNX export instead of safetensors: the feed
// plan read from the graph, serving a sentence_embedding export and a
// hidden-state export (pooled in the worker), and the Optimum DistilBERT
// sequence classifier, which is refused as not an embedding model.

import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import t from 'tap';
import { loadEmbeddingModel } from '../../src/front/embeddings/load-embedding-model.js';
import { loadEncoderFolder } from '../../src/model/folder.js';
import { buildEncoderGraph, SENTENCE_EMBEDDING } from '../../src/model/graph/encoder-graph.js';
import { planOnnxFeeds, type GraphValue } from '../../src/worker/encoder/onnx-export.js';
import { maxAbsDiff, norm, ReferenceEmbedder, sentences, startEmbeddingServer, tempDir, writeEncoder } from './helpers.js';

const { onnx } = onnxProto;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const shared = path.resolve(repoRoot, '..', 'shared');
const optimumDir = path.join(shared, 'models', 'onnx', 'optimum-tiny-distilbert-cls');
const bertTokenizerDir = path.join(shared, 'models', 'tokenizers', 'bert-base-uncased');

const ids = (name: string, type = 'int64'): GraphValue => ({ name, type, shape: ['batch', 'sequence'] });

t.test('feed plan: inputs as the graph declares them', async (t) => {
  const plan = planOnnxFeeds('/m/onnx/model.onnx', [ids('input_ids'), ids('attention_mask', 'int32')], [
    { name: 'last_hidden_state', type: 'float32', shape: ['batch', 'sequence', 384] },
    { name: 'sentence_embedding', type: 'float32', shape: ['batch', 384] },
  ]);
  t.same(plan.output, { name: 'sentence_embedding', kind: 'sentence' }, 'sentence_embedding wins over hidden states');
  t.equal(plan.tokenTypeIds, null, 'token_type_ids only when declared');
  t.same(plan.attentionMask, { name: 'attention_mask', type: 'int32' });
  const hidden = planOnnxFeeds('/m/model.onnx', [ids('input_ids'), ids('token_type_ids'), ids('position_ids')], [{ name: 'token_embeddings' }]);
  t.same(hidden.output, { name: 'token_embeddings', kind: 'hidden' });
  t.same(hidden.tokenTypeIds, { name: 'token_type_ids', type: 'int64' });
  t.same(hidden.positionIds, { name: 'position_ids', type: 'int64' });
  t.throws(() => planOnnxFeeds('/m/model.onnx', [ids('input_ids'), ids('pixel_values')], [{ name: 'last_hidden_state' }]), /unsupported graph input.*pixel_values/);
  t.throws(() => planOnnxFeeds('/m/model.onnx', [ids('attention_mask')], [{ name: 'last_hidden_state' }]), /no input_ids/);
  t.throws(() => planOnnxFeeds('/m/model.onnx', [ids('input_ids', 'float32')], [{ name: 'last_hidden_state' }]), /expected int64 or int32/);
  t.throws(
    () => planOnnxFeeds('/m/model.onnx', [ids('input_ids')], [{ name: 'logits', type: 'float32', shape: ['batch', 2] }]),
    /not an embedding model: the graph's outputs are logits \[batch, 2\]/,
  );
});

/** Writes an ONNX-only copy of the built-in encoder: onnx/model.onnx from Serval's graph, no safetensors. */
async function onnxOnlyFolder(root: string, name: string, keepSentenceOutput: boolean, pooling: 'mean' | 'max'): Promise<{ onnxDir: string; refDir: string }> {
  const refDir = await writeEncoder(path.join(root, `${name}-ref`));
  if (pooling !== 'mean') {
    // Same model with max pooling and no Normalize module, in both folders.
    const poolingFile = path.join(refDir, '1_Pooling', 'config.json');
    const cfg = JSON.parse(await readFile(poolingFile, 'utf8')) as Record<string, unknown>;
    await writeFile(poolingFile, JSON.stringify({ ...cfg, pooling_mode_mean_tokens: false, pooling_mode_max_tokens: true }));
    const modulesFile = path.join(refDir, 'modules.json');
    const modules = JSON.parse(await readFile(modulesFile, 'utf8')) as Array<{ type: string }>;
    await writeFile(modulesFile, JSON.stringify(modules.filter((m) => !m.type.endsWith('.Normalize'))));
  }
  const onnxDir = path.join(root, name);
  await mkdir(path.join(onnxDir, 'onnx'), { recursive: true });
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'modules.json', 'sentence_bert_config.json']) {
    await copyFile(path.join(refDir, f), path.join(onnxDir, f));
  }
  await mkdir(path.join(onnxDir, '1_Pooling'));
  await copyFile(path.join(refDir, '1_Pooling', 'config.json'), path.join(onnxDir, '1_Pooling', 'config.json'));
  const folder = await loadEncoderFolder(refDir);
  let bytes = buildEncoderGraph(folder.config, folder.weights!, folder.sentence);
  if (!keepSentenceOutput) {
    // Like a plain HF/Optimum feature-extraction export: token-level output only.
    const model = onnx.ModelProto.decode(bytes);
    model.graph!.output = (model.graph!.output ?? []).filter((o) => o.name !== SENTENCE_EMBEDDING);
    bytes = onnx.ModelProto.encode(model).finish();
  }
  await writeFile(path.join(onnxDir, 'onnx', 'model.onnx'), bytes);
  return { onnxDir, refDir };
}

t.test('ONNX exports are served: sentence_embedding output, and hidden states pooled in the worker', async (t) => {
  const tmp = await tempDir('serval-emb-onnx-');
  t.teardown(tmp.remove);
  for (const variant of [
    { name: 'st-onnx-sentence', keep: true, pooling: 'mean' as const, source: 'onnx-sentence-embedding' },
    { name: 'st-onnx-hidden-max', keep: false, pooling: 'max' as const, source: 'onnx-hidden-state' },
  ]) {
    const { onnxDir, refDir } = await onnxOnlyFolder(tmp.dir, variant.name, variant.keep, variant.pooling);
    const reference = await ReferenceEmbedder.load(refDir);
    const srv = await startEmbeddingServer(onnxDir);
    try {
      t.equal(srv.model.info.source, variant.source, `${variant.name}: loaded from ${variant.source}`);
      t.equal(srv.model.info.dimensions, 64);
      const input = sentences(12, 50, 5);
      const r = await srv.client.embeddings.create({ model: variant.name, input, encoding_format: 'float' });
      let worst = 0;
      for (const [i, text] of input.entries()) worst = Math.max(worst, maxAbsDiff(r.data[i].embedding, await reference.embed(text)));
      t.ok(worst < 1e-5, `${variant.name}: max |Δ| vs reference = ${worst.toExponential(2)}`);
      const n = norm(r.data[0].embedding);
      if (variant.pooling === 'mean') t.ok(Math.abs(n - 1) < 1e-5, 'normalised (Normalize module)');
      else t.ok(Math.abs(n - 1) > 1e-3, `not normalised without a Normalize module (‖v‖ = ${n.toFixed(3)})`);
    } finally {
      await srv.close();
    }
  }
});

t.test('the Optimum DistilBERT sequence classifier is refused: not an embedding model', { skip: existsSync(optimumDir) ? false : 'reason: ../shared absent' }, async (t) => {
  const tmp = await tempDir('serval-emb-optimum-');
  t.teardown(tmp.remove);
  // The export ships without a tokenizer; pair it with bert-base-uncased as its README says.
  const dir = path.join(tmp.dir, 'optimum-tiny-distilbert-cls');
  await mkdir(dir);
  for (const f of ['model.onnx', 'config.json']) await symlink(path.join(optimumDir, f), path.join(dir, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await symlink(path.join(bertTokenizerDir, f), path.join(dir, f));
  const error = await loadEmbeddingModel({ modelDir: dir, intraOpThreads: 1, spinning: false }).then(
    () => null,
    (e: unknown) => e as Error,
  );
  t.ok(error, 'loading fails');
  t.match(error?.message, /model\.onnx: not an embedding model/);
  t.match(error?.message, /outputs are logits \[batch, 2\]/, 'names what the graph returns');
  t.match(error?.message, /no sentence_embedding, last_hidden_state, token_embeddings output/, 'names what an embedding export needs');
  t.match(error?.message, /DistilBertForSequenceClassification: a classifier's head returns class scores/, 'says it is a classifier');
  await rm(dir, { recursive: true, force: true });
});
