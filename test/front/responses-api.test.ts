// POST /v1/responses over raw HTTP (no SDK) against the scripted backend:
// the translation into the chat request, the response object, the exact
// stream event sequence, the store, and every refusal's error shape.

import fc from 'fast-check';
import t, { type Test } from 'tap';
import { ApiError } from '../../src/protocol/errors.js';
import { ResponseStore } from '../../src/front/responses/store.js';
import type { WireResponse } from '../../src/protocol/responses-api/wire.js';
import { CHAT_MODEL, REPLY_PIECES, toolCallEvents } from './fake-backend.js';
import { startHarness } from './harness.js';

const store = new ResponseStore(8);
const h = await startHarness({ responseStore: store });
t.teardown(() => h.server.close());
const fullReply = REPLY_PIECES.join('');

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
type StreamEvent = Record<string, unknown> & { type: string; sequence_number: number };

async function post(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${h.base}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: CHAT_MODEL, ...body }) });
}

async function create(body: Record<string, unknown>): Promise<WireResponse> {
  const r = await post(body);
  if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
  return (await r.json()) as WireResponse;
}

/** The named SSE events of a stream, checking each frame's `event:` line matches its data's type. */
async function stream(body: Record<string, unknown>): Promise<StreamEvent[]> {
  const r = await post({ ...body, stream: true });
  if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
  const text = await r.text();
  return text
    .split('\n\n')
    .filter((frame) => frame !== '')
    .map((frame) => {
      const [eventLine, dataLine, ...rest] = frame.split('\n');
      if (!eventLine.startsWith('event: ') || !dataLine.startsWith('data: ') || rest.length > 0) throw new Error(`malformed frame ${JSON.stringify(frame)}`);
      const data = JSON.parse(dataLine.slice(6)) as StreamEvent;
      if (data.type !== eventLine.slice(7)) throw new Error(`event ${eventLine} carries ${data.type}`);
      return data;
    });
}

async function refused(t: Test, body: Record<string, unknown>, status: number, param: string | null, code?: string): Promise<ErrorBody> {
  const r = await post(body);
  t.equal(r.status, status, `status for ${JSON.stringify(body)}`);
  const err = (await r.json()) as ErrorBody;
  t.equal(err.error.param, param, 'param');
  if (code !== undefined) t.equal(err.error.code, code, 'code');
  t.type(err.error.message, 'string');
  return err;
}

const call = (id: string, name: string, args: string) => ({ id, type: 'function' as const, function: { name, arguments: args } });

t.test('string input, instructions, usage and echoed fields', async (t) => {
  const r = await create({ input: 'hi', instructions: 'be brief', temperature: 0.5, metadata: { k: 'v' }, user: 'u1', reasoning: { effort: 'low' } });
  t.match(r.id, /^resp_[0-9a-f]{48}$/);
  t.equal(r.object, 'response');
  t.equal(r.status, 'completed');
  t.ok(Math.abs(r.created_at - Date.now() / 1000) < 5);
  t.equal(r.output.length, 1);
  const msg = r.output[0];
  t.equal(msg.type, 'message');
  if (msg.type !== 'message') return;
  t.match(msg.id, /^msg_/);
  t.same(msg.content, [{ type: 'output_text', text: fullReply, annotations: [], logprobs: [] }]);
  t.equal(msg.status, 'completed');
  t.same(r.usage, { input_tokens: 7, input_tokens_details: { cached_tokens: 0 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 11 });
  t.same(r.metadata, { k: 'v' });
  t.equal(r.user, 'u1');
  t.equal(r.instructions, 'be brief');
  t.equal(r.temperature, 0.5);
  t.same(r.text, { format: { type: 'text' } });
  t.equal(r.incomplete_details, null);
  const req = h.backend.lastChat!;
  t.same(req.messages, [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hi' },
  ], 'instructions become a leading system message');
  t.equal(req.sampling.temperature, 0.5);
  t.equal(req.sampling.maxTokens, null);
});

t.test('fields accepted without effect', async (t) => {
  const r = await create({
    input: 'hi',
    text: { format: { type: 'text' }, verbosity: 'low' },
    include: ['reasoning.encrypted_content'],
    max_tool_calls: 3,
    service_tier: 'auto',
    safety_identifier: 's',
    prompt_cache_key: 'k',
    truncation: 'disabled',
    top_logprobs: 0,
    tools: [{ type: 'function', name: 'f', strict: false }],
  });
  t.equal(r.status, 'completed');
  t.equal(h.backend.lastChat!.sampling.responseFormat, null);
});

t.test('max_output_tokens cuts the answer: status incomplete with the reason', async (t) => {
  const r = await create({ input: 'hi', max_output_tokens: 2 });
  t.equal(h.backend.lastChat!.sampling.maxTokens, 2);
  t.equal(r.status, 'incomplete');
  t.same(r.incomplete_details, { reason: 'max_output_tokens' });
  t.equal(r.completed_at, null);
  const events = await stream({ input: 'hi', max_output_tokens: 2 });
  const last = events[events.length - 1];
  t.equal(last.type, 'response.incomplete');
  t.same((last.response as WireResponse).incomplete_details, { reason: 'max_output_tokens' });
});

t.test('items: parts, roles, function calls merged into one assistant turn, outputs named', async (t) => {
  await create({
    input: [
      { role: 'developer', content: 'dev note' },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'a' }, { type: 'input_text', text: 'b' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'calling' }] },
      { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '{"city":"Oslo"}' },
      { type: 'function_call', call_id: 'call_2', name: 'time', arguments: '{}' },
      { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
      { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: 'noon' }] },
    ],
  });
  t.same(h.backend.lastChat!.messages, [
    { role: 'developer', content: 'dev note' },
    { role: 'user', content: 'a\nb' },
    { role: 'assistant', content: 'calling', toolCalls: [call('call_1', 'weather', '{"city":"Oslo"}'), call('call_2', 'time', '{}')] },
    { role: 'tool', content: 'sunny', toolCallId: 'call_1', name: 'weather' },
    { role: 'tool', content: 'noon', toolCallId: 'call_2', name: 'time' },
  ]);
});

t.test('tools, tool_choice and text.format become the chat request fields', async (t) => {
  const parameters = { type: 'object', properties: { city: { type: 'string' } } };
  const schema = { type: 'object', properties: { a: { type: 'integer' } } };
  const r = await create({
    input: 'hi',
    tools: [{ type: 'function', name: 'weather', description: 'Weather now', parameters, strict: true }],
    tool_choice: { type: 'function', name: 'weather' },
    parallel_tool_calls: false,
    text: { format: { type: 'json_schema', name: 'out', schema, strict: true } },
  });
  const req = h.backend.lastChat!;
  t.same(req.tools, [{ type: 'function', function: { name: 'weather', description: 'Weather now', parameters } }]);
  t.same(req.toolChoice, { name: 'weather' });
  t.equal(req.parallelToolCalls, false);
  t.same(req.sampling.responseFormat, { type: 'json_schema', name: 'out', schema, strict: true });
  t.same(r.tools, [{ type: 'function', name: 'weather', description: 'Weather now', parameters, strict: true }]);
  t.same(r.tool_choice, { type: 'function', name: 'weather' });
  t.same(r.text.format, { type: 'json_schema', name: 'out', schema, strict: true });
  await create({ input: 'hi', text: { format: { type: 'json_object' } } });
  t.same(h.backend.lastChat!.sampling.responseFormat, { type: 'json_object' });
});

t.test('stream: the documented event sequence, numbered from 0, and the same response as non-streamed', async (t) => {
  const events = await stream({ input: 'hi' });
  t.same(
    events.map((e) => e.type),
    [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...REPLY_PIECES.map(() => 'response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ],
  );
  t.same(events.map((e) => e.sequence_number), events.map((_, i) => i), 'sequence numbers count from 0');
  const created = events[0].response as WireResponse;
  t.equal(created.status, 'in_progress');
  t.same(created.output, []);
  const added = events[2] as StreamEvent & { item: { id: string; status: string } };
  t.equal(added.item.status, 'in_progress');
  for (const e of events.slice(3, -1)) {
    t.equal(e.item_id ?? (e.item as { id: string }).id, added.item.id, `${e.type} names the message`);
    t.equal(e.output_index, 0);
  }
  t.equal(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''), fullReply);
  t.equal(events[events.length - 4].text, fullReply, 'output_text.done carries the whole text');
  const done = events[events.length - 1].response as WireResponse;
  t.equal(done.status, 'completed');
  t.equal(done.id, created.id);
  const plain = await create({ input: 'hi' });
  t.same({ ...done, id: '', created_at: 0, completed_at: 0, output: [] }, { ...plain, id: '', created_at: 0, completed_at: 0, output: [] });
  t.same(done.output.map((o) => ({ ...o, id: '' })), plain.output.map((o) => ({ ...o, id: '' })), 'same output items');
});

t.test('function calls: items and argument events; whitespace around calls is no message', async (t) => {
  const calls = [call('call_a', 'weather', '{"city":"Oslo"}'), call('call_b', 'time', '{"tz":"UTC"}')];
  h.backend.script = () => [
    { type: 'delta', choiceIndex: 0, text: '\n' },
    ...toolCallEvents(0, 0, calls[0]),
    { type: 'delta', choiceIndex: 0, text: '\n' },
    ...toolCallEvents(0, 1, calls[1]),
    { type: 'finish', choiceIndex: 0, finishReason: 'tool_calls' },
    { type: 'usage', promptTokens: 5, completionTokens: 9 },
  ];
  t.teardown(() => (h.backend.script = null));
  const tools = [
    { type: 'function', name: 'weather', parameters: { type: 'object' } },
    { type: 'function', name: 'time', parameters: { type: 'object' } },
  ];
  const plain = await create({ input: 'hi', tools });
  t.same(
    plain.output.map((o) => (o.type === 'function_call' ? { call_id: o.call_id, name: o.name, arguments: o.arguments, status: o.status } : o)),
    calls.map((c) => ({ call_id: c.id, name: c.function.name, arguments: c.function.arguments, status: 'completed' })),
  );
  for (const o of plain.output) t.match(o.id, /^fc_/);
  const events = await stream({ input: 'hi', tools });
  const types = events.map((e) => e.type);
  const oneCall = ['response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done'];
  t.same(types, ['response.created', 'response.in_progress', ...oneCall, ...oneCall.slice(0, 4), ...oneCall.slice(5), 'response.completed']);
  const argsDone = events.filter((e) => e.type === 'response.function_call_arguments.done');
  t.same(argsDone.map((e) => [e.output_index, e.name, e.arguments]), [[0, 'weather', '{"city":"Oslo"}'], [1, 'time', '{"tz":"UTC"}']]);
  const final = events[events.length - 1].response as WireResponse;
  t.same(final.output.map((o) => o.type), ['function_call', 'function_call']);
  t.same(events.map((e) => e.sequence_number), events.map((_, i) => i));
});

t.test('text before a call: the message first, then the call', async (t) => {
  h.backend.script = () => [
    { type: 'delta', choiceIndex: 0, text: 'Let me check.' },
    ...toolCallEvents(0, 0, call('call_c', 'weather', '{}')),
    { type: 'finish', choiceIndex: 0, finishReason: 'tool_calls' },
    { type: 'usage', promptTokens: 5, completionTokens: 6 },
  ];
  t.teardown(() => (h.backend.script = null));
  const tools = [{ type: 'function', name: 'weather' }];
  const plain = await create({ input: 'hi', tools });
  t.same(plain.output.map((o) => o.type), ['message', 'function_call']);
  const events = await stream({ input: 'hi', tools });
  const final = events[events.length - 1].response as WireResponse;
  t.same(final.output.map((o) => o.type), ['message', 'function_call']);
  const added = events.filter((e) => e.type === 'response.output_item.added').map((e) => e.output_index);
  t.same(added, [0, 1]);
});

t.test('a failure after the stream began ends it with an error event', async (t) => {
  h.backend.script = () => [
    { type: 'delta', choiceIndex: 0, text: 'partial' },
    { type: 'error', error: ApiError.internal() },
  ];
  t.teardown(() => (h.backend.script = null));
  const events = await stream({ input: 'hi' });
  const last = events[events.length - 1];
  t.equal(last.type, 'error');
  t.equal(last.code, 'internal_error');
  t.type(last.message, 'string');
  t.notOk(events.some((e) => e.type === 'response.completed'));
});

t.test('the store: previous_response_id, GET, DELETE, item_reference, store: false', async (t) => {
  const first = await create({ input: 'first question', instructions: 'only for the first' });
  const second = await create({ input: 'second question', previous_response_id: first.id });
  t.equal(second.previous_response_id, first.id);
  t.same(h.backend.lastChat!.messages, [
    { role: 'user', content: 'first question' },
    { role: 'assistant', content: fullReply },
    { role: 'user', content: 'second question' },
  ], 'the earlier turn, without its instructions');
  const got = await fetch(`${h.base}/v1/responses/${second.id}`);
  t.equal(got.status, 200);
  t.same(await got.json(), second);

  const events = await stream({ input: 'streamed', previous_response_id: second.id });
  const streamed = events[events.length - 1].response as WireResponse;
  const stored = await fetch(`${h.base}/v1/responses/${streamed.id}`);
  t.same(await stored.json(), streamed, 'a streamed response is stored as completed');
  await create({ input: 'third', previous_response_id: streamed.id });
  t.same(h.backend.lastChat!.messages.map((m) => m.content), ['first question', fullReply, 'second question', fullReply, 'streamed', fullReply, 'third'], 'chains through a streamed response');

  const msgId = first.output[0].id;
  await create({ input: [{ type: 'item_reference', id: msgId }, { role: 'user', content: 'and?' }] });
  t.same(h.backend.lastChat!.messages, [
    { role: 'assistant', content: fullReply },
    { role: 'user', content: 'and?' },
  ], 'an item_reference stands for the stored item');
  const missing = await refused(t, { input: [{ type: 'item_reference', id: 'msg_nope' }] }, 404, 'input[0].id', 'item_not_found');
  t.match(missing.error.message, /msg_nope/);

  const del = await fetch(`${h.base}/v1/responses/${first.id}`, { method: 'DELETE' });
  t.same(await del.json(), { id: first.id, object: 'response.deleted', deleted: true });
  t.equal((await fetch(`${h.base}/v1/responses/${first.id}`)).status, 404);
  const again = await fetch(`${h.base}/v1/responses/${first.id}`, { method: 'DELETE' });
  t.equal(again.status, 404);
  t.equal(((await again.json()) as ErrorBody).error.code, 'response_not_found');

  const unstored = await create({ input: 'x', store: false });
  t.equal(unstored.store, false);
  const lookup = await fetch(`${h.base}/v1/responses/${unstored.id}`);
  t.equal(lookup.status, 404);
  const chained = await refused(t, { input: 'y', previous_response_id: unstored.id }, 404, 'previous_response_id', 'previous_response_not_found');
  t.equal(chained.error.type, 'invalid_request_error');
});

t.test('the store is bounded: least recently used out first', async (t) => {
  const ids: string[] = [];
  for (let i = 0; i <= store.maxResponses; i++) ids.push((await create({ input: `q${i}` })).id);
  t.equal(store.size, store.maxResponses, `capped at ${store.maxResponses} (this test server)`);
  t.equal((await fetch(`${h.base}/v1/responses/${ids[0]}`)).status, 404, 'the oldest went first');
  t.equal((await fetch(`${h.base}/v1/responses/${ids[1]}`)).status, 200, 'reading it makes it recent');
  await create({ input: 'q5' });
  t.equal((await fetch(`${h.base}/v1/responses/${ids[2]}`)).status, 404, 'so the next oldest goes');
  t.equal((await fetch(`${h.base}/v1/responses/${ids[1]}`)).status, 200);

  const tiny = new ResponseStore(10, 1);
  const a = await create({ input: 'a', store: false });
  const b = await create({ input: 'b', store: false });
  tiny.put(a, [], []);
  tiny.put(b, [], []);
  t.equal(tiny.size, 1, 'over the byte budget only the newest stays');
  t.ok(tiny.get(b.id));
});

t.test('a client gone mid-stream aborts the generation; requests are counted under the route', async (t) => {
  h.backend.endless = true;
  h.backend.delayMs = 5;
  t.teardown(() => {
    h.backend.endless = false;
    h.backend.delayMs = 0;
  });
  const started = h.backend.signals.length;
  const ac = new AbortController();
  const res = await fetch(`${h.base}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: CHAT_MODEL, input: 'hi', stream: true }),
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
  const metrics = await (await fetch(`${h.base}/metrics`)).text();
  t.match(metrics, /http_requests_total\{[^}]*route="\/v1\/responses"[^}]*status="200"[^}]*\} [1-9]/);
  t.match(metrics, /http_requests_total\{[^}]*route="\/v1\/responses"[^}]*status="499"/, 'the abort counted as 499');
});

t.test('refused and invalid fields get the OpenAI error shape naming the field', async (t) => {
  await refused(t, { input: 'x', tools: [{ type: 'web_search' }] }, 400, 'tools[0].type', 'unsupported_parameter');
  await refused(t, { input: 'x', background: true }, 400, 'background', 'unsupported_parameter');
  await refused(t, { input: 'x', truncation: 'auto' }, 400, 'truncation', 'unsupported_parameter');
  await refused(t, { input: 'x', top_logprobs: 2 }, 400, 'top_logprobs', 'unsupported_parameter');
  await refused(t, { input: 'x', include: ['message.output_text.logprobs'] }, 400, 'include', 'unsupported_parameter');
  await refused(t, { input: 'x', conversation: 'conv_1' }, 400, 'conversation', 'unsupported_parameter');
  await refused(t, { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'http://x' }] }] }, 400, 'input[0].content[0]', 'unsupported_parameter');
  await refused(t, { input: [{ type: 'reasoning', id: 'rs_1', summary: [] }] }, 400, 'input[0].type', 'unsupported_parameter');
  await refused(t, { input: 'x', tool_choice: { type: 'web_search_preview' } }, 400, 'tool_choice', 'unsupported_parameter');
  await refused(t, { input: 'x', tools: [{ type: 'function', name: 'f' }], tool_choice: { type: 'function', name: 'g' } }, 400, 'tool_choice');
  await refused(t, {}, 400, 'input', 'missing_required_parameter');
  await refused(t, { input: [] }, 400, 'input', 'empty_array');
  await refused(t, { input: 'x', max_output_tokens: 0 }, 400, 'max_output_tokens');
  await refused(t, { input: 'x', tool_choice: 'sometimes' }, 400, 'tool_choice');
  await refused(t, { input: 'x', text: { format: { type: 'json_schema', schema: {} } } }, 400, 'text.format.name', 'missing_required_parameter');
  await refused(t, { input: [{ type: 'function_call', call_id: 'c', name: 'f' }] }, 400, 'input[0].arguments', 'missing_required_parameter');
  await refused(t, { input: [{ role: 'user' }] }, 400, 'input[0].content', 'missing_required_parameter');
  await refused(t, { input: 'x', model: 'nope' }, 404, 'model', 'model_not_found');
  t.equal((await fetch(`${h.base}/v1/responses/resp_unknown`)).status, 404);
  const items = await fetch(`${h.base}/v1/responses/resp_unknown/input_items`);
  t.equal(items.status, 404);
  t.equal(((await items.json()) as ErrorBody).error.code, 'unknown_route', 'input_items is not served');
});

t.test('an API key guards /v1/responses and /tokenize alike', async (t) => {
  const keyed = await startHarness({ apiKey: 'sekrit' });
  t.teardown(() => keyed.server.close());
  const send = (path: string, key?: string): Promise<Response> =>
    fetch(keyed.base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(path === '/v1/responses' ? { model: CHAT_MODEL, input: 'hi' } : { model: CHAT_MODEL, prompt: 'hi', tokens: [1] }),
    });
  for (const path of ['/v1/responses', '/tokenize', '/detokenize']) t.equal((await send(path)).status, 401, `${path} without the key`);
  t.equal((await send('/v1/responses', 'sekrit')).status, 200);
  t.equal((await send('/tokenize', 'sekrit')).status, 404, 'past the key: this backend has no tokenizer');
});

t.test('random bodies: every answer is a response or an OpenAI error, never a 500', async (t) => {
  const anyJson = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
  /** Usually a plausible value, sometimes any JSON: most bodies get past the schema, some do not. */
  const mostly = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: good, weight: 30 }, { arbitrary: anyJson, weight: 1 });
  const rarely = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>): fc.Arbitrary<T | U> => fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: bad, weight: 1 });
  const part = fc.record({ type: rarely(fc.constantFrom('input_text', 'output_text', 'refusal', 'text'), fc.constant('input_image')), text: fc.string({ maxLength: 8 }), refusal: fc.string({ maxLength: 4 }) }, { requiredKeys: ['type'] });
  const item = fc.record(
    {
      type: rarely(fc.constantFrom('message', 'function_call', 'function_call_output'), fc.constantFrom('item_reference', 'reasoning')),
      role: rarely(fc.constantFrom('user', 'system', 'developer', 'assistant'), fc.constant('tool')),
      content: fc.oneof(fc.string({ maxLength: 8 }), fc.array(part, { maxLength: 3 })),
      call_id: fc.string({ maxLength: 6 }),
      name: fc.string({ maxLength: 6 }),
      arguments: mostly(fc.string({ maxLength: 8 })),
      output: fc.oneof(fc.string({ maxLength: 8 }), fc.array(part, { maxLength: 2 })),
      id: fc.oneof(fc.string({ maxLength: 6 }), fc.constant(null)),
    },
    { requiredKeys: [] },
  );
  const body = fc.record(
    {
      model: rarely(fc.constant(CHAT_MODEL), anyJson),
      input: mostly(fc.oneof(fc.string({ maxLength: 12 }), fc.array(item, { maxLength: 4 }))),
      instructions: mostly(fc.string({ maxLength: 8 })),
      max_output_tokens: mostly(rarely(fc.integer({ min: 1, max: 8 }), fc.integer({ min: -2, max: 0 }))),
      temperature: mostly(rarely(fc.double({ min: 0, max: 2, noNaN: true }), fc.double({ min: -1, max: 3, noNaN: true }))),
      tools: mostly(fc.array(fc.record({ type: rarely(fc.constant('function'), fc.constantFrom('web_search', 'mcp')), name: rarely(fc.constantFrom('f', 'g'), fc.constant('bad name')), parameters: fc.constant({ type: 'object' }) }, { requiredKeys: ['type'] }), { maxLength: 2 })),
      tool_choice: mostly(rarely(fc.constantFrom('none', 'auto'), fc.oneof(fc.constantFrom('required', 'x'), fc.record({ type: fc.constantFrom('function', 'file_search'), name: fc.constantFrom('f', 'g') })))),
      text: mostly(fc.record({ format: rarely(fc.record({ type: fc.constantFrom('text', 'json_object', 'json_schema'), name: fc.constant('n'), schema: fc.constant({ type: 'object' }) }), anyJson) })),
      previous_response_id: rarely(fc.constant(null), fc.string({ maxLength: 6 })),
      store: mostly(fc.boolean()),
      stream: fc.boolean(),
      metadata: mostly(fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 3 })),
      background: rarely(fc.constant(false), anyJson),
      include: mostly(rarely(fc.constant(['reasoning.encrypted_content']), fc.constant(['message.output_text.logprobs']))),
    },
    { requiredKeys: ['model', 'input'] },
  );
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(body, async (b) => {
      const r = await fetch(`${h.base}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      const text = await r.text();
      if (r.status === 200) {
        if (b.stream === true) return text.includes('event: response.completed') || text.includes('event: response.incomplete');
        return (JSON.parse(text) as { object: string }).object === 'response';
      }
      const err = JSON.parse(text) as ErrorBody;
      return (r.status === 400 || r.status === 404) && typeof err.error.message === 'string' && typeof err.error.type === 'string';
    }),
    { numRuns: 400, seed: 20261206 },
  );
  t.comment(`statuses: ${JSON.stringify([...statuses])}`);
  t.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(400) ?? 0) > 0, 'both accepted and refused bodies were generated');
});
