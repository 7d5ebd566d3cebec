// A table of malformed requests: each must get the right status, OpenAI
// error type and (where it applies) `param`, and the server must keep
// answering afterwards.

import t from 'tap';
import net from 'node:net';
import { CHAT_MODEL, EMBED_MODEL } from './fake-backend.js';
import { startHarness } from './harness.js';

const h = await startHarness({ maxBodyBytes: 16 * 1024 });
t.teardown(() => h.server.close());

const user = [{ role: 'user', content: 'hi' }];
const chat = (extra: Record<string, unknown>): Record<string, unknown> => ({ model: CHAT_MODEL, messages: user, ...extra });
const cmpl = (extra: Record<string, unknown>): Record<string, unknown> => ({ model: CHAT_MODEL, prompt: 'x', ...extra });
const emb = (extra: Record<string, unknown>): Record<string, unknown> => ({ model: EMBED_MODEL, input: 'x', ...extra });
const weather = [{ type: 'function', function: { name: 'get_weather' } }];

interface Case {
  name: string;
  path?: string;
  method?: string;
  contentType?: string;
  /** Objects are JSON-encoded; strings and bytes sent verbatim. */
  body?: unknown;
  status: number;
  type: string;
  param?: string | null;
  code?: string;
  header?: [string, string];
}

const C = '/v1/chat/completions';
const P = '/v1/completions';
const E = '/v1/embeddings';

const cases: Case[] = [
  { name: 'malformed JSON', body: '{"model": "x", ', status: 400, type: 'invalid_request_error', code: 'invalid_json' },
  { name: 'empty body', body: '', status: 400, type: 'invalid_request_error', code: 'invalid_json' },
  {
    name: 'invalid UTF-8 in a string',
    body: Buffer.concat([Buffer.from('{"model": "x", "messages": [{"role": "user", "content": "a'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('b"}]}')]),
    status: 400,
    type: 'invalid_request_error',
    code: 'invalid_json',
  },
  { name: 'body is an array', body: [], status: 400, type: 'invalid_request_error', param: null },
  { name: 'missing model', body: { messages: user }, status: 400, type: 'invalid_request_error', param: 'model', code: 'missing_required_parameter' },
  { name: 'model not a string', body: chat({ model: 42 }), status: 400, type: 'invalid_request_error', param: 'model', code: 'invalid_type' },
  { name: 'missing messages', body: { model: CHAT_MODEL }, status: 400, type: 'invalid_request_error', param: 'messages' },
  { name: 'empty messages', body: chat({ messages: [] }), status: 400, type: 'invalid_request_error', param: 'messages' },
  { name: 'messages not an array', body: chat({ messages: 'hi' }), status: 400, type: 'invalid_request_error', param: 'messages' },
  { name: 'bad role', body: chat({ messages: [{ role: 'bot', content: 'x' }] }), status: 400, type: 'invalid_request_error', param: 'messages[0].role' },
  { name: 'user without content', body: chat({ messages: [{ role: 'user' }] }), status: 400, type: 'invalid_request_error', param: 'messages[0].content' },
  { name: 'content wrong type', body: chat({ messages: [{ role: 'user', content: 5 }] }), status: 400, type: 'invalid_request_error', param: 'messages[0].content' },
  { name: 'assistant without content or tool_calls', body: chat({ messages: [...user, { role: 'assistant' }] }), status: 400, type: 'invalid_request_error', param: 'messages[1].content' },
  { name: 'tool message without tool_call_id', body: chat({ messages: [{ role: 'tool', content: 'x' }] }), status: 400, type: 'invalid_request_error', param: 'messages[0].tool_call_id' },
  {
    name: 'image content part',
    body: chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'http://x/y.png' } }] }] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[0].content[1]',
    code: 'unsupported_parameter',
  },
  { name: 'unknown content part type', body: chat({ messages: [{ role: 'user', content: [{ type: 'video' }] }] }), status: 400, type: 'invalid_request_error', param: 'messages[0].content[0].type' },
  { name: 'temperature 3', body: chat({ temperature: 3 }), status: 400, type: 'invalid_request_error', param: 'temperature' },
  { name: 'temperature as string', body: chat({ temperature: '0.5' }), status: 400, type: 'invalid_request_error', param: 'temperature', code: 'invalid_type' },
  { name: 'top_p 0', body: chat({ top_p: 0 }), status: 400, type: 'invalid_request_error', param: 'top_p' },
  { name: 'top_p 1.5', body: chat({ top_p: 1.5 }), status: 400, type: 'invalid_request_error', param: 'top_p' },
  { name: 'n 0', body: chat({ n: 0 }), status: 400, type: 'invalid_request_error', param: 'n' },
  { name: 'n above the server limit', body: chat({ n: 17 }), status: 400, type: 'invalid_request_error', param: 'n' },
  { name: 'n fractional', body: chat({ n: 1.5 }), status: 400, type: 'invalid_request_error', param: 'n', code: 'invalid_type' },
  { name: 'max_tokens 0', body: chat({ max_tokens: 0 }), status: 400, type: 'invalid_request_error', param: 'max_tokens' },
  { name: 'negative max_tokens', body: chat({ max_tokens: -5 }), status: 400, type: 'invalid_request_error', param: 'max_tokens' },
  { name: 'max_completion_tokens 0', body: chat({ max_completion_tokens: 0 }), status: 400, type: 'invalid_request_error', param: 'max_completion_tokens' },
  { name: 'presence_penalty -3', body: chat({ presence_penalty: -3 }), status: 400, type: 'invalid_request_error', param: 'presence_penalty' },
  { name: 'frequency_penalty 2.5', body: chat({ frequency_penalty: 2.5 }), status: 400, type: 'invalid_request_error', param: 'frequency_penalty' },
  { name: 'top_logprobs 21', body: chat({ logprobs: true, top_logprobs: 21 }), status: 400, type: 'invalid_request_error', param: 'top_logprobs' },
  { name: 'top_logprobs without logprobs', body: chat({ top_logprobs: 2 }), status: 400, type: 'invalid_request_error', param: 'top_logprobs' },
  { name: 'logit_bias value 200', body: chat({ logit_bias: { '50256': 200 } }), status: 400, type: 'invalid_request_error', param: 'logit_bias.50256' },
  { name: 'logit_bias non-numeric key', body: chat({ logit_bias: { hello: 1 } }), status: 400, type: 'invalid_request_error', param: 'logit_bias' },
  { name: 'stop with 17 entries', body: chat({ stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }), status: 400, type: 'invalid_request_error', param: 'stop' },
  { name: 'stop of wrong type', body: chat({ stop: 5 }), status: 400, type: 'invalid_request_error', param: 'stop' },
  { name: 'seed not an integer', body: chat({ seed: 1.5 }), status: 400, type: 'invalid_request_error', param: 'seed' },
  { name: 'stream not boolean', body: chat({ stream: 'yes' }), status: 400, type: 'invalid_request_error', param: 'stream', code: 'invalid_type' },
  { name: 'stream_options without stream', body: chat({ stream_options: { include_usage: true } }), status: 400, type: 'invalid_request_error', param: 'stream_options' },
  { name: 'response_format type bogus', body: chat({ response_format: { type: 'yaml' } }), status: 400, type: 'invalid_request_error', param: 'response_format.type' },
  { name: 'json_schema without json_schema', body: chat({ response_format: { type: 'json_schema' } }), status: 400, type: 'invalid_request_error', param: 'response_format.json_schema' },
  { name: 'tools not an array', body: chat({ tools: { type: 'function' } }), status: 400, type: 'invalid_request_error', param: 'tools' },
  { name: 'tool without function', body: chat({ tools: [{ type: 'function' }] }), status: 400, type: 'invalid_request_error', param: 'tools[0].function' },
  { name: 'tool with bad name', body: chat({ tools: [{ type: 'function', function: { name: 'has space' } }] }), status: 400, type: 'invalid_request_error', param: 'tools[0].function.name' },
  { name: 'tool_choice bogus string', body: chat({ tools: weather, tool_choice: 'always' }), status: 400, type: 'invalid_request_error', param: 'tool_choice' },
  {
    name: 'tool_choice naming an undefined function',
    body: chat({ tools: weather, tool_choice: { type: 'function', function: { name: 'get_time' } } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'tool_choice',
  },
  { name: 'tool_choice required without tools', body: chat({ tool_choice: 'required' }), status: 400, type: 'invalid_request_error', param: 'tool_choice' },
  { name: 'deprecated functions', body: chat({ functions: [{ name: 'f' }] }), status: 400, type: 'invalid_request_error', param: 'functions' },
  { name: 'top_k -2', body: chat({ top_k: -2 }), status: 400, type: 'invalid_request_error', param: 'top_k' },
  { name: 'repetition_penalty 0', body: chat({ repetition_penalty: 0 }), status: 400, type: 'invalid_request_error', param: 'repetition_penalty' },
  { name: 'unknown model', body: chat({ model: 'acme/unknown' }), status: 404, type: 'not_found_error', param: 'model', code: 'model_not_found' },
  { name: 'embedding model on chat', body: chat({ model: EMBED_MODEL }), status: 400, type: 'invalid_request_error', param: 'model' },
  // completions
  { name: 'completions: missing prompt', path: P, body: { model: CHAT_MODEL }, status: 400, type: 'invalid_request_error', param: 'prompt' },
  { name: 'completions: prompt of wrong type', path: P, body: cmpl({ prompt: { text: 'x' } }), status: 400, type: 'invalid_request_error', param: 'prompt' },
  { name: 'completions: mixed prompt array', path: P, body: cmpl({ prompt: ['a', 1] }), status: 400, type: 'invalid_request_error', param: 'prompt' },
  { name: 'completions: token id not an integer', path: P, body: cmpl({ prompt: [[1, 'a']] }), status: 400, type: 'invalid_request_error', param: 'prompt[0][1]' },
  { name: 'completions: logprobs 21', path: P, body: cmpl({ logprobs: 21 }), status: 400, type: 'invalid_request_error', param: 'logprobs' },
  { name: 'completions: suffix', path: P, body: cmpl({ suffix: 'end' }), status: 400, type: 'invalid_request_error', param: 'suffix', code: 'unsupported_parameter' },
  { name: 'completions: best_of < n', path: P, body: cmpl({ n: 3, best_of: 2 }), status: 400, type: 'invalid_request_error', param: 'best_of' },
  { name: 'a message without role', body: { model: 'x', messages: [{ content: 'hello' }] }, status: 400, type: 'invalid_request_error', param: 'messages[0].role', code: 'missing_required_parameter' },
  {
    name: 'a content part without type',
    body: { model: 'x', messages: [{ role: 'user', content: [{ text: 'x' }] }] },
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[0].content[0].type',
    code: 'missing_required_parameter',
  },
  { name: 'response_format without type', body: { model: 'x', messages: user, response_format: {} }, status: 400, type: 'invalid_request_error', param: 'response_format.type', code: 'missing_required_parameter' },
  { name: 'completions: echo not boolean', path: P, body: cmpl({ echo: 1 }), status: 400, type: 'invalid_request_error', param: 'echo' },
  { name: 'completions: 17 prompts × n 16 = 272 completions', path: P, body: cmpl({ prompt: Array.from({ length: 17 }, () => 'a'), n: 16 }), status: 400, type: 'invalid_request_error', param: 'prompt' },
  // embeddings
  { name: 'embeddings: missing input', path: E, body: { model: EMBED_MODEL }, status: 400, type: 'invalid_request_error', param: 'input' },
  { name: 'embeddings: encoding_format bogus', path: E, body: emb({ encoding_format: 'hex' }), status: 400, type: 'invalid_request_error', param: 'encoding_format' },
  { name: 'embeddings: dimensions 0', path: E, body: emb({ dimensions: 0 }), status: 400, type: 'invalid_request_error', param: 'dimensions' },
  { name: 'embeddings: empty string', path: E, body: emb({ input: '' }), status: 400, type: 'invalid_request_error', param: 'input' },
  { name: 'embeddings: chat model', path: E, body: emb({ model: CHAT_MODEL }), status: 400, type: 'invalid_request_error', param: 'model' },
  { name: 'embeddings: unknown model', path: E, body: emb({ model: 'nope' }), status: 404, type: 'not_found_error', param: 'model' },
  // HTTP level
  { name: 'body over the limit', body: chat({ user: 'x'.repeat(20 * 1024) }), status: 413, type: 'request_too_large' },
  { name: 'unknown route', path: '/v1/nope', status: 404, type: 'not_found_error', method: 'GET', code: 'unknown_route' },
  { name: 'unknown route (POST)', path: '/v2/chat/completions', body: chat({}), status: 404, type: 'not_found_error' },
  { name: 'wrong method', method: 'GET', status: 405, type: 'method_not_allowed_error', header: ['allow', 'POST'] },
  { name: 'wrong method on models', path: '/v1/models', method: 'POST', body: {}, status: 405, type: 'method_not_allowed_error', header: ['allow', 'GET, HEAD'] },
  { name: 'wrong content type', contentType: 'text/plain', body: chat({}), status: 415, type: 'unsupported_media_type' },
  { name: 'form content type', contentType: 'application/x-www-form-urlencoded', body: 'a=b', status: 415, type: 'unsupported_media_type' },
  { name: 'unknown model id on retrieve', path: '/v1/models/acme/nope', method: 'GET', status: 404, type: 'not_found_error', code: 'model_not_found' },
];

t.ok(cases.length >= 30, `${cases.length} cases`);

for (const c of cases) {
  t.test(c.name, async (t) => {
    const method = c.method ?? 'POST';
    const headers: Record<string, string> = {};
    if (method === 'POST') headers['content-type'] = c.contentType ?? 'application/json';
    const body = c.body === undefined ? undefined : typeof c.body === 'string' || c.body instanceof Buffer ? c.body : JSON.stringify(c.body);
    const res = await fetch(h.base + (c.path ?? C), { method, headers, body });
    t.equal(res.status, c.status, 'status');
    const json = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
    t.equal(json.error.type, c.type, 'error.type');
    t.type(json.error.message, 'string');
    t.ok(json.error.message.length > 0, 'has a message');
    if (c.param !== undefined) t.equal(json.error.param, c.param, 'error.param');
    if (c.code !== undefined) t.equal(json.error.code, c.code, 'error.code');
    if (c.header !== undefined) t.equal(res.headers.get(c.header[0]), c.header[1], c.header[0]);
    t.notMatch(json.error.message, /\bat .*\.js:\d+/, 'no stack trace');
  });
}

t.test('413 without Content-Length (chunked upload) stops reading early', async (t) => {
  const sock = net.connect(h.server.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let response = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (response += d));
  sock.on('error', () => undefined);
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  sock.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
  const piece = 'x'.repeat(4096);
  for (let i = 0; i < 8 && !sock.destroyed && response === ''; i++) {
    sock.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
  sock.destroy();
  t.match(response, /^HTTP\/1\.1 413 /, '413 sent before the upload finished');
});

t.test('server still healthy after the table', async (t) => {
  const r = await fetch(`${h.base}/health`);
  t.equal(r.status, 200);
  t.same(await r.json(), { status: 'ok' });
});
