// Structured output and tool calls through the real server: a random-weight
// model under a grammar must still produce valid JSON / valid calls.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { MODEL_ID, startRealServer } from './harness.js';

const served = await startRealServer();
t.teardown(() => served.close());
const { client, base } = served;
const ajv = new Ajv2020({ strict: false });

const here = path.dirname(fileURLToPath(import.meta.url));
const grammars = path.resolve(here, '..', '..', '..', '..', 'shared', 'models', 'grammars');
const sharedAbsent = existsSync(grammars) ? false : `reason: ${grammars} absent (../shared is not part of a plain clone)`;

const OWN_SCHEMAS: Record<string, object> = {
  flags: { type: 'object', properties: { a: { type: 'boolean' }, b: { type: 'null' } }, required: ['a', 'b'], additionalProperties: false },
  digits: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 9 }, minItems: 1, maxItems: 4 },
  colour: { type: 'object', properties: { c: { enum: ['red', 'green', 'blue'] }, k: { const: 'x' } }, required: ['c', 'k'] },
  range: { type: 'number', minimum: -2.5, maximum: 3.75 },
  choice: { anyOf: [{ type: 'integer', minimum: 0, maximum: 10 }, { type: 'null' }] },
  point: {
    type: 'object',
    properties: { p: { $ref: '#/$defs/pt' } },
    required: ['p'],
    $defs: { pt: { type: 'object', properties: { x: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['x'] } },
  },
  nullable: { type: 'object', properties: { n: { type: ['integer', 'null'], minimum: 1, maximum: 3 } }, required: ['n'] },
  uuid: { type: 'string', format: 'uuid' },
};

async function chatJson(schema: object, seed: number, stop: string[] = []): Promise<{ text: string; finish: string }> {
  const result = await client.chat.completions.create({
    model: MODEL_ID,
    messages: [{ role: 'user', content: 'Reply with JSON.' }],
    temperature: 1,
    seed,
    max_tokens: 160,
    ...(stop.length > 0 ? { stop } : {}),
    response_format: { type: 'json_schema', json_schema: { name: 'out', schema: schema as Record<string, unknown>, strict: true } },
  });
  return { text: result.choices[0].message.content ?? '', finish: result.choices[0].finish_reason };
}

t.test('json_schema output validates whenever it finishes', async (t) => {
  let stopped = 0;
  let total = 0;
  for (const [name, schema] of Object.entries(OWN_SCHEMAS)) {
    const validate = ajv.compile(schema);
    for (const seed of [1, 2]) {
      const { text, finish } = await chatJson(schema, seed);
      total++;
      if (finish === 'stop') {
        stopped++;
        t.ok(validate(JSON.parse(text)), `${name} seed ${seed}: ${text}`);
      } else {
        t.equal(finish, 'length', `${name}: cut by length`);
      }
    }
  }
  t.comment(`finished with stop: ${stopped}/${total}`);
  t.ok(stopped >= total * 0.75, `bounded schemas mostly finish (${stopped}/${total})`);
});

t.test('ogenai schemas and tool parameter schemas', { skip: sharedAbsent }, async (t) => {
  const schemas: Array<[string, object]> = [];
  for (const file of readdirSync(path.join(grammars, 'ogenai')).filter((f) => f.endsWith('schema.json'))) {
    schemas.push([file, JSON.parse(readFileSync(path.join(grammars, 'ogenai', file), 'utf8')) as object]);
  }
  const toolsDir = path.join(grammars, 'ogenai-tool-definitions');
  for (const file of readdirSync(toolsDir)) {
    const tools = JSON.parse(readFileSync(path.join(toolsDir, file), 'utf8')) as { function: { name: string; parameters: object } }[];
    for (const tool of tools.slice(0, 2)) schemas.push([`${file}/${tool.function.name}`, tool.function.parameters]);
  }
  let stopped = 0;
  for (const [name, schema] of schemas) {
    const { text, finish } = await chatJson(schema, 3);
    if (finish === 'stop') {
      stopped++;
      t.ok(ajv.validate(schema, JSON.parse(text)), `${name}: ${text.slice(0, 200)}`);
    } else t.equal(finish, 'length', name);
  }
  t.comment(`finished with stop: ${stopped}/${schemas.length}`);
});

t.test('json_object always parses when finished', async (t) => {
  for (const seed of [5, 6, 7]) {
    const result = await client.chat.completions.create({
      model: MODEL_ID,
      messages: [{ role: 'user', content: 'JSON please' }],
      temperature: 1,
      seed,
      max_tokens: 120,
      response_format: { type: 'json_object' },
    });
    const choice = result.choices[0];
    if (choice.finish_reason === 'stop') {
      const value: unknown = JSON.parse(choice.message.content ?? '');
      t.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `an object: ${choice.message.content}`);
    } else t.equal(choice.finish_reason, 'length');
  }
});

const WEATHER = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { enum: ['Paris', 'Oslo'] }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city', 'days'], additionalProperties: false },
  },
};
const TIME = {
  type: 'function' as const,
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { enum: ['UTC', 'CET'] } }, required: ['zone'], additionalProperties: false } },
};

t.test('tool_choice required and named always give valid calls; none never does', async (t) => {
  const messages = [{ role: 'user' as const, content: 'What is the weather?' }];
  for (const seed of [11, 12, 13]) {
    const required = await client.chat.completions.create({ model: MODEL_ID, messages, tools: [WEATHER, TIME], tool_choice: 'required', temperature: 1, seed, max_tokens: 200 });
    const choice = required.choices[0];
    t.equal(choice.finish_reason, 'tool_calls', `seed ${seed}: finished with a call`);
    for (const call of choice.message.tool_calls ?? []) {
      if (call.type !== 'function') continue;
      const tool = [WEATHER, TIME].find((candidate) => candidate.function.name === call.function.name);
      t.ok(tool, `allowed function ${call.function.name}`);
      t.ok(tool && ajv.validate(tool.function.parameters, JSON.parse(call.function.arguments)), `arguments ${call.function.arguments}`);
    }
    const named = await client.chat.completions.create({
      model: MODEL_ID,
      messages,
      tools: [WEATHER, TIME],
      tool_choice: { type: 'function', function: { name: 'get_time' } },
      temperature: 1,
      seed,
      max_tokens: 200,
    });
    const calls = named.choices[0].message.tool_calls ?? [];
    t.equal(calls.length, 1, 'a named function: exactly one call');
    t.ok(calls.every((call) => call.type === 'function' && call.function.name === 'get_time'), 'of the named function');
    t.equal(named.choices[0].finish_reason, 'tool_calls');
    const none = await client.chat.completions.create({ model: MODEL_ID, messages, tools: [WEATHER], tool_choice: 'none', temperature: 1, seed, max_tokens: 30 });
    t.notOk(none.choices[0].message.tool_calls?.length, 'none: no call');
    t.not(none.choices[0].finish_reason, 'tool_calls');
  }
});

t.test('streamed tool calls reassemble into the non-streamed call', async (t) => {
  const request = { model: MODEL_ID, messages: [{ role: 'user' as const, content: 'weather' }], tools: [WEATHER], tool_choice: 'required' as const, temperature: 1, seed: 21, max_tokens: 200 };
  const plain = await client.chat.completions.create(request);
  const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
  const calls: { name: string; arguments: string; fragments: number }[] = [];
  const chunks = [];
  const misfits: unknown[] = [];
  let finish: string | null = null;
  for await (const chunk of stream) {
    chunks.push(chunk);
    const deltas = chunk.choices[0]?.delta.tool_calls ?? [];
    if (deltas.length > 1) misfits.push(chunk.choices[0].delta);
    for (const delta of deltas) {
      if (calls[delta.index] === undefined) {
        t.equal(delta.index, calls.length, 'calls are numbered in order');
        t.match(delta.id, /^call_\w+$/, `call ${delta.index} opens with its id`);
        t.equal(delta.type, 'function', `call ${delta.index} opens with its type`);
        t.ok(delta.function?.name, `call ${delta.index} opens with its name`);
        t.equal(delta.function?.arguments, '', 'the opening delta has empty arguments');
        calls[delta.index] = { name: delta.function?.name ?? '', arguments: '', fragments: 0 };
      } else {
        const keys = `${Object.keys(delta).sort().join()}/${Object.keys(delta.function ?? {}).join()}`;
        if (keys !== 'function,index/arguments') misfits.push(delta);
        calls[delta.index].arguments += delta.function?.arguments ?? '';
        calls[delta.index].fragments++;
      }
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  t.strictSame(misfits, [], 'one delta per chunk; after the opening one, deltas carry only the index and an argument fragment');
  t.strictSame(chunks[0].choices[0].delta, { role: 'assistant', content: '' }, 'the first chunk announces the role');
  t.ok(calls.length >= 1, 'at least one call streamed');
  for (const call of calls) {
    // {"city": "Paris", "days": 3} is many tokens: it must not arrive in one piece.
    t.ok(call.fragments > 1, `call ${call.name} arguments ${call.arguments} arrived in ${call.fragments} fragments`);
  }
  t.same(
    calls.map(({ name, arguments: args }) => ({ name, arguments: args })),
    (plain.choices[0].message.tool_calls ?? []).map((call) => (call.type === 'function' ? { name: call.function.name, arguments: call.function.arguments } : null)),
    'reassembly equals the non-streamed calls',
  );
  t.equal(finish, 'tool_calls');
  const finishChunk = chunks[chunks.length - 2];
  t.strictSame(finishChunk.choices[0].delta, {}, 'the finish chunk has an empty delta');
  t.equal(finishChunk.choices[0].finish_reason, 'tool_calls');
  t.same(chunks[chunks.length - 1].choices, [], 'include_usage: the usage chunk comes last');
  t.equal(chunks[chunks.length - 1].usage?.completion_tokens, plain.usage?.completion_tokens, 'same tokens as the non-streamed call');
});

t.test('stop strings and stop ids do not cut grammar-constrained output', async (t) => {
  // Every one of these stops would end the JSON early if it were applied.
  const stop = ['{', '"', ':', 'city'];
  const schema = { type: 'object', properties: { city: { enum: ['Paris', 'Oslo'] } }, required: ['city'], additionalProperties: false };
  for (const seed of [31, 32]) {
    const { text, finish } = await chatJson(schema, seed, stop);
    t.equal(finish, 'stop', `seed ${seed}: finished by the grammar`);
    t.ok(ajv.validate(schema, JSON.parse(text)), `seed ${seed}: ${text} validates`);

    const call = await client.chat.completions.create({
      model: MODEL_ID,
      messages: [{ role: 'user', content: 'weather' }],
      tools: [WEATHER],
      tool_choice: 'required',
      temperature: 1,
      seed,
      max_tokens: 200,
      stop,
      stop_token_ids: [123, 456],
    } as Parameters<typeof client.chat.completions.create>[0] & { stream?: false });
    t.equal(call.choices[0].finish_reason, 'tool_calls', `seed ${seed}: the call was completed`);
    for (const made of call.choices[0].message.tool_calls ?? []) {
      if (made.type === 'function') t.ok(ajv.validate(WEATHER.function.parameters, JSON.parse(made.function.arguments)), `arguments ${made.function.arguments}`);
    }
  }
});

t.test('an unsupported schema keyword is refused with 400 naming it', async (t) => {
  const response = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: MODEL_ID,
      messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: '^(?!a)b+$' } } },
    }),
  });
  t.equal(response.status, 400);
  const body = (await response.json()) as { error: { message: string; param: string } };
  t.match(body.error.message, /pattern.*lookahead/);
  t.equal(body.error.param, 'response_format.json_schema.schema');

  let deep: object = { type: 'integer' };
  for (let i = 0; i < 68; i++) deep = { type: 'array', items: deep };
  const tooDeep = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: deep } } }),
  });
  t.equal(tooDeep.status, 400, 'a schema nested 68 deep: 400');
  t.match(((await tooDeep.json()) as { error: { code: string } }).error.code, 'unsupported_schema');
  const { text } = await chatJson({ type: 'object', properties: { a: { type: 'boolean' } }, required: ['a'] }, 1);
  t.ok(typeof (JSON.parse(text) as { a: unknown }).a === 'boolean', 'structured output still works afterwards');

  // 600 optional properties would compile for tens of seconds on the device: refused up front.
  const heavy = { type: 'object', properties: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`p${i}`, { type: 'integer' }])) };
  const refused = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: heavy } } }),
  });
  t.equal(refused.status, 400, 'a schema too costly to compile: 400');
  const error = ((await refused.json()) as { error: { code: string; message: string; param: string } }).error;
  t.equal(error.code, 'unsupported_schema');
  t.match(error.message, /too complex.*compiling its grammar would take about/);
  t.equal(error.param, 'response_format.json_schema.schema');
});
