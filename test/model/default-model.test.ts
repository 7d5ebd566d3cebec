// The default model cache and the make-model CLI entry point.

import { mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runMakeModel } from '../../src/cli/make-model.js';
import { loadEncoderFolder, loadModelFolder } from '../../src/model/folder.js';
import { DECODER_PRESETS } from '../../src/model/testmodels/presets.js';
import { defaultCacheDir, ensureDefaultModels } from '../../src/model/testmodels/default-model.js';
import { tempDir } from './helpers.js';

t.test('ensureDefaultModels generates once, atomically, and reuses the cache', async (t) => {
  const cache = tempDir(t);
  const paths = await ensureDefaultModels(cache);
  t.equal(paths.chatModelDir, path.join(cache, 'models', 'serval-small-chat'));
  t.equal(paths.embedModelDir, path.join(cache, 'models', 'serval-tiny-embed'));
  t.same(readdirSync(path.join(cache, 'models')).sort(), ['serval-small-chat', 'serval-tiny-embed'], 'no temp dirs left behind');
  const chat = await loadModelFolder(paths.chatModelDir);
  t.same(chat.config, DECODER_PRESETS.small);
  t.ok(chat.chatTemplate !== null);
  const embed = await loadEncoderFolder(paths.embedModelDir);
  t.equal(embed.sentence.normalize, true);

  const weights = path.join(paths.chatModelDir, 'model.safetensors');
  const before = statSync(weights).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));
  await ensureDefaultModels(cache);
  t.equal(statSync(weights).mtimeMs, before, 'second call reuses the cached model');

  // A marker from an older generator forces regeneration.
  const marker = path.join(paths.chatModelDir, 'serval-testmodel.json');
  writeFileSync(marker, JSON.stringify({ ...JSON.parse(readFileSync(marker, 'utf8')), generatorVersion: -1 }));
  await ensureDefaultModels(cache);
  t.not(statSync(weights).mtimeMs, before, 'stale model regenerated');
  t.same(readdirSync(path.join(cache, 'models')).sort(), ['serval-small-chat', 'serval-tiny-embed']);

  // A crashed run's temp dir (old mtime) is swept on the next generation.
  const leftover = path.join(cache, 'models', '.serval-small-chat.tmp-crashed');
  mkdirSync(leftover);
  const old = new Date(Date.now() - 2 * 3600 * 1000);
  utimesSync(leftover, old, old);
  writeFileSync(marker, '{}');
  await ensureDefaultModels(cache);
  t.same(readdirSync(path.join(cache, 'models')).sort(), ['serval-small-chat', 'serval-tiny-embed'], 'leftover removed');
});

t.test('SERVAL_CACHE_DIR sets the default cache', async (t) => {
  const saved = process.env.SERVAL_CACHE_DIR;
  process.env.SERVAL_CACHE_DIR = '/some/where';
  t.teardown(() => {
    if (saved === undefined) delete process.env.SERVAL_CACHE_DIR;
    else process.env.SERVAL_CACHE_DIR = saved;
  });
  t.equal(defaultCacheDir(), '/some/where');
});

t.test('runMakeModel', async (t) => {
  const out = path.join(tempDir(t), 'tiny-model');
  const writes: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    writes.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await runMakeModel(['--preset', 'tiny', '--out', out, '--dtype', 'BF16', '--seed', '9', '--shard-bytes', '100000']);
  } finally {
    process.stdout.write = original;
  }
  const text = writes.join('');
  t.match(text, /Wrote tiny model .*BF16.*seed 9/);
  t.match(text, /model\.safetensors\.index\.json/);
  const loaded = await loadModelFolder(out);
  t.equal(loaded.weights.dtypeOf('model.embed_tokens.weight'), 'BF16');
  await t.rejects(runMakeModel(['--preset', 'huge', '--out', out]), /--preset must be one of tiny, small, bench, bench-1b, smollm3, granite3, phi4-mini, gemma3, encoder, xlmr-embed, xlmr-rerank, bert-rerank, qwen3-embed\n/);
  await t.rejects(runMakeModel(['--preset', 'tiny']), /--out DIR is required/);
  await t.rejects(runMakeModel(['--preset', 'tiny', '--out', out, '--dtype', 'F64']), /--dtype must be F32, F16 or BF16/);
  await t.rejects(runMakeModel(['--preset', 'tiny', '--out', out, '--seed', 'x']), /--seed must be an integer/);
});
