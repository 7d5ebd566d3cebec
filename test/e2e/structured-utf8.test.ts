// Regression (issue 15): under a JSON schema with `maxLength`, the built-in
// default model ('small' preset, byte-level vocabulary) was let write a token
// ending in 0xED and then one starting 0xA0–0xBF — a UTF-16 surrogate in
// UTF-8, which the front decoded to U+FFFD and returned, too long, with
// finish_reason "stop". Every finished answer must now be valid UTF-8 and
// validate, over many seeds.

import t from 'tap';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { MODEL_ID, startRealServer } from './harness.js';

const served = await startRealServer({}, 'small');
t.teardown(() => served.close());
const ajv = new Ajv2020({ strict: false });

const PROMPT = process.env.UTF8_PROMPT ?? 'Write a short string in any script.';
const SCHEMA = { type: 'object', properties: { s: { type: 'string', maxLength: 10 } }, required: ['s'] };

t.test('maxLength strings never hold a surrogate or any other invalid UTF-8 (default model, many seeds)', async (t) => {
  const validate = ajv.compile(SCHEMA);
  const failures: string[] = [];
  let stopped = 0;
  const seeds = Array.from({ length: 48 }, (_, i) => i + 1);
  // Raw HTTP, all at once (the engine batches them): the bytes as sent, before any client library decodes them.
  const answers = await Promise.all(seeds.map(async (seed) => ({ seed, ...(await ask(seed)) })));
  for (const { seed, status, content, finish } of answers) {
    t.equal(status, 200, `seed ${seed}: 200`);
    if (finish !== 'stop') continue;
    stopped++;
    // The server decodes token bytes to text: U+FFFD is what an invalid sequence became.
    const value: unknown = JSON.parse(content);
    if (content.includes('\uFFFD') || !validate(value)) failures.push(`seed ${seed}: ${JSON.stringify(content)}`);
  }
  t.ok(stopped >= seeds.length / 2, `most answers finish (${stopped}/${seeds.length})`);
  t.strictSame(failures, [], 'every finished answer is valid UTF-8 (no U+FFFD) and validates');
});

async function ask(seed: number): Promise<{ status: number; content: string; finish: string }> {
  const response = await fetch(`${served.base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: MODEL_ID,
      messages: [{ role: 'user', content: PROMPT }],
      temperature: 1.5,
      seed,
      max_tokens: 60,
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: SCHEMA } },
    }),
  });
  const body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await response.arrayBuffer())) as {
    choices: { message: { content: string }; finish_reason: string }[];
  };
  return { status: response.status, content: body.choices[0].message.content, finish: body.choices[0].finish_reason };
}
