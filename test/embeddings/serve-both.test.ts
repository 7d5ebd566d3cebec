// `serval serve` as users run it (a child process): with no flags it serves
// the built-in chat model and the built-in encoder together, routes requests
// by model and refuses a model of the wrong kind; --model none serves
// embeddings only; a classifier given as --embedding-model stops startup with
// a message that says why.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import t from 'tap';
import { ExitedBeforeReady, startChildServer, type ChildServer } from '../ops/child-server.js';
import { tempDir, writeEncoder } from './helpers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const optimumDir = path.resolve(repoRoot, '..', 'shared', 'models', 'onnx', 'optimum-tiny-distilbert-cls');

/** The CLI on a free port with its own model cache, and an SDK client for it. */
async function serve(args: string[], cacheDir: string): Promise<ChildServer & { client: OpenAI }> {
  const server = await startChildServer(['--log-level', 'info', ...args], { SERVAL_CACHE_DIR: cacheDir });
  return { ...server, client: new OpenAI({ baseURL: `${server.base}/v1`, apiKey: 'x', maxRetries: 0 }) };
}

const cache = await tempDir('serval-emb-cache-');
t.teardown(cache.remove);

t.test('no flags: the built-in chat model and the built-in encoder, side by side', async (t) => {
  const s = await serve([], cache.dir);
  t.teardown(() => s.stop());
  const models = await s.client.models.list();
  t.same(models.data.map((m) => m.id).sort(), ['serval-small-chat', 'serval-tiny-embed']);

  const emb = await s.client.embeddings.create({ model: 'serval-tiny-embed', input: ['hello', 'world'] });
  t.equal(emb.data.length, 2);
  t.equal(emb.data[0].embedding.length, 64);

  const chat = await s.client.chat.completions.create({ model: 'serval-small-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  t.equal(chat.choices.length, 1);
  t.equal(chat.usage?.completion_tokens, 2);

  await t.rejects(
    s.client.chat.completions.create({ model: 'serval-tiny-embed', messages: [{ role: 'user', content: 'hi' }] }),
    { status: 400, message: /'serval-tiny-embed' is an embedding model; use \/v1\/embeddings/ },
  );
  await t.rejects(s.client.completions.create({ model: 'serval-tiny-embed', prompt: 'hi' }), { status: 400, message: /embedding model/ });
  await t.rejects(s.client.embeddings.create({ model: 'serval-small-chat', input: 'hi' }), {
    status: 400,
    message: /'serval-small-chat' is a chat model; use \/v1\/chat\/completions/,
  });
  t.equal(await s.stop(), 0, 'SIGTERM shuts down cleanly');
});

t.test('--model none --embedding-model DIR --embedding-model-name: embeddings only', async (t) => {
  const dir = await writeEncoder(path.join(cache.dir, 'my-encoder'));
  const s = await serve(['--model', 'none', '--embedding-model', dir, '--embedding-model-name', 'acme/embed-small', '--embedding-batch-window-ms', '0'], cache.dir);
  t.teardown(() => s.stop());
  const models = await s.client.models.list();
  t.same(models.data.map((m) => m.id), ['acme/embed-small']);
  const r = await s.client.embeddings.create({ model: 'acme/embed-small', input: 'x', encoding_format: 'float' });
  t.equal(r.data[0].embedding.length, 64);
  await t.rejects(s.client.chat.completions.create({ model: 'serval-small-chat', messages: [{ role: 'user', content: 'hi' }] }), { status: 404, message: /does not exist/ });
});

t.test('a classifier as --embedding-model: startup fails and says why', { skip: existsSync(optimumDir) ? false : 'reason: ../shared absent' }, async (t) => {
  const error = await serve(['--model', 'none', '--embedding-model', optimumDir], cache.dir).then(
    async (s) => {
      await s.stop();
      return null;
    },
    (e: unknown) => e,
  );
  t.ok(error instanceof ExitedBeforeReady, `the server does not become ready (${String(error)})`);
  const exited = error as ExitedBeforeReady;
  t.equal(exited.code, 1, 'exit code 1');
  t.match(exited.output, /not an embedding model/);
  t.match(exited.output, /DistilBertForSequenceClassification/);
});
