// The official `@anthropic-ai/sdk` against a real Serval server (tiny
// generated model, real engine) with an API key, which the SDK sends as
// x-api-key. Greedy outputs are compared between messages.create and
// messages.stream, so a translation or streaming bug shows up as a mismatch.

import Anthropic from '@anthropic-ai/sdk';
import type { MessageCreateParamsNonStreaming, MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { Ajv2020 } from 'ajv/dist/2020.js';
import t from 'tap';
import { MODEL_ID, startRealServer } from './harness.js';

const KEY = 'e2e-anthropic-key';
const served = await startRealServer({}, 'tiny', { apiKey: KEY });
t.teardown(() => served.close());
const client = new Anthropic({ baseURL: served.base, apiKey: KEY, maxRetries: 0 });
const ajv = new Ajv2020({ strict: false });

/** Messages API params plus the sampling fields this SDK version no longer types (the API still takes them). */
type Params = MessageCreateParamsNonStreaming & { temperature?: number };
const greedy = (params: Omit<Params, 'model'>): Params => ({ model: MODEL_ID, temperature: 0, ...params });

const WEATHER: Tool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { enum: ['Paris', 'Oslo'] }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city', 'days'], additionalProperties: false },
};
const TIME: Tool = { name: 'get_time', input_schema: { type: 'object', properties: { zone: { enum: ['UTC', 'CET'] } }, required: ['zone'], additionalProperties: false } };

function text(message: Anthropic.Message): string {
  return message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
}

/** create and stream of the same request: the stream's final message, its raw events, and the text it streamed. */
async function both(params: Params): Promise<{ plain: Anthropic.Message; streamed: Anthropic.Message; events: Anthropic.MessageStreamEvent[]; texts: string }> {
  const plain = await client.messages.create(params);
  const stream = client.messages.stream(params);
  const events: Anthropic.MessageStreamEvent[] = [];
  let texts = '';
  stream.on('streamEvent', (event) => events.push(event));
  stream.on('text', (delta) => (texts += delta));
  const streamed = await stream.finalMessage();
  return { plain, streamed, events, texts };
}

t.test('create and stream agree at temperature 0; system as a string or as blocks', async (t) => {
  const messages: MessageParam[] = [{ role: 'user', content: 'Tell me about serval cats.' }];
  const none = await client.messages.create(greedy({ max_tokens: 12, messages }));
  const asString = await both(greedy({ max_tokens: 12, system: 'You are terse.\nAnswer in French.', messages }));
  const asBlocks = await both(greedy({ max_tokens: 12, system: [{ type: 'text', text: 'You are terse.' }, { type: 'text', text: 'Answer in French.' }], messages }));
  for (const [name, run] of [['string', asString], ['blocks', asBlocks]] as const) {
    const { plain, streamed, texts } = run;
    t.equal(plain.type, 'message');
    t.equal(plain.role, 'assistant');
    t.match(plain.id, /^msg_/);
    t.equal(plain.model, MODEL_ID);
    t.ok(text(plain).length > 0, `${name}: some text`);
    t.equal(text(streamed), text(plain), `${name}: same text`);
    t.equal(texts, text(plain), `${name}: the text deltas add up to it`);
    t.equal(streamed.stop_reason, plain.stop_reason, `${name}: same stop_reason`);
    t.same(streamed.usage, plain.usage, `${name}: same usage`);
    t.ok(plain.stop_reason === 'max_tokens' || plain.stop_reason === 'end_turn');
    t.same([plain.usage.cache_creation_input_tokens, plain.usage.cache_read_input_tokens], [0, 0]);
  }
  t.ok(asString.plain.usage.input_tokens > none.usage.input_tokens, 'the system prompt is part of the prompt');
  t.equal(asBlocks.plain.usage.input_tokens, asString.plain.usage.input_tokens, 'text blocks are joined like the string');
  t.equal(text(asBlocks.plain), text(asString.plain), 'blocks and string give the same answer');
  const kinds = asString.events.map((e) => e.type);
  t.equal(kinds[0], 'message_start');
  t.equal(kinds.at(-1), 'message_stop');
  t.equal(kinds.at(-2), 'message_delta');
  const start = asString.events[0];
  if (start.type === 'message_start') t.equal(start.message.usage.input_tokens, asString.plain.usage.input_tokens, 'message_start already reports the input tokens');
});

t.test('max_tokens and stop_sequences end the answer with their stop_reason', async (t) => {
  const messages: MessageParam[] = [{ role: 'user', content: 'Once upon a time, in a land far away' }];
  const long = await client.messages.create(greedy({ max_tokens: 24, messages }));
  t.equal(long.stop_reason, 'max_tokens');
  t.equal(long.stop_sequence, null);
  t.equal(long.usage.output_tokens, 24);
  const full = text(long);
  // A stop sequence from the middle of the greedy answer: the answer must end right before it.
  const sequence = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 2);
  t.ok(sequence.length === 2, `stop sequence ${JSON.stringify(sequence)} from ${JSON.stringify(full)}`);
  const { plain, streamed } = await both(greedy({ max_tokens: 24, messages, stop_sequences: ['never-there', sequence] }));
  for (const [name, message] of [['create', plain], ['stream', streamed]] as const) {
    t.equal(message.stop_reason, 'stop_sequence', `${name}: stop_reason`);
    t.equal(message.stop_sequence, sequence, `${name}: the sequence that matched`);
    t.equal(text(message), full.slice(0, full.indexOf(sequence)), `${name}: the text before it`);
  }
  t.same(streamed.usage, plain.usage);
});

t.test('tool_use → tool_result round trip with tool_choice any and tool; none gives text', async (t) => {
  const question: MessageParam = { role: 'user', content: 'What is the weather in Paris?' };
  const any = await client.messages.create(greedy({ max_tokens: 200, messages: [question], tools: [WEATHER, TIME], tool_choice: { type: 'any' } }));
  t.equal(any.stop_reason, 'tool_use');
  const uses = any.content.filter((block) => block.type === 'tool_use');
  t.ok(uses.length >= 1, 'at least one tool_use block');
  for (const use of uses) {
    const tool = [WEATHER, TIME].find((candidate) => candidate.name === use.name);
    t.ok(tool, `an offered tool: ${use.name}`);
    t.match(use.id, /^toolu_/);
    t.ok(tool && ajv.validate(tool.input_schema, use.input), `input ${JSON.stringify(use.input)} validates against its input_schema`);
  }

  const named = await client.messages.create(greedy({ max_tokens: 200, messages: [question], tools: [WEATHER, TIME], tool_choice: { type: 'tool', name: 'get_time' } }));
  const namedUses = named.content.filter((block) => block.type === 'tool_use');
  t.equal(namedUses.length, 1, 'a named tool: exactly one call');
  t.equal(namedUses[0]?.name, 'get_time');
  t.ok(ajv.validate(TIME.input_schema, namedUses[0]?.input), `input ${JSON.stringify(namedUses[0]?.input)} validates`);
  t.equal(named.stop_reason, 'tool_use');

  const results: MessageParam = {
    role: 'user',
    content: uses.map((use) => ({ type: 'tool_result' as const, tool_use_id: use.id, content: [{ type: 'text' as const, text: 'Sunny, 24 degrees.' }] })),
  };
  const history: MessageParam[] = [question, { role: 'assistant', content: any.content }, results];
  const answer = await client.messages.create(greedy({ max_tokens: 16, messages: history, tools: [WEATHER, TIME], tool_choice: { type: 'none' } }));
  t.equal(answer.content.filter((block) => block.type === 'tool_use').length, 0, 'none: no tool_use');
  t.not(answer.stop_reason, 'tool_use');
  t.ok(text(answer).length > 0, 'none: a text answer');
  const withoutResults = await client.messages.countTokens({ model: MODEL_ID, messages: [question, { role: 'assistant', content: any.content }, { role: 'user', content: 'ok' }], tools: [WEATHER, TIME], tool_choice: { type: 'none' } });
  const counted = await client.messages.countTokens({ model: MODEL_ID, messages: history, tools: [WEATHER, TIME], tool_choice: { type: 'none' } });
  t.equal(counted.input_tokens, answer.usage.input_tokens, 'count_tokens equals the usage of the same request');
  t.ok(counted.input_tokens > withoutResults.input_tokens, 'the tool results are in the prompt');
});

t.test('streamed tool use: input_json_delta fragments concatenate to the input', async (t) => {
  const params = greedy({ max_tokens: 200, messages: [{ role: 'user', content: 'weather' }], tools: [WEATHER], tool_choice: { type: 'any' } });
  const { plain, streamed, events } = await both(params);
  const json = new Map<number, string>();
  let fragments = 0;
  for (const event of events) {
    if (event.type === 'content_block_start' && event.content_block.type === 'tool_use') {
      t.same(event.content_block.input, {}, 'a tool_use block starts with an empty input');
      json.set(event.index, '');
    }
    if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') {
      fragments++;
      json.set(event.index, (json.get(event.index) ?? '') + event.delta.partial_json);
    }
  }
  t.ok(json.size >= 1, 'a tool_use block streamed');
  t.ok(fragments > json.size, `the input arrived in pieces (${fragments} fragments)`);
  for (const [index, text] of json) {
    const block = streamed.content[index];
    t.equal(block?.type, 'tool_use');
    if (block?.type === 'tool_use') t.same(JSON.parse(text), block.input, `block ${index}: the fragments parse to the input`);
  }
  t.same(
    streamed.content.map((block) => (block.type === 'tool_use' ? { name: block.name, input: block.input } : block)),
    plain.content.map((block) => (block.type === 'tool_use' ? { name: block.name, input: block.input } : block)),
    'the streamed blocks equal the non-streamed ones',
  );
  t.equal(streamed.stop_reason, 'tool_use');
  t.same(streamed.usage, plain.usage);
});

t.test('count_tokens equals usage.input_tokens', async (t) => {
  const messages: MessageParam[] = [
    { role: 'user', content: 'Hello there.' },
    { role: 'assistant', content: [{ type: 'text', text: 'Hi! How can I help?' }] },
    { role: 'user', content: [{ type: 'text', text: 'Tell me a story.' }] },
  ];
  const system = 'You tell short stories.';
  const counted = await client.messages.countTokens({ model: MODEL_ID, messages, system, tools: [WEATHER] });
  const made = await client.messages.create(greedy({ max_tokens: 4, messages, system, tools: [WEATHER] }));
  t.equal(counted.input_tokens, made.usage.input_tokens);
  const plain = await client.messages.countTokens({ model: MODEL_ID, messages, system });
  t.ok(plain.input_tokens < counted.input_tokens, 'tools count');
});

t.test('errors: status and error.type; the server stays up', async (t) => {
  const expectError = async (name: string, call: () => Promise<unknown>, status: number, type: string): Promise<void> => {
    try {
      await call();
      t.fail(`${name}: should have failed`);
    } catch (error) {
      t.ok(error instanceof Anthropic.APIError, `${name}: an APIError`);
      if (!(error instanceof Anthropic.APIError)) return;
      t.equal(error.status, status, `${name}: status`);
      t.equal(error.type, type, `${name}: error.type`);
      t.equal((error.error as { type?: string }).type, 'error', `${name}: the body is an Anthropic error`);
    }
  };
  const messages: MessageParam[] = [{ role: 'user', content: 'x' }];
  await expectError('missing max_tokens', () => client.messages.create({ model: MODEL_ID, messages } as unknown as Params), 400, 'invalid_request_error');
  await expectError('bad role', () => client.messages.create({ model: MODEL_ID, max_tokens: 4, messages: [{ role: 'tool', content: 'x' }] } as unknown as Params), 400, 'invalid_request_error');
  await expectError('unknown model', () => client.messages.create({ model: 'claude-opus-5', max_tokens: 4, messages }), 404, 'not_found_error');
  const stranger = new Anthropic({ baseURL: served.base, apiKey: 'wrong-key', maxRetries: 0 });
  await expectError('wrong api key', () => stranger.messages.create({ model: MODEL_ID, max_tokens: 4, messages }), 401, 'authentication_error');
  await expectError('wrong api key, streamed', () => stranger.messages.stream({ model: MODEL_ID, max_tokens: 4, messages }).finalMessage(), 401, 'authentication_error');
  await expectError('count_tokens, unknown model', () => client.messages.countTokens({ model: 'nope', messages }), 404, 'not_found_error');
  const after = await client.messages.create(greedy({ max_tokens: 3, messages }));
  t.equal(after.type, 'message', 'the server still answers');
});

t.test('a final assistant turn is continued (prefill)', async (t) => {
  const prefill = 'The serval is';
  const messages: MessageParam[] = [{ role: 'user', content: 'Describe a serval.' }, { role: 'assistant', content: prefill }];
  const made = await client.messages.create(greedy({ max_tokens: 8, messages }));
  // The same prompt by hand: the template's rendering cut right after the prefill, as raw token ids.
  const { template, tokenizer } = served.model;
  const rendered = template?.render({ messages: [{ role: 'user', content: 'Describe a serval.' }, { role: 'assistant', content: prefill }], addGenerationPrompt: false, tools: null }) ?? '';
  const prompt = await tokenizer.encode(rendered.slice(0, rendered.lastIndexOf(prefill) + prefill.length), { addSpecialTokens: false });
  t.equal(made.usage.input_tokens, prompt.length, 'the prompt ends with the prefill');
  const response = await fetch(`${served.base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: MODEL_ID, prompt, max_tokens: 8, temperature: 0 }),
  });
  const raw = (await response.json()) as { choices: Array<{ text: string }> };
  t.equal(text(made), raw.choices[0].text, 'the answer continues the prefill');
});

t.test('output_config.format constrains the text to the schema', async (t) => {
  const schema = { type: 'object', properties: { city: { enum: ['Paris', 'Oslo'] }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city', 'days'], additionalProperties: false };
  const made = await client.messages.create(greedy({ max_tokens: 60, messages: [{ role: 'user', content: 'JSON please' }], output_config: { format: { type: 'json_schema', schema } } }));
  t.equal(made.stop_reason, 'end_turn');
  t.ok(ajv.validate(schema, JSON.parse(text(made))), `${text(made)} validates`);
});
