// Property (issue 15): over random string schemas — pattern, format, minLength,
// maxLength, alone and together — and random seeds, every finished output of a
// constrained walk (the device worker's path, ConstrainedSequence) is valid
// UTF-8 (a strict decoder on the raw bytes) and validates (ajv + ajv-formats).
// A schema we cannot enforce must be refused up front, never generated loosely.

import t from 'tap';
import fc from 'fast-check';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { findUnsupportedKeyword } from '../../src/structured/schema-support.js';
import { jsonSchemaGrammar } from '../../src/structured/schema-grammar.js';
import { GrammarCompiler } from '../../src/structured/xgrammar.js';
import { prng, sequenceWalk, smallVocab } from './helpers.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = addFormats(new Ajv2020({ strict: false }));
const strict = new TextDecoder('utf-8', { fatal: true });

// Pieces of patterns: the characters that need escaping in JSON, multi-byte ones, classes, escapes.
const atom = fc.constantFrom('a', 'é', '你', '😀', '"', '\\\\', '\\/', '.', '\\d', '\\w', '\\s', '\\S', '[a-c]', '[^a-z]', '[é你]', '[\\d_-]', '\\.', '\\t', '-', ' ');
const piece = fc.tuple(atom, fc.constantFrom('', '', '*', '+', '?', '{2}', '{1,3}', '{0,2}?')).map(([a, q]) => a + q);
const regex: fc.Arbitrary<string> = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.oneof(piece, fc.tuple(piece, piece).map(([a, b]) => `(?:${a}|${b})`), fc.tuple(piece, piece).map(([a, b]) => `(${a}${b})`)), { minLength: 1, maxLength: 4 }),
    fc.boolean(),
  )
  .map(([start, parts, end]) => `${start ? '^' : ''}${parts.join('')}${end ? '$' : ''}`);

const format = fc.constantFrom('date', 'time', 'date-time', 'uuid', 'email', 'uri');
const minLength = fc.integer({ min: 0, max: 6 });
const maxLength = fc.integer({ min: 4, max: 16 });
// Shapes weighted towards what intersects: a random pattern beside a format rarely leaves a string.
const stringSchema = fc
  .oneof(
    fc.record({ pattern: regex }),
    fc.record({ pattern: regex, minLength, maxLength }, { requiredKeys: ['pattern'] }),
    fc.record({ format }),
    fc.record({ format, minLength, maxLength }, { requiredKeys: ['format'] }),
    fc.record({ format, pattern: fc.constantFrom('^[0-9a-c]', '\\d$', '^.{0,30}$', '[a-z]@', '^https://', '[\\s\\S]') }),
    fc.record({ minLength, maxLength }),
  )
  .map((keywords) => ({ type: 'string', ...keywords }));

t.test('random string schemas: every finished output is valid UTF-8 and validates', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab);
  let generated = 0;
  let refused = 0;
  const failures: string[] = [];
  await fc.assert(
    fc.asyncProperty(stringSchema, fc.integer({ min: 1, max: 1_000_000 }), async (inner, seed) => {
      const schema = { type: 'object', properties: { s: inner }, required: ['s'] };
      if (findUnsupportedKeyword(schema) !== null) {
        refused++;
        return;
      }
      const grammar = await jsonSchemaGrammar(schema);
      const validate = ajv.compile(schema);
      for (let k = 0; k < 3; k++) {
        const walk = await sequenceWalk(compiler, grammar, tokenizer, prng(seed + k), 120, 0.4);
        if (!walk.neverStuck) failures.push(`${JSON.stringify(inner)} seed ${seed + k}: stuck`);
        if (!walk.terminated) continue;
        generated++;
        let text: string;
        try {
          text = strict.decode(walk.bytes);
        } catch {
          failures.push(`${JSON.stringify(inner)} seed ${seed + k}: invalid UTF-8 ${Buffer.from(walk.bytes).toString('hex')}`);
          continue;
        }
        if (!validate(JSON.parse(text))) failures.push(`${JSON.stringify(inner)} seed ${seed + k}: ${text} fails ${ajv.errorsText(validate.errors)}`);
      }
    }),
    { numRuns: 40, seed: 1515 },
  );
  t.strictSame(failures, [], 'no invalid UTF-8, no invalid output, never stuck');
  t.ok(generated >= 50, `${generated} finished outputs checked (${refused} schemas refused up front)`);
  t.ok(refused <= 15, 'most random schemas are accepted');
  compiler.dispose();
});
