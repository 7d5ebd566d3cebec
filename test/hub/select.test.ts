// The pure parts of Hub support: what a --model argument names, which files
// of a repo are fetched (GGUF quantisation choice included), and the
// environment settings shared with Python's huggingface_hub.

import path from 'node:path';
import t from 'tap';
import { modelArg, type ModelArg } from '../../src/cli/serve-hub.js';
import { UsageError } from '../../src/cli/serve-options.js';
import { silentLogger } from '../../src/front/logger.js';
import { HubError } from '../../src/model/hub/errors.js';
import { availableQuants, indexShards, selectFiles, selectGguf } from '../../src/model/hub/select-files.js';
import { hubSettings } from '../../src/model/hub/settings.js';
import { hubSpecOf, parseHubSpec } from '../../src/model/hub/spec.js';
import { tempDir } from '../model/helpers.js';

t.test('hub ids: ORG/NAME[@REVISION][:QUANT]; other shapes are not hub ids', async (t) => {
  t.same(parseHubSpec('Qwen/Qwen3-0.6B'), { repo: 'Qwen/Qwen3-0.6B', revision: 'main', quant: null, given: 'Qwen/Qwen3-0.6B' });
  t.same(parseHubSpec('test-org/tiny@v1.0'), { repo: 'test-org/tiny', revision: 'v1.0', quant: null, given: 'test-org/tiny@v1.0' });
  t.same(parseHubSpec('unsloth/Qwen3-0.6B-GGUF:Q4_K_M'), { repo: 'unsloth/Qwen3-0.6B-GGUF', revision: 'main', quant: 'Q4_K_M', given: 'unsloth/Qwen3-0.6B-GGUF:Q4_K_M' });
  t.equal(parseHubSpec('a/b@refs/pr/3:q8_0')?.revision, 'refs/pr/3');
  t.equal(parseHubSpec('a/b@refs/pr/3:q8_0')?.quant, 'q8_0');
  for (const local of ['/abs/path', './rel/dir', 'model', 'a/b/c', '../up/x', 'a/..b', 'a/b.gguf/c', '.hidden/x', 'a/b@']) {
    t.equal(parseHubSpec(local), null, `${local} is not a hub id`);
  }
  // An existing folder of the same shape is local.
  const root = tempDir(t);
  const cwd = process.cwd();
  process.chdir(root);
  t.teardown(() => process.chdir(cwd));
  const { mkdirSync } = await import('node:fs');
  mkdirSync(path.join(root, 'models', 'qwen'), { recursive: true });
  t.equal(hubSpecOf('models/qwen'), null, 'an existing path wins');
  t.equal(hubSpecOf('models/other')?.repo, 'models/other');
});

const DECODER_REPO = ['.gitattributes', 'README.md', 'config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'pytorch_model.bin', 'original/consolidated.pth'];

t.test('a decoder repo: configs, tokenizer files and safetensors only', async (t) => {
  const s = selectFiles('o/r', DECODER_REPO, 'decoder', null);
  t.same(s, {
    kind: 'folder',
    files: ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'model.safetensors'],
    index: null,
  });
  const sharded = selectFiles('o/r', ['config.json', 'tokenizer.json', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'], 'decoder', null);
  t.same(sharded, { kind: 'folder', files: ['config.json', 'tokenizer.json', 'model.safetensors.index.json'], index: 'model.safetensors.index.json' });
  t.same(indexShards(JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors', c: 'model-00001-of-00002.safetensors' } }), 'idx'), [
    'model-00001-of-00002.safetensors',
    'model-00002-of-00002.safetensors',
  ]);
  t.throws(() => indexShards(JSON.stringify({ weight_map: { a: '../../etc/passwd.safetensors' } }), 'idx'), HubError);
});

t.test('an encoder repo: sentence-transformers files too, ONNX when there is no safetensors', async (t) => {
  const files = ['config.json', 'tokenizer.json', 'modules.json', '1_Pooling/config.json', '2_Normalize/config.json', 'sentence_bert_config.json', 'onnx/model.onnx', 'onnx/model_qint8.onnx', 'README.md'];
  t.same(selectFiles('o/e', [...files, 'model.safetensors'], 'encoder', null).files, [
    'config.json',
    'tokenizer.json',
    'modules.json',
    'sentence_bert_config.json',
    '1_Pooling/config.json',
    '2_Normalize/config.json',
    'model.safetensors',
  ]);
  t.same(selectFiles('o/e', files, 'encoder', null).files.filter((f) => f.includes('onnx')), ['onnx/model.onnx']);
});

t.test('no supported weights: the error lists what the repo has', async (t) => {
  const err = t.throws(() => selectFiles('o/bin', ['config.json', 'pytorch_model.bin', 'tokenizer.json'], 'decoder', null)) as Error;
  t.type(err, HubError);
  t.match(err.message, /o\/bin has no weights Serval can load/);
  t.match(err.message, /the repo has: config\.json, pytorch_model\.bin, tokenizer\.json$/);
});

const GGUF_REPO = [
  'README.md',
  'Qwen3-0.6B-Q4_K_M.gguf',
  'Qwen3-0.6B-Q8_0.gguf',
  'Qwen3-0.6B-UD-Q4_K_XL.gguf',
  'Qwen3-0.6B-F16-00001-of-00002.gguf',
  'Qwen3-0.6B-F16-00002-of-00002.gguf',
  'mmproj-Qwen3-F16.gguf',
];

t.test('GGUF: the quantisation label picks one file (or every shard of a split one)', async (t) => {
  t.same(selectFiles('o/g', GGUF_REPO, 'decoder', { quant: 'q4_k_m' }), { kind: 'gguf', files: ['Qwen3-0.6B-Q4_K_M.gguf'], entry: 'Qwen3-0.6B-Q4_K_M.gguf', quant: 'Q4_K_M' });
  t.same(selectGguf('o/g', GGUF_REPO, { quant: 'Q8_0' }).files, ['Qwen3-0.6B-Q8_0.gguf']);
  t.same(selectGguf('o/g', GGUF_REPO, { quant: 'UD-Q4_K_XL' }).files, ['Qwen3-0.6B-UD-Q4_K_XL.gguf']);
  const f16 = selectGguf('o/g', GGUF_REPO, { quant: 'F16' });
  t.same(f16.files, ['Qwen3-0.6B-F16-00001-of-00002.gguf', 'Qwen3-0.6B-F16-00002-of-00002.gguf'], 'the mmproj F16 file is not a candidate');
  t.equal(f16.kind === 'gguf' && f16.entry, 'Qwen3-0.6B-F16-00001-of-00002.gguf');
  t.same(selectGguf('o/g', GGUF_REPO, { file: 'Qwen3-0.6B-Q8_0.gguf' }).files, ['Qwen3-0.6B-Q8_0.gguf']);
  // No quantisation named and no safetensors: llama.cpp's default.
  t.same(selectFiles('o/g', GGUF_REPO, 'decoder', null).files, ['Qwen3-0.6B-Q4_K_M.gguf']);
});

t.test('GGUF: an unknown label lists the available quantisations', async (t) => {
  // Biggest first, in @huggingface/gguf's GGUF_QUANT_ORDER (Q4_K_XL ranks above Q4_K_M).
  t.same(availableQuants(GGUF_REPO), ['F16', 'Q8_0', 'UD-Q4_K_XL', 'Q4_K_M']);
  const err = t.throws(() => selectGguf('o/g', GGUF_REPO, { quant: 'Q2_K' })) as Error;
  t.equal(err.message, 'o/g has no Q2_K GGUF file; available quantisations: F16, Q8_0, UD-Q4_K_XL, Q4_K_M');
  t.match((t.throws(() => selectGguf('o/g', GGUF_REPO, { file: 'nope.gguf' })) as Error).message, /no GGUF file named 'nope\.gguf'; its GGUF files: Qwen3-0\.6B-Q4_K_M\.gguf/);
  t.match((t.throws(() => selectGguf('o/g', ['a-Q4_0.gguf', 'b-Q4_0.gguf'], { quant: 'Q4_0' })) as Error).message, /several GGUF files match \(a-Q4_0\.gguf, b-Q4_0\.gguf\); name one with --gguf-file/);
  t.match((t.throws(() => selectGguf('o/g', ['m-Q4_0-00001-of-00003.gguf', 'm-Q4_0-00002-of-00003.gguf'], { quant: 'Q4_0' })) as Error).message, /split into 3 parts but the repo has 2/);
  t.match((t.throws(() => selectFiles('o/e', GGUF_REPO, 'encoder', { quant: 'Q8_0' })) as Error).message, /GGUF embedding models are not supported/);
});

t.test('settings: HF_ENDPOINT, HF_TOKEN (or the login token file), HF_HUB_OFFLINE, HF_HOME / HF_HUB_CACHE', async (t) => {
  const home = tempDir(t);
  t.same(hubSettings({ HOME: home, HF_HOME: path.join(home, 'hf') }), { endpoint: 'https://huggingface.co', token: null, offline: false, cacheDir: path.join(home, 'hf', 'hub') });
  const s = hubSettings({ HF_HOME: home, HF_HUB_CACHE: '/elsewhere', HF_ENDPOINT: 'http://mirror.local:8080/', HF_TOKEN: 'hf_abc', HF_HUB_OFFLINE: 'True' });
  t.same(s, { endpoint: 'http://mirror.local:8080', token: 'hf_abc', offline: true, cacheDir: '/elsewhere' });
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(home, 'token'), 'hf_fromlogin\n');
  t.equal(hubSettings({ HF_HOME: home }).token, 'hf_fromlogin', 'the token `hf auth login` stored');
  t.throws(() => hubSettings({ HF_HOME: home, HF_TOKEN: 'abc' }), /must start with 'hf_'/);
  t.equal(hubSettings({ HF_HOME: home, HF_HUB_OFFLINE: '0' }).offline, false);
});

t.test('the id a model is served as: the hub id as given, a .gguf file without its extension, a folder by its name', async (t) => {
  const signal = new AbortController().signal;
  const arg = (a: string, gguf: string | null = null): ModelArg => modelArg(a, 'decoder', gguf, silentLogger, signal);
  t.match(arg('unsloth/Qwen3-0.6B-GGUF:Q4_K_M'), { id: 'unsloth/Qwen3-0.6B-GGUF:Q4_K_M' });
  t.type(arg('Qwen/Qwen3-0.6B').locate, 'function', 'a hub id is fetched when the server listens');
  t.same(arg('/models/Qwen3-0.6B-Q4_K_M.gguf'), { id: 'Qwen3-0.6B-Q4_K_M', dir: '/models/Qwen3-0.6B-Q4_K_M.gguf', locate: null });
  t.match(arg('/models/Llama-3.2-1B/'), { id: 'Llama-3.2-1B', locate: null });
  let thrown: unknown = null;
  try {
    arg('/models/x', 'a.gguf');
  } catch (error) {
    thrown = error;
  }
  t.ok(thrown instanceof UsageError, '--gguf-file with a local path is a usage error');
  t.match((thrown as Error).message, /--gguf-file needs --model to name a Hugging Face repo, but '\/models\/x' is a local path/);
  t.throws(() => arg('o/r:Q4_0', 'a.gguf'), /either ':Q4_0' in --model or --gguf-file/);
});
