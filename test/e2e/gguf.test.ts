// `--model file.gguf` through the real server: a GGUF written from a
// make-model checkpoint generates exactly what the checkpoint's safetensors
// folder generates (greedy, chat and plain completions); the tiny llama GGUF
// from ../shared (SentencePiece vocabulary) loads and generates; an
// unsupported architecture or weight type fails at startup naming it.

import '../support/thread-loaders.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { GGUFValueType } from '@huggingface/gguf';
import { startServer, type RunningServer } from '../../src/front/start-server.js';
import { loadModel } from '../../src/model/load-model.js';
import { writeGguf, writeGgufFromFolder } from '../../src/model/testmodels/write-gguf.js';
import { DECODER_PRESETS } from '../../src/model/testmodels/presets.js';
import { randomDecoderWeights } from '../../src/model/testmodels/random-weights.js';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { tempDir } from '../model/helpers.js';
import { testTransport } from '../support/transport.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SHARED_GGUF = path.join(repoRoot, '..', 'shared', 'models', 'gguf', 'ollama-llama-2-tiny-random', 'llama-2-tiny-random.gguf');

async function serve(modelDir: string, id: string): Promise<RunningServer> {
  return startServer({
    chat: { id, engine: { modelDir, maxBatchSize: 4 } },
    embedding: null,
    http: { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 20, transport: testTransport() },
  });
}

async function post(server: RunningServer, route: string, body: unknown): Promise<Record<string, any>> {
  const res = await fetch(`http://127.0.0.1:${server.port}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, any>;
  if (res.status !== 200) throw new Error(`${route}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Greedy replies to a chat and a plain prompt; the chat's tokens as bytes (a random model writes many U+FFFD). */
async function greedy(server: RunningServer, id: string): Promise<unknown[]> {
  const messages = [{ role: 'user', content: 'Tell me about serval cats.' }];
  const chat = await post(server, '/v1/chat/completions', { model: id, messages, max_tokens: 16, temperature: 0, logprobs: true });
  const plain = await post(server, '/v1/completions', { model: id, prompt: 'Once upon a time', max_tokens: 16, temperature: 0 });
  const tokens = (chat.choices[0].logprobs.content as { bytes: number[] }[]).map((c) => c.bytes);
  return [chat.choices[0].message.content, plain.choices[0].text, tokens, chat.usage.prompt_tokens];
}

t.test('greedy output from a GGUF equals the same model as a safetensors folder', async (t) => {
  const dir = tempDir(t);
  const folder = path.join(dir, 'tiny');
  await writeTestModel('tiny', folder);
  const file = path.join(dir, 'tiny-F32.gguf');
  await writeGgufFromFolder(folder, file, 'F32');

  const fromFolder = await serve(folder, 'tiny');
  const want = await greedy(fromFolder, 'tiny').finally(() => fromFolder.close());
  const fromGguf = await serve(file, 'tiny-F32');
  t.teardown(() => fromGguf.close());
  const models = (await (await fetch(`http://127.0.0.1:${fromGguf.port}/v1/models`)).json()) as { data: { id: string }[] };
  t.same(models.data.map((m) => m.id), ['tiny-F32']);
  t.equal(fromGguf.chat?.summary.format, 'gguf');
  const got = await greedy(fromGguf, 'tiny-F32');
  t.equal((want[2] as unknown[]).length, 16, '16 chat tokens');
  t.same(got, want, 'chat (template from tokenizer.chat_template): text, token bytes, prompt length; plain completion text');
});

t.test('the tiny llama GGUF from ../shared loads and generates', { skip: existsSync(SHARED_GGUF) ? false : `${SHARED_GGUF} not found (../shared absent)` }, async (t) => {
  const server = await serve(SHARED_GGUF, 'llama-2-tiny-random');
  t.teardown(() => server.close());
  t.equal(server.chat?.summary.architecture, 'llama (LlamaForCausalLM)');
  t.same(server.chat?.summary.weightTypes, { embedding: 'F16', norms: 'F32', attention: 'F16', mlp: 'F16', output: 'F16' });
  const reply = await post(server, '/v1/completions', { model: 'llama-2-tiny-random', prompt: 'Hello world', max_tokens: 8, temperature: 0 });
  t.equal(reply.usage.completion_tokens, 8, '8 tokens generated');
  t.equal(reply.usage.prompt_tokens, 3, 'SentencePiece: <s> ▁Hello ▁world');
  t.type(reply.choices[0].text, 'string');
});

t.test('an unsupported architecture fails at startup naming it', async (t) => {
  const file = path.join(tempDir(t), 'falcon.gguf');
  const config = DECODER_PRESETS.tiny;
  await writeGguf(file, config, randomDecoderWeights(config, 1), { arch: 'llama', type: 'F32', metadata: { 'general.architecture': { value: 'falcon', type: GGUFValueType.STRING } } });
  await t.rejects(serve(file, 'falcon'), /general\.architecture: unsupported architecture "falcon" \(supported: llama, qwen2, qwen3\)/);
});

t.test('an unsupported weight type fails at load naming the tensor and the type', async (t) => {
  const file = path.join(tempDir(t), 'iq2.gguf');
  const config = DECODER_PRESETS.tiny;
  await writeGguf(file, config, randomDecoderWeights(config, 1), { arch: 'llama', type: 'F32' });
  // Rewrite blk.0.attn_v.weight's type id in its tensor info (name, n_dims u32, 2 × u64 dims, type u32).
  const bytes = readFileSync(file);
  const name = Buffer.from('blk.0.attn_v.weight');
  const at = bytes.indexOf(name) + name.length + 4 + 16;
  t.equal(bytes.readUInt32LE(at), 0, 'found the F32 type field');
  bytes.writeUInt32LE(16 /* IQ2_XXS */, at);
  writeFileSync(file, bytes);
  await t.rejects(loadModel(file), /blk\.0\.attn_v\.weight: unsupported weight type IQ2_XXS \(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K\)/);
});
