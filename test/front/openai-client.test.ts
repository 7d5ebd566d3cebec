// End to end through the official openai npm client: the server's responses
// must parse as the real OpenAI API's do.

import t from 'tap';
import OpenAI from 'openai';
import type { GenerationEvent } from '../../src/front/backend.js';
import { CHAT_MODEL, EMBED_MODEL, REPLY_PIECES, toolCallEvents } from './fake-backend.js';
import { startHarness } from './harness.js';

const h = await startHarness();
t.teardown(() => h.server.close());
const client = new OpenAI({ baseURL: `${h.base}/v1`, apiKey: 'x', maxRetries: 0 });
const fullReply = REPLY_PIECES.join('');

t.test('chat, non-streamed', async (t) => {
  const r = await client.chat.completions.create({
    model: CHAT_MODEL,
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'text', text: 'there' }] },
    ],
    max_completion_tokens: 50,
    max_tokens: 2,
    temperature: 0.5,
  });
  t.equal(r.object, 'chat.completion');
  t.match(r.id, /^chatcmpl-[0-9a-f]{24}$/);
  t.equal(r.model, CHAT_MODEL);
  t.equal(r.system_fingerprint, null);
  t.ok(Math.abs(r.created - Date.now() / 1000) < 5, 'created is now, in seconds');
  t.equal(r.choices.length, 1);
  t.equal(r.choices[0].message.role, 'assistant');
  t.equal(r.choices[0].message.content, fullReply, 'max_completion_tokens (50) wins over max_tokens (2)');
  t.equal(r.choices[0].finish_reason, 'stop');
  t.same(r.usage, { prompt_tokens: 7, completion_tokens: REPLY_PIECES.length, total_tokens: 7 + REPLY_PIECES.length });
  const req = h.backend.lastChat!;
  t.equal(req.messages[1].content, 'hi\nthere', 'text parts joined with newline');
  t.equal(req.sampling.temperature, 0.5);
  t.equal(req.sampling.maxTokens, 50);
  t.equal(req.sampling.topP, undefined, 'unset sampling knobs stay undefined for model defaults');
});

t.test('chat, n=2 with logprobs and length finish', async (t) => {
  const r = await client.chat.completions.create({
    model: CHAT_MODEL,
    messages: [{ role: 'user', content: 'hi' }],
    n: 2,
    max_tokens: 2,
    logprobs: true,
    top_logprobs: 3,
  });
  t.equal(r.choices.length, 2);
  for (const [i, c] of r.choices.entries()) {
    t.equal(c.index, i);
    t.equal(c.message.content, 'Hello,');
    t.equal(c.finish_reason, 'length');
    t.equal(c.logprobs?.content?.length, 2);
    t.equal(c.logprobs?.content?.[0].token, 'Hello');
    t.equal(c.logprobs?.content?.[0].top_logprobs.length, 3);
  }
});

t.test('chat, streamed with include_usage', async (t) => {
  const stream = await client.chat.completions.create({
    model: CHAT_MODEL,
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const ids = new Set(chunks.map((c) => c.id));
  t.equal(ids.size, 1, 'one id for the whole stream');
  t.same(chunks[0].choices[0].delta, { role: 'assistant', content: '' }, 'first chunk announces the role');
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  t.equal(text, fullReply);
  const finishChunk = chunks[chunks.length - 2];
  t.equal(finishChunk.choices[0].finish_reason, 'stop');
  t.same(finishChunk.choices[0].delta, {}, 'finish chunk has an empty delta');
  const last = chunks[chunks.length - 1];
  t.same(last.choices, [], 'usage chunk has no choices');
  t.same(last.usage, { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 });
  for (const c of chunks.slice(0, -1)) t.equal(c.usage, null, 'other chunks carry usage: null');
  t.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
});

t.test('chat, streamed without include_usage has no usage field', async (t) => {
  const stream = await client.chat.completions.create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  t.ok(chunks.every((c) => !('usage' in c)));
  t.equal(chunks[chunks.length - 1].choices[0].finish_reason, 'stop');
});

const WEATHER_TOOL = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object' } } }];

/** Round-robin merge of per-choice event lists (choices interleave as a real backend's do). */
function interleave(...lists: GenerationEvent[][]): GenerationEvent[] {
  const out: GenerationEvent[] = [];
  for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) out.push(l[i]);
  return out;
}

t.test('chat, tool calls stream incrementally', async (t) => {
  const call = { id: 'call_1', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
  h.backend.script = () => [
    ...toolCallEvents(0, 0, call, 4),
    { type: 'finish', choiceIndex: 0, finishReason: 'tool_calls' },
    { type: 'usage', promptTokens: 5, completionTokens: 9 },
  ];
  t.teardown(() => (h.backend.script = null));
  const messages = [{ role: 'user' as const, content: 'weather?' }];
  const r = await client.chat.completions.create({ model: CHAT_MODEL, messages, tools: WEATHER_TOOL, tool_choice: 'auto' });
  t.equal(r.choices[0].finish_reason, 'tool_calls');
  t.equal(r.choices[0].message.content, null, 'content null beside tool calls');
  t.strictSame(r.choices[0].message.tool_calls, [call], 'non-streamed: the reassembled call');
  t.same(h.backend.lastChat?.tools?.[0].function.name, 'get_weather');

  const stream = await client.chat.completions.create({ model: CHAT_MODEL, messages, tools: WEATHER_TOOL, stream: true, stream_options: { include_usage: true } });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  t.strictSame(chunks[0].choices[0].delta, { role: 'assistant', content: '' }, 'first chunk announces the role');
  const toolDeltas = chunks.slice(1, -2).map((c) => c.choices[0].delta);
  t.ok(toolDeltas.every((d) => d.tool_calls?.length === 1 && d.content === undefined), 'each middle chunk carries exactly one tool-call delta');
  t.strictSame(toolDeltas[0].tool_calls, [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }], 'the call opens with id, type and name');
  const fragments = toolDeltas.slice(1).map((d) => d.tool_calls?.[0]);
  t.strictSame(fragments, ['{"ci', 'ty":', '"Par', 'is"}'].map((arguments_) => ({ index: 0, function: { arguments: arguments_ } })), 'then argument fragments only');
  const finish = chunks[chunks.length - 2].choices[0];
  t.strictSame(finish.delta, {}, 'finish chunk has an empty delta');
  t.equal(finish.finish_reason, 'tool_calls');
  t.same(chunks[chunks.length - 1].usage, { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 });
  t.ok(chunks.slice(0, -2).every((c) => c.choices[0].finish_reason === null));

  // The official client's stream accumulator rebuilds the same message.
  const helper = client.chat.completions.stream({ model: CHAT_MODEL, messages, tools: WEATHER_TOOL });
  const final = await helper.finalChatCompletion();
  t.strictSame(final.choices[0].message.tool_calls, [call], 'openai ChatCompletionStream reassembles the call');
  t.equal(final.choices[0].finish_reason, 'tool_calls');
});

t.test('chat, n=2: text and tool calls interleave per choice', async (t) => {
  const a = { id: 'call_a', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Oslo","days":3}' } };
  const b = { id: 'call_b', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
  const c = { id: 'call_c', type: 'function' as const, function: { name: 'get_time', arguments: '{}' } };
  h.backend.script = () => [
    ...interleave(
      [{ type: 'delta', choiceIndex: 0, text: 'Let me check.' }, ...toolCallEvents(0, 0, a, 5), { type: 'finish', choiceIndex: 0, finishReason: 'tool_calls' }],
      [...toolCallEvents(1, 0, b, 3), ...toolCallEvents(1, 1, c, 3), { type: 'finish', choiceIndex: 1, finishReason: 'tool_calls' }],
    ),
    { type: 'usage', promptTokens: 5, completionTokens: 30 },
  ];
  t.teardown(() => (h.backend.script = null));
  const messages = [{ role: 'user' as const, content: 'weather?' }];
  const r = await client.chat.completions.create({ model: CHAT_MODEL, messages, tools: WEATHER_TOOL, n: 2 });
  t.equal(r.choices[0].message.content, 'Let me check.');
  t.strictSame(r.choices[0].message.tool_calls, [a]);
  t.equal(r.choices[1].message.content, null);
  t.strictSame(r.choices[1].message.tool_calls, [b, c]);
  t.ok(r.choices.every((choice) => choice.finish_reason === 'tool_calls'));

  const stream = await client.chat.completions.create({ model: CHAT_MODEL, messages, tools: WEATHER_TOOL, n: 2, stream: true });
  const perChoice: { text: string; calls: { id: string; name: string; arguments: string }[]; finish: string | null }[] = [0, 1].map(() => ({ text: '', calls: [], finish: null }));
  const order: string[] = [];
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    order.push(`${choice.index}:${choice.delta.tool_calls ? 'call' : choice.finish_reason ?? 'text'}`);
    const acc = perChoice[choice.index];
    t.equal(acc.finish, null, 'nothing after a choice finished');
    acc.text += choice.delta.content ?? '';
    for (const d of choice.delta.tool_calls ?? []) {
      if (d.index === acc.calls.length) {
        t.ok(d.id !== undefined && d.type === 'function' && d.function?.name !== undefined, 'a new call starts with id, type and name');
        acc.calls.push({ id: d.id ?? '', name: d.function?.name ?? '', arguments: d.function?.arguments ?? '' });
      } else {
        t.strictSame(Object.keys(d).sort(), ['function', 'index'], 'later deltas carry only the index and arguments');
        acc.calls[d.index].arguments += d.function?.arguments ?? '';
      }
    }
    acc.finish = choice.finish_reason ?? null;
  }
  t.ok(order.indexOf('1:call') < order.indexOf('0:call') && order.indexOf('0:call') < order.indexOf('1:tool_calls'), 'choices interleave in the stream');
  t.strictSame(perChoice, [
    { text: 'Let me check.', calls: [{ id: a.id, name: a.function.name, arguments: a.function.arguments }], finish: 'tool_calls' },
    { text: '', calls: [b, c].map((x) => ({ id: x.id, name: x.function.name, arguments: x.function.arguments })), finish: 'tool_calls' },
  ]);

  const final = await client.chat.completions.stream({ model: CHAT_MODEL, messages, tools: WEATHER_TOOL, n: 2 }).finalChatCompletion();
  t.strictSame(final.choices.map((choice) => choice.message.tool_calls), [[a], [b, c]], 'openai ChatCompletionStream agrees');
});

t.test('tool-call deltas out of order, or on completions, are a backend bug (500)', async (t) => {
  t.teardown(() => (h.backend.script = null));
  const messages = [{ role: 'user' as const, content: 'weather?' }];
  h.backend.script = () => [
    { type: 'tool_call_delta', choiceIndex: 0, delta: { index: 0, function: { arguments: '{}' } } },
    { type: 'finish', choiceIndex: 0, finishReason: 'tool_calls' },
    { type: 'usage', promptTokens: 5, completionTokens: 9 },
  ];
  await t.rejects(client.chat.completions.create({ model: CHAT_MODEL, messages, tools: WEATHER_TOOL }), { status: 500, message: /./ }, 'fragment before its header');
  h.backend.script = () => [
    ...toolCallEvents(0, 1, { id: 'call_x', type: 'function', function: { name: 'get_weather', arguments: '{}' } }),
    { type: 'finish', choiceIndex: 0, finishReason: 'tool_calls' },
    { type: 'usage', promptTokens: 5, completionTokens: 9 },
  ];
  await t.rejects(client.chat.completions.create({ model: CHAT_MODEL, messages, tools: WEATHER_TOOL }), { status: 500, message: /./ }, 'call index skipped');
  h.backend.script = () => [
    ...toolCallEvents(0, 0, { id: 'call_x', type: 'function', function: { name: 'get_weather', arguments: '{}' } }),
    { type: 'finish', choiceIndex: 0, finishReason: 'tool_calls' },
    { type: 'usage', promptTokens: 5, completionTokens: 9 },
  ];
  await t.rejects(client.completions.create({ model: CHAT_MODEL, prompt: 'x' }), { status: 500, message: /./ }, 'completions never carry tool calls');
});

t.test('error after the stream started surfaces as an APIError', async (t) => {
  const { ApiError } = await import('../../src/protocol/errors.js');
  h.backend.script = () => [
    { type: 'delta', choiceIndex: 0, text: 'partial' },
    { type: 'error', error: ApiError.internal('engine died') },
  ];
  t.teardown(() => (h.backend.script = null));
  const stream = await client.chat.completions.create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true });
  const seen: string[] = [];
  await t.rejects(
    (async () => {
      for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
    })(),
    { message: /engine died/ },
  );
  t.ok(seen.includes('partial'), 'content before the error was delivered');
});

t.test('error before the first token becomes an HTTP status', async (t) => {
  const { ApiError } = await import('../../src/protocol/errors.js');
  h.backend.script = () => [{ type: 'error', error: ApiError.tooManyRequests('queue full') }];
  t.teardown(() => (h.backend.script = null));
  await t.rejects(client.chat.completions.create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true }), {
    status: 429,
    message: /queue full/,
  });
  h.backend.throwOnStart = new Error('secret internal detail /etc/passwd');
  t.teardown(() => (h.backend.throwOnStart = null));
  const err = await client.chat.completions.create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.APIError);
  t.equal((err as InstanceType<typeof OpenAI.APIError>).status, 500);
  t.notMatch((err as Error).message, /secret|passwd/, 'internal details are not leaked');
});

t.test('completions: plain, array prompt, echo, streamed', async (t) => {
  const r = await client.completions.create({ model: CHAT_MODEL, prompt: 'Once upon' });
  t.equal(r.object, 'text_completion');
  t.match(r.id, /^cmpl-[0-9a-f]{24}$/);
  t.equal(r.choices[0].text, ' answer 0.0');
  t.equal(r.choices[0].finish_reason, 'length');
  t.equal(h.backend.lastCompletion?.sampling.maxTokens, 16, 'legacy default max_tokens is 16');

  const batch = await client.completions.create({ model: CHAT_MODEL, prompt: ['a', 'b'], n: 2, echo: true, max_tokens: 5 });
  t.same(
    batch.choices.map((c) => [c.index, c.text]),
    [
      [0, 'a answer 0.0'],
      [1, 'a answer 0.1'],
      [2, 'b answer 1.0'],
      [3, 'b answer 1.1'],
    ],
  );
  t.same(batch.usage, { prompt_tokens: 6, completion_tokens: 8, total_tokens: 14 });

  const tokens = await client.completions.create({ model: CHAT_MODEL, prompt: [[1, 2], [3]] });
  t.same(h.backend.lastCompletion?.prompts, [{ type: 'tokens', ids: [1, 2] }, { type: 'tokens', ids: [3] }]);
  t.equal(tokens.choices.length, 2);

  const stream = await client.completions.create({ model: CHAT_MODEL, prompt: ['x', 'y'], stream: true, stream_options: { include_usage: true } });
  const byIndex = new Map<number, string>();
  const finishes: Array<[number, string | null]> = [];
  let usage = null;
  for await (const c of stream) {
    t.equal(c.object, 'text_completion');
    for (const ch of c.choices) {
      byIndex.set(ch.index, (byIndex.get(ch.index) ?? '') + ch.text);
      if (ch.finish_reason !== null) finishes.push([ch.index, ch.finish_reason]);
    }
    if (c.usage) usage = c.usage;
  }
  t.same([...byIndex.entries()].sort(), [[0, ' answer 0.0'], [1, ' answer 1.0']]);
  t.same(finishes, [[0, 'length'], [1, 'length']]);
  t.same(usage, { prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 });
});

t.test('models list and retrieve (ids with a slash)', async (t) => {
  const list = await client.models.list();
  t.same(list.data.map((m) => m.id), [CHAT_MODEL, EMBED_MODEL]);
  const m = await client.models.retrieve(CHAT_MODEL);
  t.equal(m.id, CHAT_MODEL);
  t.equal(m.object, 'model');
  t.equal(m.owned_by, 'serval');
  await t.rejects(client.models.retrieve('nope/missing'), { status: 404, message: /does not exist/ });
});

t.test('embeddings (client default base64, and float)', async (t) => {
  const r = await client.embeddings.create({ model: EMBED_MODEL, input: ['a', 'b'] });
  t.equal(r.data.length, 2);
  t.same(r.data[1].embedding, [1, 1.25, 1.5, 1.75], 'base64 float32 decodes to the backend vector');
  const f = await client.embeddings.create({ model: EMBED_MODEL, input: 'a', encoding_format: 'float', dimensions: 2 });
  t.same(f.data[0].embedding, [0, 0.25]);
  t.same(f.usage, { prompt_tokens: 2, total_tokens: 2 });
  await t.rejects(client.embeddings.create({ model: CHAT_MODEL, input: 'a' }), { status: 400, message: /chat model/ });
});
