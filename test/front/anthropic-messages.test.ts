// POST /v1/messages over the real HTTP server and a scripted backend: the
// translation into the chat request, the content blocks and the exact event
// stream built from scripted events (text and tool calls interleaved, errors
// after the first token), and Anthropic's error shape on every failure of
// these routes. The real engine and the official SDK: test/e2e/anthropic-sdk.test.ts.

import t from 'tap';
import type { GenerationEvent } from '../../src/front/backend.js';
import { ApiError } from '../../src/protocol/errors.js';
import { CHAT_MODEL, toolCallEvents } from './fake-backend.js';
import { startHarness } from './harness.js';

const KEY = 'sekrit-key';
const h = await startHarness({ apiKey: KEY });
t.teardown(() => h.server.close());

const HEADERS = { 'content-type': 'application/json', 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'tools-2024-04-04' };

async function post(path: string, body: unknown, headers: Record<string, string> = HEADERS): Promise<{ status: number; body: unknown; text: string }> {
  const response = await fetch(`${h.base}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // An event stream.
  }
  return { status: response.status, body: parsed, text };
}

interface SseFrame {
  event: string;
  data: Record<string, unknown>;
}

function frames(text: string): SseFrame[] {
  return text
    .split('\n\n')
    .filter((f) => f.trim() !== '')
    .map((frame) => {
      const lines = frame.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? '';
      const data = JSON.parse(lines.find((l) => l.startsWith('data: '))?.slice(6) ?? 'null') as Record<string, unknown>;
      return { event, data };
    });
}

const base = { model: CHAT_MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };

/** Text, a tool call, more text, a finish and usage: three content blocks. */
const mixed = (): GenerationEvent[] => [
  { type: 'prompt', promptTokens: 9 },
  { type: 'delta', choiceIndex: 0, text: 'Let me ' },
  { type: 'delta', choiceIndex: 0, text: 'check.' },
  ...toolCallEvents(0, 0, { id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }),
  { type: 'delta', choiceIndex: 0, text: 'Done' },
  { type: 'finish', choiceIndex: 0, finishReason: 'tool_calls' },
  { type: 'usage', promptTokens: 9, completionTokens: 12 },
];

t.test('the request becomes the chat request the OpenAI route would make', async (t) => {
  const { status } = await post('/v1/messages', {
    model: CHAT_MODEL,
    max_tokens: 17,
    system: [{ type: 'text', text: 'Be brief.' }, { type: 'text', text: 'Be kind.' }],
    stop_sequences: ['END'],
    temperature: 0.5,
    top_k: 7,
    top_p: 0.9,
    metadata: { user_id: 'u1' },
    tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    tool_choice: { type: 'any', disable_parallel_tool_use: true },
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'hmm', signature: 'x' },
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'sunny' }] },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: 'no such city', is_error: true },
          { type: 'text', text: 'Thanks' },
        ],
      },
    ],
  });
  t.equal(status, 200);
  const req = h.backend.lastChat;
  t.ok(req);
  if (!req) return;
  t.same(req.messages, [
    { role: 'system', content: 'Be brief.\nBe kind.' },
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: 'Checking.', toolCalls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', content: 'sunny', toolCallId: 'toolu_1' },
    { role: 'tool', content: 'Error: no such city', toolCallId: 'toolu_2' },
    { role: 'user', content: 'Thanks' },
  ]);
  t.equal(req.sampling.maxTokens, 17);
  t.same(req.sampling.stop, ['END']);
  t.same([req.sampling.temperature, req.sampling.topK, req.sampling.topP, req.sampling.n], [0.5, 7, 0.9, 1]);
  t.same(req.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }]);
  t.equal(req.toolChoice, 'required', "tool_choice 'any' forces a call");
  t.equal(req.parallelToolCalls, false, 'disable_parallel_tool_use');
  t.same([req.addGenerationPrompt, req.continueFinalMessage], [true, false]);

  await post('/v1/messages', { ...base, tools: req.tools?.map((tool) => ({ name: tool.function.name, input_schema: {} })), tool_choice: { type: 'tool', name: 'get_weather' } });
  t.same(h.backend.lastChat?.toolChoice, { name: 'get_weather' });
  await post('/v1/messages', { ...base, tools: [{ name: 'f', input_schema: {} }], tool_choice: { type: 'none' } });
  t.equal(h.backend.lastChat?.toolChoice, 'none');
  await post('/v1/messages', { ...base, tools: [{ name: 'f', input_schema: {} }] });
  t.equal(h.backend.lastChat?.toolChoice, 'auto', 'tools without tool_choice: auto');
  await post('/v1/messages', { ...base, system: 'plain', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'The answer is' }] });
  t.same(h.backend.lastChat?.messages[0], { role: 'system', content: 'plain' });
  t.same([h.backend.lastChat?.addGenerationPrompt, h.backend.lastChat?.continueFinalMessage], [false, true], 'a final assistant turn is continued');
  await post('/v1/messages', { ...base, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [] }] });
  t.same([h.backend.lastChat?.addGenerationPrompt, h.backend.lastChat?.continueFinalMessage], [true, false], 'an empty one is not a prefill');
});

t.test('non-streamed: content blocks in order, stop_reason and usage', async (t) => {
  h.backend.script = mixed;
  t.teardown(() => (h.backend.script = null));
  const { status, body } = await post('/v1/messages', base);
  t.equal(status, 200);
  const message = body as Record<string, unknown>;
  t.match(message.id, /^msg_[0-9a-f]{24}$/);
  t.same(
    { ...message, id: 'x' },
    {
      id: 'x',
      type: 'message',
      role: 'assistant',
      model: CHAT_MODEL,
      content: [
        { type: 'text', text: 'Let me check.', citations: null },
        { type: 'tool_use', id: 'toolu_abc', name: 'get_weather', input: { city: 'Paris' }, caller: { type: 'direct' } },
        { type: 'text', text: 'Done', citations: null },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      stop_details: null,
      container: null,
      usage: { input_tokens: 9, output_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, cache_creation: null, server_tool_use: null, service_tier: 'standard' },
    },
  );
});

t.test('streamed: the documented event sequence, and it folds into the non-streamed message', async (t) => {
  h.backend.script = mixed;
  t.teardown(() => (h.backend.script = null));
  const plain = (await post('/v1/messages', base)).body as Record<string, unknown>;
  const response = await fetch(`${h.base}/v1/messages`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ ...base, stream: true }) });
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type'), /^text\/event-stream/);
  const events = frames(await response.text());
  for (const { event, data } of events) t.equal(event, data.type, `event: line names ${String(data.type)}`);
  const kinds = events.map((e) => e.event);
  t.same(kinds.slice(0, 2), ['message_start', 'ping']);
  t.same(kinds.slice(-2), ['message_delta', 'message_stop']);
  const start = events[0].data.message as Record<string, unknown>;
  t.same([start.content, start.stop_reason, (start.usage as Record<string, unknown>).input_tokens], [[], null, 9], 'message_start: empty content, input tokens known');
  // Fold the block events the way a client does.
  const blocks: Record<string, unknown>[] = [];
  const json: string[] = [];
  let open = -1;
  for (const { data } of events.slice(2, -2)) {
    const index = data.index as number;
    if (data.type === 'content_block_start') {
      t.equal(open, -1, 'a block starts only after the previous one stopped');
      t.equal(index, blocks.length, 'blocks are numbered in order');
      blocks.push({ ...(data.content_block as Record<string, unknown>) });
      json.push('');
      open = index;
    } else if (data.type === 'content_block_delta') {
      t.equal(index, open, 'deltas go to the open block');
      const delta = data.delta as Record<string, string>;
      if (delta.type === 'text_delta') blocks[index].text = `${String(blocks[index].text)}${delta.text}`;
      else json[index] += delta.partial_json;
    } else {
      t.equal(data.type, 'content_block_stop');
      t.equal(index, open);
      open = -1;
    }
  }
  t.equal(open, -1, 'every block stopped');
  json.forEach((text, i) => {
    if (blocks[i].type === 'tool_use') blocks[i].input = JSON.parse(text);
  });
  t.same(blocks, plain.content, 'the streamed blocks are the non-streamed content');
  const delta = events.at(-2)?.data as { delta: Record<string, unknown>; usage: Record<string, unknown> };
  t.same([delta.delta.stop_reason, delta.delta.stop_sequence, delta.usage.output_tokens, delta.usage.input_tokens], ['tool_use', null, 12, 9]);
});

t.test('a stop string that ended the answer is its stop_sequence', async (t) => {
  h.backend.script = () => [
    { type: 'delta', choiceIndex: 0, text: 'one two' },
    { type: 'finish', choiceIndex: 0, finishReason: 'stop', stopSequence: 'three' },
    { type: 'usage', promptTokens: 4, completionTokens: 3 },
  ];
  t.teardown(() => (h.backend.script = null));
  const plain = (await post('/v1/messages', { ...base, stop_sequences: ['three'] })).body as Record<string, unknown>;
  t.same([plain.stop_reason, plain.stop_sequence], ['stop_sequence', 'three']);
  const streamed = frames((await post('/v1/messages', { ...base, stop_sequences: ['three'], stream: true })).text);
  t.same(streamed.at(-2)?.data.delta, { stop_reason: 'stop_sequence', stop_sequence: 'three', stop_details: null, container: null });
});

t.test('an error after the first token is an error event; before it, an HTTP error', async (t) => {
  h.backend.script = () => [
    { type: 'delta', choiceIndex: 0, text: 'partial' },
    { type: 'error', error: ApiError.internal() },
  ];
  const streamed = await post('/v1/messages', { ...base, stream: true });
  t.equal(streamed.status, 200);
  const events = frames(streamed.text);
  t.same(events.at(-1), { event: 'error', data: { type: 'error', error: { type: 'api_error', message: ApiError.internal().message }, request_id: null } });
  t.notOk(events.some((e) => e.event === 'message_stop'), 'no message_stop after an error');

  h.backend.script = () => [{ type: 'error', error: ApiError.tooManyRequests() }];
  const early = await post('/v1/messages', { ...base, stream: true });
  t.equal(early.status, 429);
  t.same((early.body as { error: { type: string } }).error.type, 'rate_limit_error');
  h.backend.script = null;
});

t.test("errors on these routes have Anthropic's shape and status", async (t) => {
  const cases: Array<[string, unknown, Record<string, string>, number, string, RegExp]> = [
    ['missing max_tokens', { model: CHAT_MODEL, messages: [{ role: 'user', content: 'x' }] }, HEADERS, 400, 'invalid_request_error', /max_tokens/],
    ['bad role', { ...base, messages: [{ role: 'tool', content: 'x' }] }, HEADERS, 400, 'invalid_request_error', /messages\[0\]\.role/],
    ['unknown model', { ...base, model: 'claude-nope' }, HEADERS, 404, 'not_found_error', /claude-nope/],
    ['image block', { ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'http://x' } }] }] }, HEADERS, 400, 'invalid_request_error', /Image.*messages\[0\]\.content\[0\]/],
    ['document block', { ...base, messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] }, HEADERS, 400, 'invalid_request_error', /Document/],
    ['server tool', { ...base, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, HEADERS, 400, 'invalid_request_error', /web_search_20250305/],
    ['tool_use in a user turn', { ...base, messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'a', name: 'f', input: {} }] }] }, HEADERS, 400, 'invalid_request_error', /tool_use/],
    ['tool_choice naming a missing tool', { ...base, tools: [{ name: 'f', input_schema: {} }], tool_choice: { type: 'tool', name: 'g' } }, HEADERS, 400, 'invalid_request_error', /'g'/],
    ['wrong x-api-key', base, { ...HEADERS, 'x-api-key': 'wrong' }, 401, 'authentication_error', /API key/],
    ['no key', base, { 'content-type': 'application/json' }, 401, 'authentication_error', /x-api-key/],
    ['not JSON content', base, { ...HEADERS, 'content-type': 'text/plain' }, 415, 'invalid_request_error', /application\/json/],
    ['body not an object', [base], HEADERS, 400, 'invalid_request_error', /JSON object/],
    ['no messages', { ...base, messages: [] }, HEADERS, 400, 'invalid_request_error', /messages/],
    ['max_tokens 0', { ...base, max_tokens: 0 }, HEADERS, 400, 'invalid_request_error', /max_tokens/],
    ['temperature above 1', { ...base, temperature: 1.5 }, HEADERS, 400, 'invalid_request_error', /temperature/],
    ['stop_sequences a string', { ...base, stop_sequences: 'x' }, HEADERS, 400, 'invalid_request_error', /stop_sequences/],
    ['a system image block', { ...base, system: [{ type: 'image', source: {} }] }, HEADERS, 400, 'invalid_request_error', /system\[0\]\.type/],
    ['a text block without text', { ...base, messages: [{ role: 'user', content: [{ type: 'text' }] }] }, HEADERS, 400, 'invalid_request_error', /messages\[0\]\.content\[0\]\.text/],
    ['tool_use input not an object', { ...base, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'f', input: '{}' }] }] }, HEADERS, 400, 'invalid_request_error', /input/],
    ['an image in a tool_result', { ...base, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'a', content: [{ type: 'image', source: {} }] }] }] }, HEADERS, 400, 'invalid_request_error', /Image.*content\[0\]\.content\[0\]/],
    ["tool_choice 'tool' without a name", { ...base, tools: [{ name: 'f', input_schema: {} }], tool_choice: { type: 'tool' } }, HEADERS, 400, 'invalid_request_error', /tool_choice\.name/],
    ["tool_choice 'any' without tools", { ...base, tool_choice: { type: 'any' } }, HEADERS, 400, 'invalid_request_error', /tools/],
    ['a tool without input_schema', { ...base, tools: [{ name: 'f' }] }, HEADERS, 400, 'invalid_request_error', /input_schema/],
    ['malformed JSON', '{"model": ', HEADERS, 400, 'invalid_request_error', /JSON/],
    ['a body over the limit', { ...base, system: 'x'.repeat(70 * 1024) }, HEADERS, 413, 'request_too_large', /limit/],
  ];
  for (const [name, body, headers, status, type, message] of cases) {
    const response = await post('/v1/messages', body, headers);
    t.equal(response.status, status, `${name}: status`);
    const error = response.body as { type: string; error: { type: string; message: string } };
    t.equal(error.type, 'error', `${name}: type "error"`);
    t.equal(error.error.type, type, `${name}: error.type`);
    t.match(error.error.message, message, `${name}: message`);
  }
  const get = await fetch(`${h.base}/v1/messages`, { headers: HEADERS });
  t.equal(get.status, 405);
  t.equal(((await get.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
  const unknown = await fetch(`${h.base}/v1/messages/batches`, { method: 'POST', headers: HEADERS, body: '{}' });
  t.equal(unknown.status, 404);
  t.equal(((await unknown.json()) as { error: { type: string } }).error.type, 'not_found_error');

  h.backend.isReady = false;
  const loading = await post('/v1/messages', base);
  h.backend.isReady = true;
  t.equal(loading.status, 503);
  t.equal((loading.body as { error: { type: string } }).error.type, 'overloaded_error');
});

t.test('x-api-key works on every route; the OpenAI routes keep their error shape', async (t) => {
  const chat = await post('/v1/chat/completions', { model: CHAT_MODEL, messages: [{ role: 'user', content: 'x' }] }, { 'content-type': 'application/json', 'x-api-key': KEY });
  t.equal(chat.status, 200, 'x-api-key on /v1/chat/completions');
  const bearer = await post('/v1/messages', base, { 'content-type': 'application/json', authorization: `Bearer ${KEY}` });
  t.equal(bearer.status, 200, 'Bearer on /v1/messages');
  const refused = await post('/v1/chat/completions', { model: CHAT_MODEL, messages: [] }, { 'content-type': 'application/json', 'x-api-key': 'nope' });
  t.equal(refused.status, 401);
  t.equal((refused.body as { error: { code: string } }).error.code, 'invalid_api_key', "OpenAI's shape on OpenAI routes");
});

t.test('a client leaving mid-stream aborts the generation; requests are counted under their route', async (t) => {
  h.backend.endless = true;
  h.backend.delayMs = 5;
  t.teardown(() => {
    h.backend.endless = false;
    h.backend.delayMs = 0;
  });
  const started = h.backend.signals.length;
  const ac = new AbortController();
  const response = await fetch(`${h.base}/v1/messages`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ ...base, stream: true }), signal: ac.signal });
  t.equal(response.status, 200);
  const reader = response.body?.getReader();
  let received = '';
  while (reader && !received.includes('tok3')) received += new TextDecoder().decode((await reader.read()).value);
  t.match(received, /^event: message_start\n/, 'the stream opened with message_start');
  const signal = h.backend.signals[started];
  t.equal(signal.aborted, false, 'not aborted while the client reads');
  ac.abort();
  await Promise.race([h.backend.aborted, new Promise((_, reject) => setTimeout(() => reject(new Error('backend never saw the abort')), 3000))]);
  t.equal(signal.aborted, true);

  const metrics = await (await fetch(`${h.base}/metrics`)).text();
  t.match(metrics, /http_requests_total\{[^}]*route="\/v1\/messages"[^}]*status="200"[^}]*\} [1-9]/, 'the route label');
  t.match(metrics, /http_requests_total\{[^}]*route="\/v1\/messages"[^}]*status="400"[^}]*\} [1-9]/, 'refusals counted with their status');
});
