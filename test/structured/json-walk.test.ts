// Random walks through schema grammars: whatever allowed tokens are picked,
// a finished output must parse and validate (ajv, independent of xgrammar),
// and an unfinished one must still be extendable.

import t, { type Test } from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { GrammarCompiler, GrammarMatcher } from '../../src/structured/xgrammar.js';
import { jsonObjectGrammar, jsonSchemaGrammar } from '../../src/structured/schema-grammar.js';
import { grammarsDir, prng, randomWalk, sharedAbsent, smallVocab, STOP_IDS } from './helpers.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

/** Our own schemas: one or more per keyword class the issue lists. */
const OWN: Record<string, unknown> = {
  'object required/optional': {
    type: 'object',
    properties: { a: { type: 'boolean' }, b: { type: 'null' }, c: { type: 'integer', minimum: 0, maximum: 9 } },
    required: ['a'],
    additionalProperties: false,
  },
  'string enum/const': { type: 'object', properties: { e: { enum: ['red', 'green', 'say "hi"'] }, k: { const: 'fixed' } }, required: ['e', 'k'] },
  'string lengths': { type: 'array', items: { type: 'string', minLength: 2, maxLength: 4 }, minItems: 1, maxItems: 3 },
  'string exact length': { type: 'string', minLength: 3, maxLength: 3 },
  'format date': { type: 'string', format: 'date' },
  'format time': { type: 'string', format: 'time' },
  'format date-time': { type: 'string', format: 'date-time' },
  'format uuid': { type: 'string', format: 'uuid' },
  'integer range': { type: 'array', items: { type: 'integer', minimum: -1234, maximum: 56789 }, maxItems: 5 },
  'integer one-sided': { type: 'array', items: { type: 'integer', exclusiveMinimum: 5 }, maxItems: 5 },
  'number fractional bounds': { type: 'array', items: { type: 'number', minimum: -2.5, maximum: 3.75 }, maxItems: 5 },
  'number exclusive bounds': { type: 'array', items: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 100 }, maxItems: 5 },
  'number negative range': { type: 'number', minimum: -7.25, maximum: -1.5 },
  'array prefixItems': { type: 'array', prefixItems: [{ type: 'boolean' }, { type: 'integer', minimum: 0, maximum: 3 }], items: false },
  'anyOf': { anyOf: [{ type: 'integer', minimum: 0, maximum: 10 }, { type: 'string', maxLength: 3 }, { type: 'null' }] },
  'oneOf discriminated': {
    oneOf: [
      { type: 'object', properties: { kind: { const: 'a' }, x: { type: 'integer', minimum: 0, maximum: 5 } }, required: ['kind', 'x'] },
      { type: 'object', properties: { kind: { const: 'b' }, y: { type: 'boolean' } }, required: ['kind', 'y'] },
    ],
  },
  '$ref/$defs': {
    type: 'object',
    properties: { p: { $ref: '#/$defs/point' }, q: { $ref: '#/$defs/point' } },
    required: ['p'],
    $defs: { point: { type: 'object', properties: { x: { type: 'integer', minimum: 0, maximum: 99 }, y: { type: 'integer', minimum: 0, maximum: 99 } }, required: ['x', 'y'] } },
  },
  'nullable types': { type: 'object', properties: { a: { type: ['string', 'null'], maxLength: 2 }, b: { type: 'integer', nullable: true, minimum: 1, maximum: 2 } }, required: ['a', 'b'] },
  'free map': { type: 'object', additionalProperties: { type: 'integer', minimum: 0, maximum: 9 } },
  'enum of mixed values': { enum: [1, 'x', null, { a: [1, 2] }, [true]] },
};

interface Case {
  name: string;
  schema: unknown;
}

function sharedCases(): Case[] {
  const cases: Case[] = [];
  for (const file of ['blog.schema.json', 'weather_schema.json', 'weather_population.json']) {
    cases.push({ name: `ogenai/${file}`, schema: JSON.parse(readFileSync(path.join(grammarsDir, 'ogenai', file), 'utf8')) });
  }
  const toolsDir = path.join(grammarsDir, 'ogenai-tool-definitions');
  for (const file of readdirSync(toolsDir).filter((f) => f.endsWith('.json')).sort()) {
    const tools = JSON.parse(readFileSync(path.join(toolsDir, file), 'utf8')) as { function: { name: string; parameters: unknown } }[];
    for (const tool of tools) cases.push({ name: `tools/${file}/${tool.function.name}`, schema: tool.function.parameters });
  }
  return cases;
}

const WALKS = 4;
const MAX_STEPS = 300;

async function walkAll(t: Test, cases: Case[], seed: number): Promise<{ walks: number; stopped: number; unfinished: Set<string> }> {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab);
  const rand = prng(seed);
  let walks = 0;
  let stopped = 0;
  const unfinished = new Set<string>();
  for (const { name, schema } of cases) {
    const validate = ajv.compile(schema as object);
    const grammar = await compiler.compile(await jsonSchemaGrammar(schema));
    for (let i = 0; i < WALKS; i++) {
      const walk = randomWalk(grammar, rand, MAX_STEPS);
      walks++;
      const text = tokenizer.decodeSync(walk.ids, { skipSpecialTokens: false });
      if (!walk.terminated) {
        t.ok(walk.neverStuck, `${name}: cut at ${MAX_STEPS} tokens, still a valid prefix (some token allowed)`);
        unfinished.add(name);
        continue;
      }
      stopped++;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        t.fail(`${name}: output is not JSON: ${JSON.stringify(text)} (${String(err)})`);
        continue;
      }
      if (!validate(value)) t.fail(`${name}: ${JSON.stringify(text)} fails the schema: ${ajv.errorsText(validate.errors)}`);
      else t.pass(`${name}: ${text.length > 80 ? text.slice(0, 80) + '…' : text}`);
    }
  }
  compiler.dispose();
  return { walks, stopped, unfinished };
}

t.test('own schemas, one per keyword class: finished outputs validate', async (t) => {
  const cases = Object.entries(OWN).map(([name, schema]) => ({ name, schema }));
  const { walks, stopped, unfinished } = await walkAll(t, cases, 1);
  t.comment(`own schemas: ${stopped}/${walks} walks finished with a stop token`);
  // All but the free map (unbounded keys, unbounded size) are bounded, so they must finish.
  unfinished.delete('free map');
  t.same([...unfinished], [], 'bounded schemas always finish within the budget');
});

t.test('ogenai schemas and tool parameter schemas: finished outputs validate', { skip: sharedAbsent }, async (t) => {
  const cases = sharedCases();
  t.ok(cases.length >= 20, `${cases.length} schemas from ../shared`);
  const { walks, stopped } = await walkAll(t, cases, 2);
  t.comment(`shared schemas: ${stopped}/${walks} walks finished (unbounded strings may hit the ${MAX_STEPS}-token cut)`);
  t.ok(stopped > walks / 2, 'most walks finish');
});

t.test('json_object: finished outputs parse as objects', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab);
  const grammar = await compiler.compile(await jsonObjectGrammar());
  const rand = prng(3);
  let stopped = 0;
  for (let i = 0; i < 8; i++) {
    const walk = randomWalk(grammar, rand, MAX_STEPS, 0.9);
    const text = tokenizer.decodeSync(walk.ids, { skipSpecialTokens: false });
    if (!walk.terminated) continue;
    stopped++;
    const value: unknown = JSON.parse(text);
    t.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `object: ${text.slice(0, 60)}`);
  }
  t.ok(stopped > 0, `${stopped}/8 finished`);
  compiler.dispose();
});

t.test('compiler cache: same schema compiles once, LRU bound holds', async (t) => {
  const { vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab, 2);
  const spec = await jsonSchemaGrammar({ type: 'boolean' });
  const a = await compiler.compile(spec);
  const b = await compiler.compile(spec);
  t.equal(a, b, 'second compile is the cached object');
  await compiler.compile(await jsonSchemaGrammar({ type: 'null' }));
  await compiler.compile(await jsonSchemaGrammar({ type: 'string', maxLength: 1 }));
  t.same(compiler.stats(), { size: 2, hits: 1, misses: 3 });
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(a.disposed, 'the least recently used grammar was evicted and freed');
  t.throws(() => new GrammarMatcher(a), /evicted/, 'no new matcher on an evicted grammar');
  const again = await compiler.matcherFor(spec);
  const mask = new Int32Array(vocab.maskWords);
  again.fillNextTokenBitmask(mask);
  t.ok(mask.some((w) => w !== 0), 'matcherFor recompiles an evicted grammar');
  again.dispose();
  compiler.dispose();
});

t.test('a matcher outlives the eviction of its grammar', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab, 1);
  const matcher = await compiler.matcherFor(await jsonSchemaGrammar({ enum: ['yes', 'no'] }));
  await compiler.compile(await jsonSchemaGrammar({ type: 'null' }));
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(matcher.grammar.disposed, 'its grammar object was freed');
  const ids = await tokenizer.encode('"no"', { addSpecialTokens: false });
  t.ok(ids.every((id) => matcher.acceptToken(id)), 'still matches');
  t.ok(matcher.acceptToken(STOP_IDS[0]) && matcher.isTerminated(), 'and terminates');
  matcher.dispose();
  compiler.dispose();
});
