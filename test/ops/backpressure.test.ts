// Admission control and limits on the real HTTP server (scripted backend,
// deterministic timing): 429 + Retry-After once the queue is full while the
// requests under the limit still complete; --request-timeout ends running
// and queued requests with 408 (streams: an error event) and frees the slot;
// a body trickled in too slowly gets 408 and the connection is closed.

import net from 'node:net';
import t from 'tap';
import { Admission } from '../../src/front/admission.js';
import { startHarness, type Harness } from '../front/harness.js';
import { CHAT_MODEL } from '../front/fake-backend.js';
import { parseSse, post, sleep } from './helpers.js';

const chat = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], ...extra });

async function waitFor(what: string, condition: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const admission = (h: Harness): { active: number; queued: number } => h.server.admission() ?? { active: -1, queued: -1 };

t.test('429 with Retry-After once the queue is full; admitted requests complete', async (t) => {
  const h = await startHarness({ maxConcurrency: 2, maxQueue: 2 });
  t.teardown(() => h.server.close());
  // The running requests wait at the gate until the refusals are checked, however slow the machine.
  let open!: () => void;
  h.backend.gate = new Promise((resolve) => (open = resolve));
  const admitted = [0, 1, 2, 3].map(() => post(h.base, '/v1/chat/completions', chat()));
  await waitFor('2 running and 2 queued', () => admission(h).active === 2 && admission(h).queued === 2);
  const scrape = await (await fetch(`${h.base}/metrics`)).text();
  t.match(scrape, /^serval:num_requests_queued 2$/m, 'the queue depth is exported');
  t.match(scrape, /^serval:num_sequences_admitted 2$/m);
  for (let i = 0; i < 3; i++) {
    // Nothing running can finish before the gate opens, so a request that queued instead would hang here.
    const res = await Promise.race([post(h.base, '/v1/chat/completions', chat({ stream: i === 0 })), sleep(5000).then(() => null)]);
    if (res === null) {
      t.fail('refused at once, not queued');
      break;
    }
    const body = (await res.json()) as { error: { type: string; code: string; message: string } };
    t.equal(res.status, 429, 'refused while the queue is full');
    t.equal(body.error.type, 'rate_limit_error');
    t.equal(body.error.code, 'rate_limit_exceeded');
    const retry = Number(res.headers.get('retry-after'));
    t.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After is 1..60 s (${res.headers.get('retry-after')})`);
  }
  open();
  const results = await Promise.all(admitted);
  for (const res of results) {
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    t.equal(res.status, 200);
    t.equal(body.choices[0].message.content, 'Hello, world!');
  }
  t.same(admission(h), { active: 0, queued: 0 }, 'every permit released');
  const again = await post(h.base, '/v1/chat/completions', chat());
  await again.arrayBuffer();
  t.equal(again.status, 200, 'accepted again once the queue drained');
});

t.test('a request with n choices weighs n; a client leaving the queue frees its place', async (t) => {
  const h = await startHarness({ maxConcurrency: 3, maxQueue: 1 });
  t.teardown(() => h.server.close());
  let open!: () => void;
  h.backend.gate = new Promise((resolve) => (open = resolve));
  const big = post(h.base, '/v1/chat/completions', chat({ n: 3 }));
  await waitFor('n=3 running', () => admission(h).active === 3);
  const leaver = new AbortController();
  const queued = fetch(`${h.base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat(), signal: leaver.signal }).catch(() => 'aborted');
  await waitFor('one queued', () => admission(h).queued === 1);
  const full = await post(h.base, '/v1/chat/completions', chat());
  await full.arrayBuffer();
  t.equal(full.status, 429);
  leaver.abort();
  t.equal(await queued, 'aborted');
  await waitFor('queue empty after the client left', () => admission(h).queued === 0);
  const next = post(h.base, '/v1/chat/completions', chat());
  open();
  t.equal((await big).status, 200);
  t.equal((await next).status, 200);
});

t.test('request timeout: non-streamed 408, streamed error event, queued 408; slots freed', async (t) => {
  const h = await startHarness({ maxConcurrency: 1, maxQueue: 4, requestTimeoutMs: 1500 });
  t.teardown(() => h.server.close());
  h.backend.endless = true;
  // A deadline long enough that the second request is seen queued before the first one's passes, on a loaded machine too.
  const started = performance.now();
  const plainP = post(h.base, '/v1/chat/completions', chat());
  await waitFor('first running', () => admission(h).active === 1);
  const queuedP = post(h.base, '/v1/chat/completions', chat());
  await waitFor('second queued', () => admission(h).queued === 1);
  const plain = await plainP;
  const plainBody = (await plain.json()) as { error: { type: string; code: string; message: string } };
  t.equal(plain.status, 408);
  t.equal(plainBody.error.type, 'timeout_error');
  t.equal(plainBody.error.code, 'request_timeout');
  t.match(plainBody.error.message, /1\.5 s/);
  const elapsed = performance.now() - started;
  t.ok(elapsed >= 1480 && elapsed < 4000, `ended near the deadline (${elapsed.toFixed(0)} ms)`);
  t.equal(h.backend.signals[0].aborted, true, 'the backend was told to stop');
  const queued = await queuedP;
  const queuedBody = (await queued.json()) as { error: { type: string } };
  // The queued request got its turn when the first one timed out, then hit its own deadline.
  t.equal(queued.status, 408);
  t.equal(queuedBody.error.type, 'timeout_error');

  const streamed = await post(h.base, '/v1/chat/completions', chat({ stream: true }));
  const sse = parseSse(streamed.status, await streamed.text());
  t.equal(sse.status, 200);
  t.ok(sse.frames.length > 1, 'deltas streamed before the deadline');
  t.equal(sse.error?.type, 'timeout_error', 'then an error event');
  t.equal(sse.done, true, 'then [DONE]');
  await waitFor('all released', () => admission(h).active === 0 && admission(h).queued === 0);

  h.backend.endless = false;
  const ok = await post(h.base, '/v1/chat/completions', chat());
  await ok.arrayBuffer();
  t.equal(ok.status, 200, 'a normal request fits in the timeout');
});

t.test('Admission: a waiter whose signal fires leaves the queue with that reason', async (t) => {
  const admission = new Admission({ maxConcurrency: 2, maxQueue: 2 });
  const holder = await admission.enter(2, new AbortController().signal);
  const leaving = new AbortController();
  const staying = new AbortController();
  const left = admission.enter(1, leaving.signal);
  const stays = admission.enter(1, staying.signal);
  t.equal(admission.queued, 2);
  t.throws(() => admission.enter(1, new AbortController().signal), /capacity/, 'queue full');
  const reason = new Error('deadline');
  leaving.abort(reason);
  await t.rejects(left, reason, 'rejected with the signal reason');
  t.equal(admission.queued, 1, 'the leaver is gone from the queue');
  holder.release();
  holder.release();
  const permit = await stays;
  t.equal(admission.active, 1, 'only the remaining waiter was admitted (double release is harmless)');
  permit.release();
  t.equal(admission.active, 0);
  const huge = await admission.enter(50, new AbortController().signal);
  t.equal(admission.active, 2, 'a request above the whole budget runs alone, clamped');
  huge.release();
});

t.test('a slowly trickled body gets 408 and the connection closes', async (t) => {
  const h = await startHarness({ bodyTimeoutMs: 300 });
  t.teardown(() => h.server.close());
  const sock = net.connect(h.server.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let data = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (data += d));
  const closed = new Promise<number>((resolve) => {
    const start = performance.now();
    sock.on('close', () => resolve(performance.now() - start));
  });
  sock.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":');
  const after = await closed;
  t.match(data, /^HTTP\/1\.1 408 /);
  t.match(data, /"timeout_error"/);
  t.ok(after >= 250 && after < 3000, `closed after the body timeout (${after.toFixed(0)} ms)`);
});

t.test('Admission: waiters go by priority (lower first), first come first served among equals', async (t) => {
  const admission = new Admission({ maxConcurrency: 1, maxQueue: 8 });
  const holder = await admission.enter(1, new AbortController().signal);
  const order: string[] = [];
  const wait = (name: string, priority?: number): Promise<void> =>
    admission.enter(1, new AbortController().signal, priority).then((permit) => {
      order.push(name);
      permit.release(); // admits the next waiter
    });
  const all = [wait('a'), wait('low', 3), wait('b', 0), wait('urgent', -5), wait('c')];
  holder.release();
  await Promise.all(all);
  t.same(order, ['urgent', 'a', 'b', 'c', 'low']);
});
