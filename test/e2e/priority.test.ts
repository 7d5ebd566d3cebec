// The `priority` request field (chat, completions, responses) against real
// Serval servers (real engine, tokenizer and HTTP): refused with 400 on 'priority' when out of range, not
// an integer, or non-zero under the default fcfs policy; accepted and served
// under --scheduling-policy priority, where a later urgent request overtakes
// earlier ones both in the scheduler (one KV slot) and in the front's
// admission queue (one sequence at a time). No timing assumptions: every
// ordering step waits for the state it needs.

import t, { type Test } from 'tap';
import type { EngineEvent } from '../../src/engine/client/engine.js';
import { MODEL_ID, startRealServer, type RealServer } from './harness.js';

interface ErrorBody {
  error: { type: string; param: string | null; code: string | null; message: string };
}

async function post(base: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
}

const chat = (extra: Record<string, unknown>) => ({ model: MODEL_ID, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4, ...extra });
const completion = (extra: Record<string, unknown>) => ({ model: MODEL_ID, prompt: 'Serval cats', max_tokens: 4, ...extra });
const responses = (extra: Record<string, unknown>) => ({ model: MODEL_ID, input: 'Hello', max_output_tokens: 4, ...extra });

async function expect400(t: Test, base: string, path: string, body: unknown, message: RegExp): Promise<void> {
  const res = await post(base, path, body);
  const json = (await res.json()) as ErrorBody;
  t.equal(res.status, 400, `${path} ${JSON.stringify((body as { priority: unknown }).priority)}: 400`);
  t.equal(json.error.type, 'invalid_request_error');
  t.equal(json.error.param, 'priority');
  t.match(json.error.message, message);
}

async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const until = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const notEnabled = /priority scheduling is not enabled/;
const outOfRange = /Invalid value for 'priority'/;
const notInteger = /Invalid type for 'priority': expected integer/;

t.test('fcfs (the default): a non-zero, out-of-range or non-integer priority is a 400 on priority; 0 and null serve', async (t) => {
  const served = await startRealServer({ maxBatchSize: 2 });
  t.teardown(() => served.close());
  const { base } = served;
  for (const [path, body] of [['/v1/chat/completions', chat], ['/v1/completions', completion], ['/v1/responses', responses]] as const) {
    await expect400(t, base, path, body({ priority: 1 }), notEnabled);
    await expect400(t, base, path, body({ priority: -1, stream: true }), notEnabled);
    await expect400(t, base, path, body({ priority: 2 ** 31 }), outOfRange);
    await expect400(t, base, path, body({ priority: -(2 ** 31) - 1 }), outOfRange);
    await expect400(t, base, path, body({ priority: 1.5 }), notInteger);
    await expect400(t, base, path, body({ priority: '1' }), notInteger);
    for (const priority of [0, null]) {
      const res = await post(base, path, body({ priority }));
      t.equal(res.status, 200, `${path} priority ${priority}: served`);
      t.ok(((await res.json()) as { usage: object }).usage, 'with usage');
    }
  }
  t.throws(() => served.model.engine.checkPriority(3), { status: 400, param: 'priority', message: notEnabled }, 'the library API refuses it too');
});

t.test('--scheduling-policy priority: any 32-bit priority is served; the range still holds', async (t) => {
  const served = await startRealServer({ maxBatchSize: 2, schedulingPolicy: 'priority' });
  t.teardown(() => served.close());
  const { base } = served;
  for (const priority of [-(2 ** 31), -3, 0, 7, 2 ** 31 - 1]) {
    const res = await post(base, '/v1/chat/completions', chat({ priority, ignore_eos: true }));
    t.equal(res.status, 200, `chat priority ${priority}`);
    const body = (await res.json()) as { choices: { message: { content: string }; finish_reason: string }[]; usage: { completion_tokens: number } };
    // ignore_eos: a sampled end token cannot cut it short, so 4 is exact.
    t.same([body.usage.completion_tokens, body.choices[0].finish_reason], [4, 'length'], `chat priority ${priority}: every token arrived`);
    const streamed = await post(base, '/v1/completions', completion({ priority, stream: true }));
    t.equal(streamed.status, 200, `completions stream priority ${priority}`);
    t.match(await streamed.text(), /data: \[DONE\]/);
  }
  const viaResponses = await post(base, '/v1/responses', responses({ priority: -4 }));
  t.equal(viaResponses.status, 200, 'the Responses route takes it too');
  t.match(((await viaResponses.json()) as { status: string }).status, /^(completed|incomplete)$/);
  await expect400(t, base, '/v1/completions', completion({ priority: 2 ** 31 }), outOfRange);
  await expect400(t, base, '/v1/chat/completions', chat({ priority: 0.5 }), notInteger);
});

/**
 * `served` has one KV slot. A long request takes it; then `queued` requests
 * are submitted in order while it runs, and it is cancelled: the order in
 * which the queued ones finish is the scheduler's admission order.
 */
async function finishOrder(served: RealServer, queued: { name: string; priority: number }[]): Promise<string[]> {
  const { engine, tokenizer } = served.model;
  const prompt = await tokenizer.encode('Serval cats hunt at dusk.', { addSpecialTokens: true });
  const hog = new AbortController();
  const first = engine.generate(prompt, { maxTokens: engine.maxModelLen - prompt.length, ignoreEos: true }, hog.signal);
  const started = await first.next();
  if (started.done || started.value.type !== 'tokens') throw new Error('the long request did not start');
  const order: string[] = [];
  const runs = queued.map(async ({ name, priority }) => {
    let last: EngineEvent | null = null;
    for await (const event of engine.generate(prompt, { maxTokens: 3, ignoreEos: true }, undefined, { priority })) last = event;
    if (last?.type !== 'finished' || last.reason !== 'length') throw new Error(`${name} ended with ${JSON.stringify(last)}`);
    order.push(name);
  });
  // The submits and this cancel cross the ring to the actor in this order: all of them wait before the slot frees.
  hog.abort();
  await Promise.all(runs);
  return order;
}

t.test('one KV slot, priority policy: a later high-priority request runs before earlier ones', async (t) => {
  const served = await startRealServer({ maxBatchSize: 1, schedulingPolicy: 'priority' });
  t.teardown(() => served.close());
  const queued = [
    { name: 'low', priority: 5 },
    { name: 'b', priority: 0 },
    { name: 'c', priority: 0 },
    { name: 'urgent', priority: -1 },
  ];
  t.same(await finishOrder(served, queued), ['urgent', 'b', 'c', 'low'], 'by priority, then arrival');
  const equal = queued.map((q) => ({ ...q, priority: 0 }));
  t.same(await finishOrder(served, equal), ['low', 'b', 'c', 'urgent'], 'equal priorities: arrival order');
});

t.test('front admission queue (one sequence at a time): a queued request goes by priority', async (t) => {
  const served = await startRealServer({ maxBatchSize: 1, schedulingPolicy: 'priority' }, 'tiny', { maxConcurrency: 1, maxQueue: 8 });
  t.teardown(() => served.close());
  const { base, server } = served;
  const admission = (): { active: number; queued: number } => server.admission() ?? { active: -1, queued: -1 };
  const hog = new AbortController();
  const long = await post(base, '/v1/completions', completion({ max_tokens: 900, ignore_eos: true, stream: true }), hog.signal);
  const reader = long.body!.getReader();
  await reader.read(); // streaming: it holds the only permit
  const order: string[] = [];
  const runs: Promise<void>[] = [];
  const queued = [
    { name: 'low', priority: 5 },
    { name: 'b', priority: 0 },
    { name: 'urgent', priority: -2 },
  ];
  for (const [i, { name, priority }] of queued.entries()) {
    runs.push(
      post(base, '/v1/completions', completion({ priority, max_tokens: 3 })).then(async (res) => {
        t.equal(res.status, 200, name);
        await res.json();
        order.push(name);
      }),
    );
    await waitFor(`${i + 1} queued`, () => admission().queued === i + 1);
  }
  hog.abort();
  await reader.cancel().catch(() => undefined);
  await Promise.all(runs);
  t.same(order, ['urgent', 'b', 'low'], 'the queue released them by priority, then arrival');
});
