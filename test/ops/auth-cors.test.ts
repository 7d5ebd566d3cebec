// API keys and CORS on the real HTTP server (scripted backend): every /v1
// route answers 401 without or with a wrong key, /health and /metrics stay
// open unless the scope is 'all', preflights follow the origin list, and the
// key sources (flag, env, file) combine.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ApiKeyChecker } from '../../src/front/auth.js';
import { parseServeOptions, SERVE_DEFAULTS, type ServeOptions } from '../../src/cli/serve-options.js';
import { httpOpsOptions, resolveApiKeys, sequenceSlots } from '../../src/cli/serve-ops.js';
import { startHarness } from '../front/harness.js';
import { CHAT_MODEL, EMBED_MODEL } from '../front/fake-backend.js';

const KEY = 'sk-serval-test-0123456789';

const V1_ROUTES: Array<[string, string, string | null]> = [
  ['POST', '/v1/chat/completions', JSON.stringify({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }] })],
  ['POST', '/v1/completions', JSON.stringify({ model: CHAT_MODEL, prompt: 'hi' })],
  ['POST', '/v1/embeddings', JSON.stringify({ model: EMBED_MODEL, input: 'hi' })],
  ['GET', '/v1/models', null],
  ['GET', `/v1/models/${CHAT_MODEL}`, null],
  ['GET', '/v1/health', null],
  ['GET', '/v1/no-such-route', null],
  ['DELETE', '/v1/models', null],
];

async function call(base: string, method: string, route: string, body: string | null, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${route}`, { method, headers: { ...(body === null ? {} : { 'content-type': 'application/json' }), ...headers }, ...(body === null ? {} : { body }) });
}

t.test('every /v1 route needs the key; health and metrics stay open', async (t) => {
  const h = await startHarness({ apiKeys: [KEY] });
  t.teardown(() => h.server.close());
  for (const [method, route, body] of V1_ROUTES) {
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${KEY}x`, `Bearer ${KEY.slice(0, -1)}`, KEY, `Basic ${KEY}`]) {
      const res = await call(h.base, method, route, body, auth === undefined ? {} : { authorization: auth });
      const json = (await res.json()) as { error?: { type: string; code: string } };
      t.equal(res.status, 401, `${method} ${route} with ${auth ?? 'no key'} → 401`);
      t.equal(json.error?.type, 'authentication_error');
      t.equal(json.error?.code, 'invalid_api_key');
    }
    const ok = await call(h.base, method, route, body, { authorization: `Bearer ${KEY}` });
    await ok.arrayBuffer();
    t.not(ok.status, 401, `${method} ${route} with the key is not 401 (${ok.status})`);
  }
  for (const route of ['/health', '/metrics']) {
    const res = await fetch(`${h.base}${route}`);
    await res.arrayBuffer();
    t.equal(res.status, 200, `${route} needs no key`);
  }
});

t.test("auth scope 'all' also protects health and metrics", async (t) => {
  const h = await startHarness({ apiKeys: [KEY, 'second-key'], authAllRoutes: true });
  t.teardown(() => h.server.close());
  for (const route of ['/health', '/metrics']) {
    const none = await fetch(`${h.base}${route}`);
    await none.arrayBuffer();
    t.equal(none.status, 401, `${route} without a key`);
    const ok = await fetch(`${h.base}${route}`, { headers: { authorization: 'Bearer second-key' } });
    await ok.arrayBuffer();
    t.equal(ok.status, 200, `${route} with the second key`);
  }
});

t.test('ApiKeyChecker', async (t) => {
  const checker = new ApiKeyChecker(['alpha', 'beta']);
  t.ok(checker.accepts('Bearer alpha'));
  t.ok(checker.accepts('bearer beta'), 'the scheme is case-insensitive (RFC 7235)');
  t.notOk(checker.accepts('Bearer alph'));
  t.notOk(checker.accepts('Bearer alphaa'));
  t.notOk(checker.accepts('Bearer ALPHA'), 'the key itself is case-sensitive');
  t.notOk(checker.accepts('alpha'));
  t.notOk(checker.accepts(''));
  t.notOk(checker.accepts('Bearer '));
  t.ok(checker.accepts('', 'alpha'), 'x-api-key alone');
  t.ok(checker.accepts('Bearer wrong', 'beta'), 'either header carrying a key will do');
  t.ok(checker.accepts('Bearer alpha', 'wrong'));
  t.notOk(checker.accepts('', 'alph'));
  t.notOk(checker.accepts('', 'Bearer alpha'), 'x-api-key carries the bare key');
  t.notOk(checker.accepts('', ''));
  t.throws(() => new ApiKeyChecker(['']), /at least one/);
});

t.test('CORS: preflight and responses follow the allowed origins', async (t) => {
  const h = await startHarness({ allowedOrigins: ['https://app.example.com', 'http://localhost:3000'], apiKeys: [KEY] });
  t.teardown(() => h.server.close());
  const preflight = (origin: string): Promise<Response> =>
    fetch(`${h.base}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
  const allowed = await preflight('https://app.example.com');
  t.equal(allowed.status, 204, 'preflight needs no key');
  t.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example.com');
  t.equal(allowed.headers.get('access-control-allow-methods'), 'POST, GET, HEAD, DELETE, OPTIONS');
  t.equal(allowed.headers.get('access-control-allow-headers'), 'authorization, content-type');
  t.match(allowed.headers.get('vary') ?? '', /Origin/);
  const other = await preflight('https://evil.example.com');
  t.equal(other.status, 204);
  t.equal(other.headers.get('access-control-allow-origin'), null, 'an unlisted origin gets no allow-origin');
  t.equal(other.headers.get('access-control-allow-methods'), null);
  const unknown = await fetch(`${h.base}/v1/nope`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com' } });
  await unknown.arrayBuffer();
  t.equal(unknown.status, 204, 'an unknown route answers like a known one: preflights reveal no routes');
  t.equal(unknown.headers.get('access-control-allow-methods'), 'POST, GET, HEAD, DELETE, OPTIONS');

  const get = await fetch(`${h.base}/v1/models`, { headers: { origin: 'http://localhost:3000', authorization: `Bearer ${KEY}` } });
  await get.arrayBuffer();
  t.equal(get.headers.get('access-control-allow-origin'), 'http://localhost:3000');
  t.match(get.headers.get('access-control-expose-headers') ?? '', /Retry-After/);
  const denied = await fetch(`${h.base}/v1/models`, { headers: { origin: 'https://evil.example.com' } });
  await denied.arrayBuffer();
  t.equal(denied.status, 401, 'a 401 still carries CORS headers for allowed origins only');
  t.equal(denied.headers.get('access-control-allow-origin'), null);
});

t.test('CORS off by default: OPTIONS is 405 and no headers', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.server.close());
  const res = await fetch(`${h.base}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com' } });
  await res.arrayBuffer();
  t.equal(res.status, 405);
  t.equal(res.headers.get('access-control-allow-origin'), null);
});

t.test('key sources and flags', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'serval-keys-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'keys');
  await writeFile(file, '# team keys\nkey-one\n\n  key-two  \n');
  const options = parseServeOptions(['--api-key', 'flag-key', '--api-key-file', file, '--allowed-origins', 'https://a.example, https://b.example', '--auth-scope', 'all', '--request-timeout', '2.5', '--max-queue', '7', '--workers', '2', '--max-batch-size', '3']) as ServeOptions;
  const keys = await resolveApiKeys(options, { SERVAL_API_KEY: 'env-key' });
  t.same(keys.sort(), ['env-key', 'flag-key', 'key-one', 'key-two']);
  const http = httpOpsOptions(options, keys, sequenceSlots(options));
  t.same(http.allowedOrigins, ['https://a.example', 'https://b.example']);
  t.equal(http.authAllRoutes, true);
  t.equal(http.requestTimeoutMs, 2500);
  t.equal(http.maxQueue, 7);
  t.equal(http.maxConcurrency, 6, 'default concurrency = workers x max-batch-size');
  t.same(await resolveApiKeys(SERVE_DEFAULTS, {}), [], 'no key configured: auth off');
  await writeFile(file, '# nothing\n');
  await t.rejects(resolveApiKeys({ apiKey: null, apiKeyFile: file }, {}), /holds no key/);
  await t.rejects(resolveApiKeys({ apiKey: null, apiKeyFile: path.join(dir, 'missing') }, {}), /cannot read/);
  t.throws(() => parseServeOptions(['--request-timeout=-1']), /non-negative number/);
  t.throws(() => parseServeOptions(['--max-concurrency', '0']), /at least 1/);
  t.throws(() => parseServeOptions(['--auth-scope', 'none']), /must be one of/);
  t.equal((parseServeOptions(['--pipeline-depth', '2']) as ServeOptions).pipelineDepth, 2);
  t.equal(SERVE_DEFAULTS.pipelineDepth, null, 'no flag: the engine picks by device');
  t.throws(() => parseServeOptions(['--pipeline-depth', '3']), /1 or 2/);
});
