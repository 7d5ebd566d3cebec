// What client libraries send (issue 15), through the real server and the
// official openai SDK: zod 4 schemas with email / uuid / iso datetime / url /
// regex (which emit `pattern` and `format`), and response_format together
// with tools under tool_choice required, named and auto, streamed and not.

import t, { type Test } from 'tap';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { z } from 'zod';
import { MODEL_ID, startRealServer } from './harness.js';

const served = await startRealServer();
t.teardown(() => served.close());
const { client } = served;
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = addFormats(new Ajv2020({ strict: false }));

const contact = z.object({
  // A random model rarely ends an unbounded local part; the length bound intersects with pattern and format.
  email: z.email().max(12),
  id: z.uuid(),
  at: z.iso.datetime(),
  site: z.url(),
  code: z.string().regex(/^[A-Z]{2}-\d{3}$/),
});
const contactSchema = z.toJSONSchema(contact) as Record<string, unknown>;

t.test('zod 4 helpers: the schemas use pattern and format, are accepted and honoured', async (t) => {
  const text = JSON.stringify(contactSchema);
  t.match(text, /"pattern"/, 'zod emits pattern');
  t.match(text, /"format":"email"/, 'and format');
  const validate = ajv.compile(contactSchema);
  // One field per request keeps a random model's answers short enough to finish.
  for (const [field, inner] of Object.entries(contact.shape)) {
    const single = z.object({ [field]: inner });
    const schema = z.toJSONSchema(single) as Record<string, unknown>;
    let stopped = 0;
    for (const seed of [1, 2, 3]) {
      const result = await client.chat.completions.create({
        model: MODEL_ID,
        messages: [{ role: 'user', content: `The ${field}, as JSON.` }],
        temperature: 1,
        seed,
        max_tokens: 300,
        response_format: { type: 'json_schema', json_schema: { name: field, schema, strict: true } },
      });
      const choice = result.choices[0];
      if (choice.finish_reason !== 'stop') {
        t.equal(choice.finish_reason, 'length', `${field} seed ${seed}: cut by length`);
        continue;
      }
      stopped++;
      const value: unknown = JSON.parse(choice.message.content ?? '');
      t.ok(ajv.validate(schema, value), `${field} seed ${seed}: validates (ajv-formats): ${choice.message.content}`);
      t.ok(single.safeParse(value).success, `${field} seed ${seed}: zod parses it too`);
    }
    t.ok(stopped >= 1, `${field}: ${stopped}/3 answers finish`);
  }
  t.ok(validate.schema, 'the whole object schema compiles in ajv');
  const whole = await client.chat.completions.create({
    model: MODEL_ID,
    messages: [{ role: 'user', content: 'A contact.' }],
    max_tokens: 1,
    response_format: { type: 'json_schema', json_schema: { name: 'contact', schema: contactSchema } },
  });
  t.equal(whole.choices[0].finish_reason, 'length', 'the whole contact schema is accepted (200, generation starts)');
});

const WEATHER = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { enum: ['Paris', 'Oslo'] }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city', 'days'], additionalProperties: false },
  },
};
const TIME = {
  type: 'function' as const,
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { enum: ['UTC', 'CET'] } }, required: ['zone'], additionalProperties: false } },
};
const TOOLS = [WEATHER, TIME];
const ANSWER = { type: 'object', properties: { summary: { type: 'string', maxLength: 12 }, ok: { type: 'boolean' } }, required: ['summary', 'ok'], additionalProperties: false };
const responseFormat = { type: 'json_schema' as const, json_schema: { name: 'answer', schema: ANSWER, strict: true } };
const validateAnswer = ajv.compile(ANSWER);

interface Outcome {
  content: string | null;
  calls: { name: string; arguments: string }[];
  finish: string;
}

async function ask(toolChoice: 'auto' | 'required' | { type: 'function'; function: { name: string } }, seed: number, stream: boolean): Promise<Outcome> {
  const request = { model: MODEL_ID, messages: [{ role: 'user' as const, content: 'Weather or a summary?' }], tools: TOOLS, tool_choice: toolChoice, response_format: responseFormat, temperature: 1, seed, max_tokens: 120 };
  if (!stream) {
    const result = await client.chat.completions.create(request);
    const message = result.choices[0].message;
    const calls = (message.tool_calls ?? []).flatMap((c) => (c.type === 'function' ? [{ name: c.function.name, arguments: c.function.arguments }] : []));
    return { content: message.content, calls, finish: result.choices[0].finish_reason };
  }
  const chunks = await client.chat.completions.create({ ...request, stream: true });
  let content = '';
  const calls: { name: string; arguments: string }[] = [];
  let finish = '';
  for await (const chunk of chunks) {
    const choice = chunk.choices[0];
    if (choice === undefined) continue;
    content += choice.delta.content ?? '';
    for (const delta of choice.delta.tool_calls ?? []) {
      calls[delta.index] ??= { name: delta.function?.name ?? '', arguments: '' };
      calls[delta.index].arguments += delta.function?.arguments ?? '';
    }
    finish = choice.finish_reason ?? finish;
  }
  return { content: content === '' ? null : content, calls, finish };
}

function checkCalls(t: Test, calls: Outcome['calls'], label: string): void {
  for (const call of calls) {
    const tool = TOOLS.find((candidate) => candidate.function.name === call.name);
    t.ok(tool && ajv.validate(tool.function.parameters, JSON.parse(call.arguments)), `${label}: ${call.name}(${call.arguments}) validates`);
  }
}

t.test('response_format with a forced tool_choice: accepted, the call is constrained (streamed and not)', async (t) => {
  for (const stream of [false, true]) {
    for (const seed of [31, 32]) {
      const required = await ask('required', seed, stream);
      t.equal(required.finish, 'tool_calls', `required, seed ${seed}, stream ${stream}: a call`);
      t.ok(required.calls.length >= 1);
      checkCalls(t, required.calls, `required seed ${seed}`);
      const named = await ask({ type: 'function', function: { name: 'get_time' } }, seed, stream);
      t.equal(named.finish, 'tool_calls');
      t.same(named.calls.map((c) => c.name), ['get_time'], `named, seed ${seed}, stream ${stream}: one call of get_time`);
      checkCalls(t, named.calls, `named seed ${seed}`);
    }
  }
});

t.test('response_format with tool_choice auto: either valid calls or an answer in the format', async (t) => {
  let answers = 0;
  let callTurns = 0;
  for (const seed of [41, 42, 43, 44, 45, 46]) {
    const plain = await ask('auto', seed, false);
    const streamed = await ask('auto', seed, true);
    t.same(streamed, plain, `seed ${seed}: streamed and non-streamed agree`);
    if (plain.calls.length > 0) {
      callTurns++;
      t.equal(plain.finish, 'tool_calls');
      checkCalls(t, plain.calls, `auto seed ${seed}`);
    } else if (plain.finish === 'stop') {
      answers++;
      t.ok(validateAnswer(JSON.parse(plain.content ?? '')), `auto seed ${seed}: the text answer validates: ${plain.content}`);
    } else t.equal(plain.finish, 'length');
  }
  t.comment(`auto: ${callTurns} call turns, ${answers} format answers`);
  t.ok(answers + callTurns >= 4, 'most turns finish');
});
