// /v1/responses through the official clients against a real Serval server
// (tiny generated model, real engine): the `openai` SDK's responses.create /
// responses.stream (whose accumulator checks every event against the item it
// names) and the Vercel AI SDK, whose default OpenAI model calls this route.
// Greedy outputs are compared across modes and against the chat route.

import t from 'tap';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import type { ResponseInputItem, ResponseStreamEvent } from 'openai/resources/responses/responses.js';
import { MODEL_ID, startRealServer } from './harness.js';

const served = await startRealServer();
t.teardown(() => served.close());
const { client, base } = served;

const WEATHER = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { enum: ['Oslo', 'Paris'] } }, required: ['city'], additionalProperties: false },
  strict: true,
};

t.test('create: string input, items and instructions', async (t) => {
  const plain = await client.responses.create({ model: MODEL_ID, input: 'Tell me about serval cats.', max_output_tokens: 10, temperature: 0 });
  t.equal(plain.object, 'response');
  t.match(plain.id, /^resp_/);
  t.ok(plain.status === 'completed' || plain.status === 'incomplete');
  t.equal(plain.output[0].type, 'message');
  t.ok(plain.usage!.output_tokens >= 1 && plain.usage!.output_tokens <= 10);
  t.equal(plain.usage!.total_tokens, plain.usage!.input_tokens + plain.usage!.output_tokens);

  // The same conversation as items gives the same prompt, hence the same greedy answer.
  const items = await client.responses.create({
    model: MODEL_ID,
    input: [{ role: 'user', content: [{ type: 'input_text', text: 'Tell me about serval cats.' }] }],
    max_output_tokens: 10,
    temperature: 0,
  });
  t.equal(items.output_text, plain.output_text, 'items input = string input');
  t.equal(items.usage!.input_tokens, plain.usage!.input_tokens);

  const chat = await client.chat.completions.create({
    model: MODEL_ID,
    messages: [
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: 'Tell me about serval cats.' },
    ],
    max_tokens: 10,
    temperature: 0,
  });
  const instructed = await client.responses.create({ model: MODEL_ID, instructions: 'Answer briefly.', input: 'Tell me about serval cats.', max_output_tokens: 10, temperature: 0 });
  t.equal(instructed.output_text, chat.choices[0].message.content, 'instructions act as the system message');
  t.equal(instructed.usage!.input_tokens, chat.usage!.prompt_tokens);
  t.ok(instructed.usage!.input_tokens > plain.usage!.input_tokens);
});

t.test('stream: events in order, numbered, and the same text as create', async (t) => {
  const params = { model: MODEL_ID, input: 'Once upon a time', max_output_tokens: 12, temperature: 0 };
  const plain = await client.responses.create(params);
  const stream = client.responses.stream(params);
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  const final = await stream.finalResponse();
  t.same(events.map((e) => e.sequence_number), events.map((_, i) => i), 'sequence numbers 0, 1, 2, …');
  const types = events.map((e) => e.type);
  t.same(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
  t.same(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', plain.status === 'completed' ? 'response.completed' : 'response.incomplete']);
  t.ok(types.slice(4, -4).every((type) => type === 'response.output_text.delta'));
  const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []));
  t.equal(deltas.join(''), plain.output_text, 'streamed text = created text at temperature 0');
  t.equal(final.output_text, plain.output_text);
  t.equal(final.status, plain.status);
  // The streamed repeat finds the prompt cached (all but the last token's block): only cached_tokens differs.
  const cached = Math.floor((plain.usage!.input_tokens - 1) / 16) * 16;
  t.same(final.usage, { ...plain.usage, input_tokens_details: { cached_tokens: cached } });
});

t.test('max_output_tokens: incomplete with the reason', async (t) => {
  const r = await client.responses.create({ model: MODEL_ID, input: 'Count to one hundred.', max_output_tokens: 1, temperature: 0 });
  t.equal(r.status, 'incomplete');
  t.same(r.incomplete_details, { reason: 'max_output_tokens' });
  t.equal(r.usage!.output_tokens, 1);
});

t.test('function tool round trip, with and without previous_response_id', async (t) => {
  const first = await client.responses.create({ model: MODEL_ID, input: 'Weather in Oslo?', tools: [WEATHER], tool_choice: 'required', max_output_tokens: 200, temperature: 0 });
  t.equal(first.status, 'completed');
  const calls = first.output.filter((o) => o.type === 'function_call');
  t.ok(calls.length >= 1, 'a forced call');
  const call = calls[0];
  if (call.type !== 'function_call') return;
  t.equal(call.name, 'get_weather');
  t.ok(['Oslo', 'Paris'].includes((JSON.parse(call.arguments) as { city: string }).city), call.arguments);

  const outputs: ResponseInputItem[] = calls.map((c) => ({ type: 'function_call_output', call_id: c.type === 'function_call' ? c.call_id : '', output: '{"celsius": 21}' }));
  const chained = await client.responses.create({ model: MODEL_ID, previous_response_id: first.id, input: outputs, tools: [WEATHER], max_output_tokens: 8, temperature: 0 });
  const explicit = await client.responses.create({
    model: MODEL_ID,
    input: [{ role: 'user', content: 'Weather in Oslo?' }, ...calls.map((c) => c as ResponseInputItem), ...outputs],
    tools: [WEATHER],
    max_output_tokens: 8,
    temperature: 0,
  });
  t.equal(chained.usage!.input_tokens, explicit.usage!.input_tokens, 'previous_response_id = sending the calls back');
  t.ok(chained.usage!.input_tokens > first.usage!.input_tokens + first.usage!.output_tokens - 1, 'the prompt holds the first turn and the result');
  t.equal(chained.output_text, explicit.output_text);

  // Streamed: argument deltas reassemble into the done event's arguments.
  const stream = client.responses.stream({ model: MODEL_ID, input: 'Weather in Paris?', tools: [WEATHER], tool_choice: { type: 'function', name: 'get_weather' }, max_output_tokens: 200, temperature: 0 });
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  const args = events.flatMap((e) => (e.type === 'response.function_call_arguments.delta' ? [e.delta] : [])).join('');
  const done = events.find((e) => e.type === 'response.function_call_arguments.done');
  t.equal(done?.type === 'response.function_call_arguments.done' ? done.arguments : null, args);
  const final = await stream.finalResponse();
  const streamedCall = final.output.find((o) => o.type === 'function_call');
  t.equal(streamedCall?.type === 'function_call' ? streamedCall.arguments : null, args);
});

t.test('text.format json_schema: the answer validates', async (t) => {
  const schema = { type: 'object', properties: { a: { type: 'boolean' }, b: { type: 'null' } }, required: ['a', 'b'], additionalProperties: false };
  const validate = new Ajv2020({ strict: false }).compile(schema);
  const r = await client.responses.create({
    model: MODEL_ID,
    input: 'Reply with JSON.',
    text: { format: { type: 'json_schema', name: 'flags', schema, strict: true } },
    max_output_tokens: 100,
    temperature: 0,
  });
  t.equal(r.status, 'completed');
  t.ok(validate(JSON.parse(r.output_text)), r.output_text);
  const refused = await fetch(`${base}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, input: 'x', text: { format: { type: 'json_schema', name: 'bad', schema: { type: 'integer', multipleOf: 3 } } } }),
  });
  t.equal(refused.status, 400);
  t.equal(((await refused.json()) as { error: { param: string } }).error.param, 'text.format.schema', 'the error names the Responses field');
});

t.test('previous_response_id: the next prompt holds the first turn; store: false; GET and DELETE', async (t) => {
  const first = await client.responses.create({ model: MODEL_ID, input: 'My name is Tom.', max_output_tokens: 6, temperature: 0 });
  const second = await client.responses.create({ model: MODEL_ID, previous_response_id: first.id, input: 'What is my name?', max_output_tokens: 6, temperature: 0 });
  const explicit = await client.responses.create({
    model: MODEL_ID,
    input: [
      { role: 'user', content: 'My name is Tom.' },
      { role: 'assistant', content: first.output_text },
      { role: 'user', content: 'What is my name?' },
    ],
    max_output_tokens: 6,
    temperature: 0,
  });
  const alone = await client.responses.create({ model: MODEL_ID, input: 'What is my name?', max_output_tokens: 6, temperature: 0 });
  t.equal(second.usage!.input_tokens, explicit.usage!.input_tokens, 'chained prompt = the conversation sent in full');
  t.ok(second.usage!.input_tokens >= alone.usage!.input_tokens + first.usage!.input_tokens - 2, 'grown by the first turn');
  t.equal(second.output_text, explicit.output_text);

  const fetched = await client.responses.retrieve(second.id);
  t.equal(fetched.id, second.id);
  t.equal(fetched.output_text, second.output_text);
  await client.responses.delete(second.id);
  await t.rejects(client.responses.retrieve(second.id), { status: 404, message: /not found/ });

  const unstored = await client.responses.create({ model: MODEL_ID, input: 'Forget me.', max_output_tokens: 2, store: false });
  await t.rejects(
    client.responses.create({ model: MODEL_ID, previous_response_id: unstored.id, input: 'Again?' }),
    { status: 404, param: 'previous_response_id', code: 'previous_response_not_found', type: 'invalid_request_error' },
  );
});

t.test('Vercel AI SDK: the default OpenAI model (Responses) generates, streams and calls tools', async (t) => {
  const openai = createOpenAI({ baseURL: `${base}/v1`, apiKey: 'unused' });
  const generated = await generateText({ model: openai(MODEL_ID), prompt: 'Tell me about serval cats.', maxOutputTokens: 10, temperature: 0 });
  const direct = await client.responses.create({ model: MODEL_ID, input: [{ role: 'user', content: [{ type: 'input_text', text: 'Tell me about serval cats.' }] }], max_output_tokens: 10, temperature: 0 });
  t.equal(generated.text, direct.output_text, 'same answer as the openai SDK');
  t.equal(generated.usage.inputTokens, direct.usage!.input_tokens);
  t.equal(generated.finishReason, direct.status === 'completed' ? 'stop' : 'length');

  const streamed = streamText({ model: openai(MODEL_ID), prompt: 'Tell me about serval cats.', maxOutputTokens: 10, temperature: 0 });
  let text = '';
  for await (const delta of streamed.textStream) text += delta;
  t.equal(text, generated.text, 'streamText = generateText');
  t.same(await streamed.usage, generated.usage);

  // A second turn: the SDK refers to the stored answer by item_reference instead of resending it.
  const sent: string[] = [];
  const recording = createOpenAI({
    baseURL: `${base}/v1`,
    apiKey: 'unused',
    fetch: async (url, init) => {
      sent.push(String(init?.body ?? ''));
      return fetch(url, init);
    },
  });
  const turn1 = await generateText({ model: recording(MODEL_ID), prompt: 'My name is Tom.', maxOutputTokens: 6, temperature: 0 });
  const turn2 = await generateText({
    model: recording(MODEL_ID),
    messages: [{ role: 'user', content: 'My name is Tom.' }, ...turn1.response.messages, { role: 'user', content: 'What is my name?' }],
    maxOutputTokens: 6,
    temperature: 0,
  });
  t.match(sent[1], /"item_reference"/, 'the SDK sent an item_reference');
  const spelledOut = await client.responses.create({
    model: MODEL_ID,
    input: [
      { role: 'user', content: [{ type: 'input_text', text: 'My name is Tom.' }] },
      { role: 'assistant', content: turn1.text },
      { role: 'user', content: [{ type: 'input_text', text: 'What is my name?' }] },
    ],
    max_output_tokens: 6,
    temperature: 0,
  });
  t.equal(turn2.usage.inputTokens, spelledOut.usage!.input_tokens, 'the reference resolved to the stored answer');
  t.equal(turn2.text, spelledOut.output_text);

  const viaChat = await generateText({ model: openai.chat(MODEL_ID), prompt: 'Tell me about serval cats.', maxOutputTokens: 10, temperature: 0 });
  t.equal(viaChat.text, generated.text, 'openai.chat (chat completions) agrees');

  // Two steps: a forced call, its result sent back (function_call + function_call_output items), another call.
  const executed: string[] = [];
  const agent = await generateText({
    model: openai(MODEL_ID),
    prompt: 'Weather in Oslo?',
    tools: {
      get_weather: tool({
        description: 'The weather in a city',
        inputSchema: jsonSchema<{ city: string }>(WEATHER.parameters as never),
        execute: async ({ city }) => {
          executed.push(city);
          return { celsius: 21 };
        },
      }),
    },
    toolChoice: 'required',
    stopWhen: stepCountIs(2),
    maxOutputTokens: 200,
    temperature: 0,
  });
  t.equal(agent.steps.length, 2);
  t.ok(executed.length >= 2 && executed.every((city) => ['Oslo', 'Paris'].includes(city)), `tool ran each step: ${executed.join(', ')}`);
  t.ok(agent.steps[1].usage.inputTokens! > agent.steps[0].usage.inputTokens!, 'the second step sees the first call and its result');
});
