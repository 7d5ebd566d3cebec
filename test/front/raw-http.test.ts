// HTTP-level behaviour checked with raw requests: health, metrics, keep-alive
// after streamed responses, client aborts, auth, and uWS edge cases.

import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { CHAT_MODEL } from './fake-backend.js';
import { startHarness } from './harness.js';

const h = await startHarness();
t.teardown(() => h.server.close());

const chatBody = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], ...extra });

t.test('health: 200 when ready, 503 while loading', async (t) => {
  for (const path of ['/health', '/v1/health']) {
    const ok = await fetch(h.base + path);
    t.equal(ok.status, 200, path);
    t.same(await ok.json(), { status: 'ok' });
  }
  h.backend.isReady = false;
  t.teardown(() => (h.backend.isReady = true));
  const loading = await fetch(`${h.base}/health`);
  t.equal(loading.status, 503);
  t.equal(loading.headers.get('retry-after'), '1');
  t.equal(((await loading.json()) as { error: { type: string } }).error.type, 'service_unavailable');
  const chat = await fetch(`${h.base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() });
  t.equal(chat.status, 503, 'generation refused while loading');
});

t.test('a second server on a port in use fails to start instead of sharing it', async (t) => {
  const port = Number(new URL(h.base).port);
  await t.rejects(startHarness({ port }), /could not listen on 127\.0\.0\.1:\d+/);
  const still = await fetch(`${h.base}/health`);
  t.equal(still.status, 200, 'the first server still serves');
});

t.test('metrics: names present and the http counter increases', async (t) => {
  const scrape = async (): Promise<string> => {
    const r = await fetch(`${h.base}/metrics`);
    t.equal(r.status, 200);
    t.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    return r.text();
  };
  const count = (text: string): number => {
    const line = text.split('\n').find((l) => l.startsWith('http_requests_total{') && l.includes('route="/health"') && l.includes('status="200"'));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };
  const before = count(await scrape());
  for (let i = 0; i < 3; i++) await (await fetch(`${h.base}/health`)).text();
  await (await fetch(`${h.base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() })).text();
  const text = await scrape();
  t.equal(count(text), before + 3, 'three more 200s on /health');
  for (const name of [
    'vllm:num_requests_running',
    'vllm:num_requests_waiting',
    'vllm:kv_cache_usage_perc',
    'vllm:prompt_tokens_total',
    'vllm:generation_tokens_total',
    'vllm:time_to_first_token_seconds_bucket',
    'vllm:inter_token_latency_seconds_bucket',
    'vllm:time_per_output_token_seconds_bucket',
    'vllm:e2e_request_latency_seconds_bucket',
    'vllm:request_queue_time_seconds_bucket',
    'vllm:iteration_tokens_total_bucket',
    'vllm:request_success_total',
    'http_requests_total',
    'process_cpu_user_seconds_total',
  ]) {
    t.ok(text.includes(`\n${name}`) || text.includes(`# TYPE ${name} `), name);
  }
  t.match(text, /vllm:request_success_total\{model_name="acme\/tiny-chat",finished_reason="stop"\} [1-9]/, 'finished request counted');
  t.match(text, /vllm:prompt_tokens_total\{model_name="acme\/tiny-chat"\} [1-9]/, 'prompt tokens counted');
});

t.test('keep-alive: 100 streamed requests over one connection', async (t) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const sockets = new Set<net.Socket>();
  for (let i = 0; i < 100; i++) {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: h.server.port, path: '/v1/chat/completions', method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (data += d));
          res.on('end', () => resolve(data));
        },
      );
      req.on('socket', (s) => sockets.add(s));
      req.on('error', reject);
      req.end(chatBody({ stream: true }));
    });
    if (!body.endsWith('data: [DONE]\n\n')) t.fail(`request ${i}: stream not terminated: ${body.slice(-80)}`);
  }
  t.equal(sockets.size, 1, 'every request reused the same socket');
});

t.test('client abort mid-stream fires the backend AbortSignal', async (t) => {
  h.backend.endless = true;
  h.backend.delayMs = 5;
  t.teardown(() => {
    h.backend.endless = false;
    h.backend.delayMs = 0;
  });
  const started = h.backend.signals.length;
  const ac = new AbortController();
  const res = await fetch(`${h.base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: chatBody({ stream: true }),
    signal: ac.signal,
  });
  t.equal(res.status, 200);
  const reader = res.body!.getReader();
  let received = '';
  while (!received.includes('tok3')) received += new TextDecoder().decode((await reader.read()).value);
  const signal = h.backend.signals[started];
  t.equal(signal.aborted, false, 'not aborted while the client reads');
  ac.abort();
  await Promise.race([h.backend.aborted, new Promise((_, rej) => setTimeout(() => rej(new Error('backend never saw the abort')), 3000))]);
  t.equal(signal.aborted, true);
  const health = await fetch(`${h.base}/health`);
  t.equal(health.status, 200, 'server fine afterwards');
});

t.test('body read in many chunks (slow client) is reassembled', async (t) => {
  const body = chatBody({ user: 'x'.repeat(20000) });
  const sock = net.connect(h.server.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
  for (let i = 0; i < body.length; i += 4000) {
    sock.write(body.slice(i, i + 4000));
    await new Promise((r) => setTimeout(r, 5));
  }
  let response = '';
  sock.setEncoding('utf8');
  await new Promise<void>((resolve) => {
    sock.on('data', (d: string) => {
      response += d;
      if (response.includes('"usage"')) resolve();
    });
  });
  sock.destroy();
  t.match(response, /^HTTP\/1\.1 200 OK/);
  t.equal(h.backend.lastChat?.user?.length, 20000);
});

t.test('api key', async (t) => {
  const k = await startHarness({ apiKey: 'sekrit' });
  t.teardown(() => k.server.close());
  const post = (auth?: string): Promise<Response> =>
    fetch(`${k.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth === undefined ? {} : { authorization: auth }) },
      body: chatBody(),
    });
  const none = await post();
  t.equal(none.status, 401);
  t.equal(((await none.json()) as { error: { type: string } }).error.type, 'authentication_error');
  t.equal((await post('Bearer wrong')).status, 401);
  const ok = await post('Bearer sekrit');
  t.equal(ok.status, 200);
  await ok.text();
  t.equal((await fetch(`${k.base}/health`)).status, 200, 'health needs no key');
  t.equal((await fetch(`${k.base}/metrics`)).status, 200, 'metrics need no key');
});

t.test('close() aborts in-flight generations', async (t) => {
  const c = await startHarness();
  c.backend.endless = true;
  const res = await fetch(`${c.base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody({ stream: true }) });
  const reader = res.body!.getReader();
  await reader.read();
  await c.server.close();
  await Promise.race([c.backend.aborted, new Promise((_, rej) => setTimeout(() => rej(new Error('not aborted on close')), 3000))]);
  t.equal(c.backend.signals[0].aborted, true);
  await reader.read().catch(() => undefined);
});

t.test('streaming respects backpressure from a slow reader', async (t) => {
  const pieces = 400;
  const piece = 'y'.repeat(32 * 1024);
  h.backend.script = () => [
    ...Array.from({ length: pieces }, () => ({ type: 'delta' as const, choiceIndex: 0, text: piece })),
    { type: 'finish', choiceIndex: 0, finishReason: 'stop' },
    { type: 'usage', promptTokens: 1, completionTokens: pieces },
  ];
  t.teardown(() => (h.backend.script = null));
  const before = h.backend.pulled;
  const body = chatBody({ stream: true });
  const sock = net.connect(h.server.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.pause();
  sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  await new Promise((r) => setTimeout(r, 500));
  const pulledWhilePaused = h.backend.pulled - before;
  t.ok(pulledWhilePaused < pieces, `server stopped pulling events while the client did not read (${pulledWhilePaused} of ${pieces})`);
  // Chunks are joined once at the end: testing the end of an ever-growing string
  // flattened all of it on every chunk (12 MB, hundreds of times).
  const chunks: string[] = [];
  let tail = '';
  sock.setEncoding('utf8');
  await new Promise<void>((resolve) => {
    sock.on('data', (d: string) => {
      chunks.push(d);
      tail = (tail + d).slice(-64);
      if (tail.endsWith('data: [DONE]\r\n\r\n0\r\n\r\n') || tail.endsWith('data: [DONE]\n\n\r\n0\r\n\r\n')) resolve();
    });
    sock.resume();
  });
  sock.destroy();
  const received = chunks.join('');
  t.equal(h.backend.pulled - before, pieces + 2, 'every event eventually pulled');
  t.equal(received.split(piece).length - 1, pieces, 'every delta delivered');
});

t.test('HEAD has headers but no body, and the connection stays usable', async (t) => {
  const sock = net.connect(h.server.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let data = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (data += d));
  sock.write('HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n');
  for (let i = 0; i < 100 && !data.includes('"object":"list"'); i++) await new Promise((r) => setTimeout(r, 10));
  sock.destroy();
  const [head, rest] = [data.slice(0, data.indexOf('\r\n\r\n') + 4), data.slice(data.indexOf('\r\n\r\n') + 4)];
  t.match(head, /^HTTP\/1\.1 200 OK/);
  t.match(head, /Content-Length: 15\r\n/i, 'length of the GET body is reported');
  t.match(rest, /^HTTP\/1\.1 200 OK/, 'next response starts right after the HEAD headers');
  t.match(rest, /"object":"list"/);
});

t.test('CORS preflight when enabled, 405 otherwise', async (t) => {
  const c = await startHarness({ corsOrigin: '*' });
  t.teardown(() => c.server.close());
  const pre = await fetch(`${c.base}/v1/chat/completions`, { method: 'OPTIONS', headers: { 'access-control-request-headers': 'authorization, content-type' } });
  t.equal(pre.status, 204);
  t.equal(pre.headers.get('access-control-allow-origin'), '*');
  t.equal(pre.headers.get('access-control-allow-methods'), 'POST, GET, HEAD, DELETE, OPTIONS', 'every method any route allows: the same on every path');
  t.equal(pre.headers.get('access-control-allow-headers'), 'authorization, content-type');
  const models = await fetch(`${c.base}/v1/models`);
  t.equal(models.headers.get('access-control-allow-origin'), '*', 'ordinary responses carry the origin header');
  await models.text();
  const off = await fetch(`${h.base}/v1/chat/completions`, { method: 'OPTIONS' });
  t.equal(off.status, 405);
  t.equal(off.headers.get('access-control-allow-origin'), null);
  await off.text();
});
