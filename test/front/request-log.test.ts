// Request logs: one line per request (method, route, status, model, tokens,
// TTFT, total time, request id), the reason for 4xx at info, 5xx at error;
// X-Request-Id echoed when sane, generated otherwise, on every response;
// CORS preflights that reveal no route; the pretty log format.

import t from 'tap';
import { ApiError } from '../../src/protocol/errors.js';
import type { Logger } from '../../src/front/logger.js';
import { formatLine } from '../../src/cli/pretty-log.js';
import { CHAT_MODEL, EMBED_MODEL } from './fake-backend.js';
import { startHarness } from './harness.js';

interface Entry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

function capture(): { logger: Logger; entries: Entry[] } {
  const entries: Entry[] = [];
  const at = (level: Entry['level']) => (obj: object, msg = ''): void => void entries.push({ level, obj: obj as Record<string, unknown>, msg });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, entries };
}

const { logger, entries } = capture();
const h = await startHarness({ logger });
t.teardown(() => h.server.close());

const requestLine = (id: string): Entry | undefined => entries.find((e) => e.obj.reqId === id);
/** The line is written when the response ends, which may be just after the client has it. */
async function lineFor(id: string): Promise<Entry> {
  for (let i = 0; i < 100 && requestLine(id) === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  const line = requestLine(id);
  if (line === undefined) throw new Error(`no log line for ${id}`);
  return line;
}

const postJson = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${h.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

t.test('a chat request: one info line with every field, and its X-Request-Id echoed', async (t) => {
  for (const stream of [false, true]) {
    const id = `chat-${stream ? 'stream' : 'plain'}-1`;
    const res = await postJson('/v1/chat/completions', { model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], stream }, { 'x-request-id': id });
    t.equal(res.status, 200);
    t.equal(res.headers.get('x-request-id'), id, 'echoed');
    await res.text();
    const line = await lineFor(id);
    t.equal(line.level, 'info');
    t.match(line.obj, { method: 'POST', route: '/v1/chat/completions', status: 200, model: CHAT_MODEL, promptTokens: Number, completionTokens: Number, ttftMs: Number, ms: Number });
    t.ok((line.obj.completionTokens as number) > 0, 'tokens from the usage event');
    t.ok((line.obj.ttftMs as number) <= (line.obj.ms as number), 'TTFT within the total');
    t.match(line.msg, /^POST \/v1\/chat\/completions 200 /);
    t.equal(entries.filter((e) => e.obj.reqId === id).length, 1, 'exactly one line');
  }
});

t.test('embeddings: model and prompt tokens', async (t) => {
  const res = await postJson('/v1/embeddings', { model: EMBED_MODEL, input: ['a', 'b'] }, { 'x-request-id': 'emb-1' });
  t.equal(res.status, 200);
  await res.text();
  t.match((await lineFor('emb-1')).obj, { route: '/v1/embeddings', status: 200, model: EMBED_MODEL, promptTokens: 4 });
});

t.test('a 4xx is logged at info with its reason', async (t) => {
  const res = await postJson('/v1/chat/completions', { model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], temperature: 9 }, { 'x-request-id': 'bad-1' });
  t.equal(res.status, 400);
  await res.text();
  const line = await lineFor('bad-1');
  t.equal(line.level, 'info');
  t.match(line.obj, { status: 400, error: { status: 400, param: 'temperature', message: /temperature/ } });
  const notFound = await fetch(`${h.base}/nope`, { headers: { 'x-request-id': 'nf-1' } });
  await notFound.text();
  t.match((await lineFor('nf-1')).obj, { route: '/nope', status: 404, error: { message: /Unknown route/ } }, 'unrouted: the path');
});

t.test('a 5xx is logged at error', async (t) => {
  h.backend.throwOnStart = ApiError.internal('backend exploded');
  t.teardown(() => (h.backend.throwOnStart = null));
  const res = await postJson('/v1/chat/completions', { model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'boom-1' });
  t.equal(res.status, 500);
  await res.text();
  const line = await lineFor('boom-1');
  t.equal(line.level, 'error');
  t.match(line.obj, { status: 500, error: { message: 'backend exploded' } });
});

t.test('X-Request-Id: generated when absent or unsafe, on every response', async (t) => {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const none = await fetch(`${h.base}/health`);
  t.match(none.headers.get('x-request-id'), uuid, 'generated');
  await none.text();
  const long = await fetch(`${h.base}/health`, { headers: { 'x-request-id': 'a'.repeat(200) } });
  t.match(long.headers.get('x-request-id'), uuid, 'too long: replaced');
  await long.text();
  const spaced = await fetch(`${h.base}/health`, { headers: { 'x-request-id': 'a b' } });
  t.match(spaced.headers.get('x-request-id'), uuid, 'not plain: replaced');
  await spaced.text();
  const err = await fetch(`${h.base}/v1/models/nope`, { headers: { 'x-request-id': 'err-1' } });
  t.equal(err.headers.get('x-request-id'), 'err-1', 'on errors too');
  await err.text();
});

t.test('CORS preflights are the same for known and unknown routes (no route probing)', async (t) => {
  const c = await startHarness({ corsOrigin: '*', apiKey: 'k' });
  t.teardown(() => c.server.close());
  const preflight = async (path: string): Promise<[number, string | null, string | null]> => {
    const res = await fetch(`${c.base}${path}`, { method: 'OPTIONS', headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' } });
    await res.text();
    return [res.status, res.headers.get('access-control-allow-methods'), res.headers.get('access-control-allow-origin')];
  };
  const known = await preflight('/v1/chat/completions');
  t.equal(known[0], 204);
  t.match(known[1], /POST/);
  for (const path of ['/v1/secret-route', '/v1/models/x', '/nope']) t.same(await preflight(path), known, path);
});

t.test('pretty log lines', async (t) => {
  const json = JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), pid: 1, hostname: 'h', reqId: 'r1', status: 200, model: null, error: { code: 'x' }, msg: 'POST /v1/chat/completions 200 1.2 ms' });
  t.equal(formatLine(json, false), '03:04:05.006 INFO  POST /v1/chat/completions 200 1.2 ms  reqId=r1 status=200 error={"code":"x"}\n');
  t.match(formatLine(JSON.stringify({ level: 50, time: 0, msg: 'bad' }), true), /\x1b\[31mERROR\x1b\[0m bad/);
  t.equal(formatLine('not json\n', false), 'not json\n', 'passed through');
});
