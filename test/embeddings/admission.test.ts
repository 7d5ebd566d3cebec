// An embeddings flood against a small token budget (a scaled-down version of
// 16 concurrent requests of 2,048 texts): while the budget is taken, the
// requests beyond its queue get 429 + Retry-After, the queued ones complete once it frees, /health
// answers quickly meanwhile and RSS stays bounded; more inputs than
// --max-embedding-inputs get 400 on 'input'.

import t from 'tap';
import { sentences, startEmbeddingServer, tempDir, writeEncoder } from './helpers.js';

const tmp = await tempDir('serval-embed-admission-');
t.teardown(tmp.remove);
await writeEncoder(tmp.dir);
// Each flood request estimates 256 inputs × 128 tokens (max_seq_length) = 32,768: larger than the budget, so one runs at a time.
const server = await startEmbeddingServer(tmp.dir, { maxTokensInFlight: 16_384, maxQueue: 2, maxInputs: 300 });
t.teardown(() => server.close());
const model = server.model.backend.model.id;

const post = (body: Record<string, unknown>): Promise<Response> =>
  fetch(`${server.base}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, ...body }) });

/** ~800 characters each (~260 tokens before truncation), as in the reported flood. */
const longTexts = (seed: number): string[] => sentences(256, 16, seed).map((s) => `${s} `.repeat(800 / (s.length + 1) + 1).slice(0, 800));

t.test('more inputs than --max-embedding-inputs: 400 on input', async (t) => {
  const res = await post({ input: Array.from({ length: 301 }, () => 'a') });
  const body = (await res.json()) as { error: { param: string; message: string } };
  t.equal(res.status, 400);
  t.equal(body.error.param, 'input');
  t.match(body.error.message, /at most 300/);
});

t.test('a flood: excess requests get 429 at once, /health stays fast, RSS bounded', async (t) => {
  // The test holds the whole budget itself, so nothing the flood sends can finish (and free a
  // queue place) while its requests arrive, however slowly a loaded machine parses them.
  const admission = server.model.backend.model.admission;
  const held = await admission.enter(16_384, new AbortController().signal);
  const rssBefore = process.memoryUsage().rss;
  let refusedSoFar = 0;
  const flood = Array.from({ length: 16 }, async (_, i) => {
    const res = await post({ input: longTexts(i + 1), truncate_prompt_tokens: -1 });
    const body = (await res.json()) as { data?: unknown[]; error?: { type: string } };
    if (res.status === 429) refusedSoFar += 1;
    return { status: res.status, retryAfter: res.headers.get('retry-after'), count: body.data?.length ?? 0 };
  });
  const healthStart = performance.now();
  await sleep(50);
  const health = await fetch(`${server.base}/health`);
  const healthMs = performance.now() - healthStart - 50;
  t.equal(health.status, 200);
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  for (let i = 0; i < 1000 && refusedSoFar < 14; i++) await sleep(10);
  t.equal(refusedSoFar, 14, 'all but the two the queue holds are refused while the budget is taken');
  t.equal(admission.queued, 2, 'two wait in the queue (its bound)');
  held.release();
  const results = await Promise.all(flood);
  clearInterval(sampler);
  const refused = results.filter((r) => r.status === 429);
  const served = results.filter((r) => r.status === 200);
  t.comment(`${served.length} served, ${refused.length} refused; /health ${healthMs.toFixed(0)} ms; RSS +${((peak - rssBefore) / 2 ** 20).toFixed(0)} MiB at peak`);
  t.equal(served.length + refused.length, 16, 'every request is served or refused');
  t.equal(served.length, 2, 'the two queued are served once the budget frees');
  t.ok(served.every((r) => r.count === 256), 'each served request has all its embeddings');
  t.ok(refused.every((r) => Number(r.retryAfter) >= 1), 'refusals carry Retry-After');
  t.ok(healthMs < 2000, `/health answers under the flood (${healthMs.toFixed(0)} ms; a generous bound for a loaded machine)`);
  t.ok(peak - rssBefore < 250 * 2 ** 20, 'RSS grows less than 250 MiB (before admission and chunked tokenization: ~390)');
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
