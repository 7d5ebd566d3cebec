// The compile-time estimate refuses the grammars that stall a device for
// seconds and lets ordinary ones through. (The fit behind its constants is in
// grammar-cost.ts; compile times are measured in benches, not tests.)

import t from 'tap';
import { estimateCompileMs, MAX_COMPILE_MS } from '../../src/structured/grammar-cost.js';
import { jsonSchemaGrammar } from '../../src/structured/schema-grammar.js';

const properties = (n: number, leaf: object, required: boolean): object => ({
  type: 'object',
  properties: Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, leaf])),
  ...(required ? { required: Array.from({ length: n }, (_, i) => `p${i}`) } : {}),
});
const estimate = async (schema: object, vocab: number): Promise<number> => estimateCompileMs((await jsonSchemaGrammar(schema)).ebnf, vocab);

t.test('ordinary schemas pass at a 150k vocabulary', async (t) => {
  const ordinary = {
    type: 'object',
    properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 }, tags: { type: 'array', items: { type: 'string' } }, code: { type: 'string', maxLength: 8 } },
    required: ['name', 'age'],
  };
  t.ok((await estimate(ordinary, 150_000)) < MAX_COMPILE_MS / 4);
  t.ok((await estimate(properties(50, { type: 'integer' }, false), 150_000)) < MAX_COMPILE_MS / 2, '50 optional properties');
});

t.test('bounded strings cost in proportion to the vocabulary', async (t) => {
  const strings = properties(10, { type: 'string', maxLength: 128 }, true);
  const small = await estimate(strings, 3072);
  const large = await estimate(strings, 32_000);
  t.ok(small < MAX_COMPILE_MS, `10 strings of maxLength 128 at 3,072 tokens: ${small.toFixed(0)} ms (measured ~1.0 s)`);
  t.ok(large > MAX_COMPILE_MS, `at 32,000 tokens: ${large.toFixed(0)} ms, refused (measured ~12.7 s)`);
  t.ok(large / small > 9, 'about ten times the cost at ten times the tokens');
});

t.test('many properties are refused whatever the vocabulary', async (t) => {
  t.ok((await estimate(properties(500, { type: 'integer' }, false), 512)) > MAX_COMPILE_MS, '500 optional properties (measured 14 s)');
});

t.test('pattern/format automata cost by their rules and how much of ASCII each allows', async (t) => {
  const email = await estimate({ type: 'string', format: 'email' }, 32_000);
  const uuid = await estimate({ type: 'string', format: 'uuid' }, 32_000);
  t.ok(email > 600 && email < MAX_COMPILE_MS, `email at 32,000 tokens: ${email.toFixed(0)} ms (measured 1.5 s)`);
  t.ok(uuid < email / 2, `uuid (hex classes): ${uuid.toFixed(0)} ms (measured 37 ms)`);
  t.ok((await estimate({ type: 'string', format: 'email' }, 150_000)) > MAX_COMPILE_MS, 'email at 150,000 tokens: refused');
});
