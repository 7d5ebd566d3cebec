// Hostile clients against the real engine (tiny model, 4 slots): one request
// with many prompts and clients sending distinct JSON schemas must not hold a
// later small request back; --max-prompts refuses larger prompt lists; a
// grammar compile nobody waits for any more is dropped. Latency bounds here
// are generous sanity bounds; the figures are in bench/soak.ts.

import t from 'tap';
import { metricValue, MODEL_ID, startRealServer } from '../e2e/harness.js';
import { post, sleep } from './helpers.js';

// Compiles of these schemas take tens of ms with the tiny vocabulary; the test hook makes each block
// its worker for 1 s, as a large schema's compile does with a real vocabulary, so the backlog is real.
process.env.SERVAL_TEST_HOOKS = '1';
process.env.SERVAL_TEST_COMPILE_DELAY_MS = '1000';
const served = await startRealServer({ maxBatchSize: 4, intraOpThreads: 1, testHooks: true }, 'tiny', { maxConcurrency: 16, limits: { maxN: 16, maxPrompts: 32 } });
t.teardown(() => served.close());
const { base } = served;

/** Streams a request; resolves with when its first content frame and its end arrived (ms from the call). */
async function timed(route: string, body: Record<string, unknown>): Promise<{ status: number; firstMs: number; endMs: number }> {
  const start = performance.now();
  const res = await post(base, route, JSON.stringify({ model: MODEL_ID, stream: true, ...body }));
  let firstMs = Number.NaN;
  const reader = res.body!.getReader();
  for (;;) {
    const { done } = await reader.read();
    if (Number.isNaN(firstMs)) firstMs = performance.now() - start;
    if (done) break;
  }
  return { status: res.status, firstMs, endMs: performance.now() - start };
}

const canary = (): Promise<{ status: number; firstMs: number; endMs: number }> =>
  timed('/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });

/** A distinct object schema of `fields` properties: each compiles anew. */
const schema = (tag: string, fields: number): Record<string, unknown> => ({
  type: 'object',
  properties: Object.fromEntries(Array.from({ length: fields }, (_, i) => [`${tag}_${i}`, i % 2 === 0 ? { type: 'integer' } : { type: 'string', maxLength: 8 }])),
  required: [`${tag}_0`],
  additionalProperties: false,
});
const structured = (tag: string, fields: number): Record<string, unknown> => ({
  messages: [{ role: 'user', content: 'json' }],
  max_tokens: 8,
  response_format: { type: 'json_schema', json_schema: { name: tag, schema: schema(tag, fields) } },
});

t.test('more prompts than --max-prompts: 400 on prompt', async (t) => {
  const res = await post(base, '/v1/completions', JSON.stringify({ model: MODEL_ID, prompt: Array.from({ length: 33 }, () => 'a'), max_tokens: 1 }));
  const body = (await res.json()) as { error: { param: string; message: string } };
  t.equal(res.status, 400);
  t.equal(body.error.param, 'prompt');
  t.match(body.error.message, /at most 32/);
});

t.test('a canary is served while one request runs 32 prompts on 4 slots', async (t) => {
  const big = timed('/v1/completions', { prompt: Array.from({ length: 32 }, (_, i) => `The serval ${i}`), max_tokens: 48, ignore_eos: true, temperature: 0 });
  await sleep(200);
  const small = await canary();
  const whole = await big;
  t.equal(whole.status, 200);
  t.equal(small.status, 200);
  t.comment(`canary first token ${small.firstMs.toFixed(0)} ms, done ${small.endMs.toFixed(0)} ms; the 32-prompt request took ${whole.endMs.toFixed(0)} ms`);
  // Before: the canary waited for all 32 (8 rounds of 4 slots × 48 tokens); now for about one round.
  t.ok(small.endMs + 200 < whole.endMs * 0.75, 'the canary finished well before the large request');
  t.ok(small.firstMs < 5000, 'sanity bound on the canary time to first token');
});

t.test('a canary is served while 4 clients send distinct schemas', async (t) => {
  const clients = Array.from({ length: 4 }, (_, i) => timed('/v1/chat/completions', structured(`fair${i}`, 10)));
  await sleep(400); // the schemas reach the engine (the front turns each into a grammar first)
  const small = await canary();
  const results = await Promise.all(clients);
  for (const r of results) t.equal(r.status, 200);
  const lastFirst = Math.max(...results.map((r) => r.firstMs)) - 400;
  t.comment(`canary first token ${small.firstMs.toFixed(0)} ms; last schema client's first token ${lastFirst.toFixed(0)} ms`);
  // Before: the compiles ran inside the step that admitted them, so the canary came after all of them.
  t.ok(small.firstMs < lastFirst, 'the canary overtook the grammar backlog');
  t.ok(small.firstMs < 5000, 'sanity bound on the canary time to first token');
});

t.test('a compile nobody waits for is dropped', async (t) => {
  const scrape = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();
  const before = metricValue(await scrape(), 'serval:grammar_compiles_cancelled_total');
  t.ok(Number.isFinite(before), 'the cancelled-compiles counter is exported');
  /** Polls /metrics until `ok` holds of the scrape (10 s at most); returns the last scrape. */
  const scrapeUntil = async (ok: (text: string) => boolean): Promise<string> => {
    const until = Date.now() + 10_000;
    let text = await scrape();
    while (!ok(text) && Date.now() < until) {
      await sleep(20);
      text = await scrape();
    }
    return text;
  };
  const first = timed('/v1/chat/completions', structured('keep', 10));
  // 'keep' compiles first (the hook blocks the worker for a second), whatever the machine's load.
  const keeping = await scrapeUntil((text) => metricValue(text, 'serval:grammar_compiles_running') === 1);
  t.equal(metricValue(keeping, 'serval:grammar_compiles_running'), 1, "'keep' is compiling");
  const leavers = [0, 1].map((i) => {
    const controller = new AbortController();
    const body = JSON.stringify({ model: MODEL_ID, stream: true, ...structured(`gone${i}`, 10) });
    const done = fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: controller.signal }).catch(() => null);
    return { controller, done };
  });
  const queued = await scrapeUntil((text) => metricValue(text, 'serval:grammar_compiles_queued') >= 2);
  t.equal(metricValue(queued, 'serval:grammar_compiles_queued'), 2, "both leavers' compiles wait behind 'keep'");
  t.equal(metricValue(queued, 'serval:grammar_compiles_running'), 1, "'keep' still compiles");
  for (const leaver of leavers) leaver.controller.abort();
  await Promise.all(leavers.map((leaver) => leaver.done));
  t.equal((await first).status, 200);
  // The counters reach /metrics with the engine's next snapshots (every 200 ms).
  const text = await scrapeUntil((scraped) => metricValue(scraped, 'serval:grammar_compiles_cancelled_total') - before >= 2 && metricValue(scraped, 'serval:grammar_compiles_queued') === 0);
  t.equal(metricValue(text, 'serval:grammar_compiles_cancelled_total') - before, 2, 'both queued compiles were dropped');
  t.equal(metricValue(text, 'serval:grammar_compiles_queued'), 0, 'no backlog left');
});
