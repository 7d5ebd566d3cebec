// POST /v1/embeddings end to end: real HTTP server, real encoder workers
// (onnxruntime), the built-in tiny encoder, and the official openai client.
// Every vector is checked against the TypeScript reference encoder.

import t from 'tap';
import { maxAbsDiff, norm, ReferenceEmbedder, sentences, startEmbeddingServer, tempDir, writeEncoder } from './helpers.js';

const TOLERANCE = 1e-5;
const MODEL = 'tiny-embed-test';

const tmp = await tempDir('serval-emb-http-');
const dir = await writeEncoder(`${tmp.dir}/${MODEL}`);
const reference = await ReferenceEmbedder.load(dir);
// A 10 ms window makes concurrent requests reliably share batches in this test.
const srv = await startEmbeddingServer(dir, { batchWindowMs: 10, maxBatchInputs: 32 });
t.teardown(async () => {
  await srv.close();
  await tmp.remove();
});

interface WireList {
  object: string;
  model: string;
  data: Array<{ object: string; index: number; embedding: number[] | string }>;
  usage: { prompt_tokens: number; total_tokens: number };
}

async function post(body: Record<string, unknown>): Promise<{ status: number; json: WireList & { error?: { message: string; param: string | null; code: string | null; type: string } } }> {
  const res = await fetch(`${srv.base}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as WireList & { error?: { message: string; param: string | null; code: string | null; type: string } } };
}

const decodeBase64 = (s: string): Float32Array => {
  const bytes = Buffer.from(s, 'base64');
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
};

t.test('/v1/models lists the encoder as an embedding model', async (t) => {
  const list = await srv.client.models.list();
  t.same(list.data.map((m) => m.id), [MODEL]);
});

t.test('float vectors equal the reference; usage counts every token', async (t) => {
  const input = ['hello world', 'the quick brown fox jumps over the lazy dog', 'a'];
  const { status, json } = await post({ model: MODEL, input, user: 'someone' });
  t.equal(status, 200);
  t.equal(json.object, 'list');
  t.equal(json.model, MODEL);
  let tokens = 0;
  for (const [i, text] of input.entries()) {
    const item = json.data[i];
    t.equal(item.index, i);
    t.equal(item.object, 'embedding');
    const expected = await reference.embed(text);
    tokens += (await reference.ids(text)).length;
    const d = maxAbsDiff(item.embedding as number[], expected);
    t.ok(d < TOLERANCE, `input ${i}: max |Δ| = ${d.toExponential(2)}`);
  }
  t.same(json.usage, { prompt_tokens: tokens, total_tokens: tokens });
});

t.test('base64 decodes to exactly the float vector', async (t) => {
  const input = ['base64 round trip', 'second one, a bit longer than the first'];
  const f = await post({ model: MODEL, input, encoding_format: 'float' });
  const b = await post({ model: MODEL, input, encoding_format: 'base64' });
  for (let i = 0; i < input.length; i++) {
    const decoded = decodeBase64(b.json.data[i].embedding as string);
    t.same(Array.from(decoded), f.json.data[i].embedding, `input ${i}: little-endian float32, bit for bit`);
  }
  t.same(b.json.usage, f.json.usage);
});

t.test('the openai client: embeddings.create in both encodings', async (t) => {
  const input = ['client check one', 'client check two, longer'];
  const viaBase64 = await srv.client.embeddings.create({ model: MODEL, input }); // the SDK asks for base64 by default
  const viaFloat = await srv.client.embeddings.create({ model: MODEL, input, encoding_format: 'float' });
  t.equal(viaBase64.data.length, 2);
  for (let i = 0; i < input.length; i++) {
    t.same(viaBase64.data[i].embedding, viaFloat.data[i].embedding, `input ${i}: SDK-decoded base64 equals float`);
    const d = maxAbsDiff(viaFloat.data[i].embedding, await reference.embed(input[i]));
    t.ok(d < TOLERANCE, `input ${i} vs reference: ${d.toExponential(2)}`);
  }
  t.equal(viaFloat.usage.prompt_tokens, viaFloat.usage.total_tokens);
});

t.test('dimensions = k: k values, unit norm, the re-normalised prefix of the full vector', async (t) => {
  const text = 'matryoshka style truncation';
  const full = (await post({ model: MODEL, input: text })).json.data[0].embedding as number[];
  for (const k of [1, 16, 63, 64]) {
    const r = await srv.client.embeddings.create({ model: MODEL, input: text, dimensions: k, encoding_format: 'float' });
    const v = r.data[0].embedding;
    t.equal(v.length, k);
    t.ok(Math.abs(norm(v) - 1) < 1e-6, `k=${k}: ‖v‖ = ${norm(v)}`);
    const prefix = full.slice(0, k);
    const scale = norm(prefix);
    t.ok(maxAbsDiff(v, prefix.map((x) => x / scale)) < 1e-6, `k=${k}: same direction as the first k values`);
  }
  const tooMany = await post({ model: MODEL, input: text, dimensions: 65 });
  t.equal(tooMany.status, 400);
  t.equal(tooMany.json.error?.param, 'dimensions');
  t.match(tooMany.json.error?.message, /64 dimensions/);
});

t.test('100 mixed-length inputs: order preserved, each equal to its reference', async (t) => {
  const input = sentences(100, 40, 7);
  const r = await srv.client.embeddings.create({ model: MODEL, input, encoding_format: 'float' });
  t.same(r.data.map((d) => d.index), input.map((_, i) => i));
  let worst = 0;
  let tokens = 0;
  for (const [i, text] of input.entries()) {
    worst = Math.max(worst, maxAbsDiff(r.data[i].embedding, await reference.embed(text)));
    tokens += (await reference.ids(text)).length;
  }
  t.ok(worst < TOLERANCE, `max |Δ| over 100 inputs = ${worst.toExponential(2)}`);
  t.equal(r.usage.prompt_tokens, tokens);
});

t.test('identical inputs give identical vectors, alone and in a batch', async (t) => {
  const text = 'the same sentence every time';
  const alone = (await post({ model: MODEL, input: text })).json.data[0].embedding as number[];
  const batch = [text, ...sentences(20, 60, 3), text, 'short', text];
  const r = (await post({ model: MODEL, input: batch })).json;
  const copies = [0, 21, 23].map((i) => r.data[i].embedding as number[]);
  t.same(copies[1], copies[0], 'duplicates within one batch are bit-identical');
  t.same(copies[2], copies[0]);
  // Padding to a longer row changes ORT's summation order, so equality across
  // batch shapes holds to float32 rounding, not bit for bit.
  const d = maxAbsDiff(copies[0], alone);
  t.ok(d < 1e-6, `alone vs padded in a batch: max |Δ| = ${d.toExponential(2)}`);
  const again = (await post({ model: MODEL, input: text })).json.data[0].embedding as number[];
  t.same(again, alone, 'the same request twice is bit-identical');
});

t.test('token-id inputs: one array, and an array of arrays', async (t) => {
  const a = await reference.ids('token ids work too');
  const b = await reference.ids('and a second sequence');
  const one = await post({ model: MODEL, input: a });
  t.equal(one.status, 200);
  t.ok(maxAbsDiff(one.json.data[0].embedding as number[], reference.embedIds(a)) < TOLERANCE);
  t.equal(one.json.usage.prompt_tokens, a.length);
  const two = await post({ model: MODEL, input: [a, b] });
  t.ok(maxAbsDiff(two.json.data[1].embedding as number[], reference.embedIds(b)) < TOLERANCE);
  t.equal(two.json.usage.prompt_tokens, a.length + b.length);
  const text = await post({ model: MODEL, input: 'token ids work too' });
  t.same(text.json.data[0].embedding, one.json.data[0].embedding, 'ids and their text give the same vector');
  const outside = await post({ model: MODEL, input: [5, 1024] });
  t.equal(outside.status, 400);
  t.match(outside.json.error?.message, /1024/);
});

t.test('inputs longer than max_seq_length: 400, unless truncate_prompt_tokens asks for truncation', async (t) => {
  const long = sentences(1, 1, 1)[0] + ' serval'.repeat(200);
  const ids = await reference.ids(long);
  t.ok(ids.length > 128, `the input has ${ids.length} tokens`);
  const refused = await post({ model: MODEL, input: ['fine', long] });
  t.equal(refused.status, 400);
  t.equal(refused.json.error?.type, 'invalid_request_error');
  t.equal(refused.json.error?.code, 'context_length_exceeded');
  t.equal(refused.json.error?.param, 'input');
  t.match(refused.json.error?.message, /maximum input length is 128 tokens.*input\[1\] has \d+ tokens/);

  const cut = await post({ model: MODEL, input: long, truncate_prompt_tokens: -1 });
  t.equal(cut.status, 200);
  t.equal(cut.json.usage.prompt_tokens, 128);
  const expectedIds = [...ids.slice(0, 127), ids[ids.length - 1]]; // [CLS] + first 126 tokens + [SEP]
  t.ok(maxAbsDiff(cut.json.data[0].embedding as number[], reference.embedIds(expectedIds)) < TOLERANCE, 'equals the reference on [CLS] … [SEP] truncated ids');

  const ten = await post({ model: MODEL, input: [long, 'short one'], truncate_prompt_tokens: 10 });
  const shortIds = await reference.ids('short one');
  t.equal(ten.json.usage.prompt_tokens, 10 + Math.min(10, shortIds.length));
  const two = await post({ model: MODEL, input: 'hello world', truncate_prompt_tokens: 2 });
  const helloIds = await reference.ids('hello world');
  const specialsOnly = [helloIds[0], helloIds[helloIds.length - 1]]; // [CLS] [SEP]: no room for text
  t.equal(two.json.usage.prompt_tokens, 2);
  t.ok(maxAbsDiff(two.json.data[0].embedding as number[], reference.embedIds(specialsOnly)) < TOLERANCE, 'k = number of special tokens keeps exactly [CLS] [SEP]');
  const zero = await post({ model: MODEL, input: 'x', truncate_prompt_tokens: 0 });
  t.equal(zero.status, 400);
  t.equal(zero.json.error?.param, 'truncate_prompt_tokens');
});

t.test('concurrent requests share forward passes', async (t) => {
  const stats = srv.model.backend.model.batcher.stats;
  const before = stats.batches;
  const texts = sentences(24, 30, 11);
  const results = await Promise.all(texts.map((text) => post({ model: MODEL, input: text })));
  const batches = stats.batches - before;
  t.ok(batches < texts.length, `${texts.length} requests ran in ${batches} forward passes`);
  for (const [i, r] of results.entries()) {
    t.ok(maxAbsDiff(r.json.data[0].embedding as number[], await reference.embed(texts[i])) < TOLERANCE, `request ${i} got its own vector`);
  }
});

t.test('a client that disconnects drops its inputs that have not run', async (t) => {
  const batcher = srv.model.backend.model.batcher;
  const before = { ...batcher.stats };
  const input = sentences(2048, 60, 13);
  const controller = new AbortController();
  const request = fetch(`${srv.base}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, input }),
    signal: controller.signal,
  });
  request.catch(() => undefined);
  // Abort once the first forward has started.
  for (let i = 0; i < 2000 && batcher.stats.batches === before.batches; i++) await new Promise((r) => setTimeout(r, 2));
  controller.abort();
  await t.rejects(request, { name: 'AbortError' });
  for (let i = 0; i < 500 && batcher.pendingCount > 0; i++) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 200)); // let batches already running finish
  t.equal(batcher.pendingCount, 0, 'nothing of the request is left waiting');
  const ran = batcher.stats.rows - before.rows;
  t.ok(ran < input.length, `${ran} of ${input.length} inputs ran before the disconnect`);
  const after = await post({ model: MODEL, input: 'still serving' });
  t.equal(after.status, 200, 'the server keeps serving');
});
