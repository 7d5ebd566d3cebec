// Which keywords are enforced. Three kinds of evidence:
//  1. findUnsupportedKeyword names the first unsupported keyword and where it is;
//  2. for supported keywords our grammar accepts a valid instance and rejects
//     one that breaks exactly that keyword;
//  3. for refused keywords (and for the leaves we write ourselves), xgrammar's
//     own conversion accepts a violating instance: the reason for the decision.
//     If xgrammar starts enforcing one, its check here fails: revisit the table.

import t from 'tap';
import { MAX_SCHEMA_DEPTH } from '../../src/structured/schema-keywords.js';
import { findUnsupportedKeyword } from '../../src/structured/schema-support.js';
import { jsonSchemaGrammar, UnsupportedSchemaError } from '../../src/structured/schema-grammar.js';
import { GrammarCompiler, jsonSchemaToEbnf, XgrammarError } from '../../src/structured/xgrammar.js';
import { acceptsText, smallVocab } from './helpers.js';

t.test('first unsupported keyword and its path', async (t) => {
  const cases: [unknown, string | null, string | null][] = [
    [{ type: 'string', pattern: '^a' }, null, '#'],
    [{ type: 'string', pattern: '^(?=a)' }, 'pattern', '#'],
    [{ type: 'string', pattern: '(a)\\1' }, 'pattern', '#'],
    [{ type: 'string', pattern: '[' }, 'pattern', '#'],
    [{ type: 'string', pattern: '^a$', maxLength: 0 }, 'pattern', '#'],
    [{ pattern: '^a' }, 'pattern', '#'],
    [{ type: 'object', patternProperties: { '^a': { type: 'integer' } } }, 'patternProperties', '#'],
    [{ if: { type: 'string' }, then: { minLength: 1 } }, 'if', '#'],
    [{ not: { type: 'null' } }, 'not', '#'],
    [{ type: 'object', dependentSchemas: { a: {} } }, 'dependentSchemas', '#'],
    [{ type: 'array', uniqueItems: true }, 'uniqueItems', '#'],
    [{ type: 'integer', multipleOf: 2 }, 'multipleOf', '#'],
    [{ type: 'array', contains: { type: 'integer' } }, 'contains', '#'],
    [{ allOf: [{ type: 'integer' }] }, 'allOf', '#'],
    [{ type: 'object', minProperties: 1 }, 'minProperties', '#'],
    [{ type: 'object', properties: { a: { type: 'array', items: { type: 'string', format: 'hostname' } } } }, 'format', '#/properties/a/items'],
    [{ type: 'object', properties: { 'a/b': { type: 'integer', multipleOf: 3 } } }, 'multipleOf', '#/properties/a~1b'],
    [{ anyOf: [{ type: 'string' }, { type: 'integer', maximum: 3, minimum: 5 }] }, 'minimum', '#/anyOf/1'],
    [{ oneOf: [{ type: 'integer' }, { type: 'number' }] }, 'oneOf', '#'],
    [{ $ref: '#/$defs/missing' }, '$ref', '#'],
    [{ $ref: 'http://example.com/schema' }, '$ref', '#'],
    [{ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'integer' } }, 'additionalProperties', '#'],
    [{ type: 'object', properties: {}, required: ['x'] }, 'required', '#'],
    [{ minLength: 2 }, 'minLength', '#'],
    [{ type: 'integer', minimum: 1e20 }, 'minimum', '#'],
    [{ type: 'number', minimum: 1.2, maximum: 1.8 }, 'minimum', '#'],
    [{ type: 'integer', exclusiveMinimum: 1, exclusiveMaximum: 2 }, 'exclusiveMinimum', '#'],
    [{ type: 'string', format: 'date', maxLength: 4 }, 'maxLength', '#'],
    [{ type: 'string', format: 'date', maxLength: 10 }, null, '#'],
    [{ enum: [1, 2], minimum: 0 }, 'minimum', '#'],
    [{ type: 'string', enum: ['a', 3] }, 'enum', '#'],
    [{ type: 'object', anyOf: [{ required: [] }] }, 'type', '#'],
    [{ type: 'widget' }, 'type', '#'],
    [{ type: 'string', someVendorThing: 1 }, 'someVendorThing', '#'],
    [false, 'false', '#'],
    // Supported:
    [{ type: 'string', format: 'binary', 'x-extra': 1, title: 'T', description: 'D', default: 'x' }, null, null],
    [{ type: ['integer', 'null'], minimum: 0 }, null, null],
    [{ oneOf: [{ type: 'integer' }, { type: 'string' }] }, null, null],
    [{ oneOf: [{ const: 1 }, { enum: [2, 3] }] }, null, null],
    [{ type: 'object', properties: { self: { $ref: '#' } } }, null, null],
    [true, null, null],
  ];
  for (const [schema, keyword, path] of cases) {
    const found = findUnsupportedKeyword(schema);
    if (keyword === null) t.equal(found, null, `supported: ${JSON.stringify(schema)}`);
    else t.match(found, { keyword, path }, `${JSON.stringify(schema)} → ${keyword} at ${path}`);
  }
});

t.test('schemas nested too deep are refused before xgrammar sees them, without recursion', async (t) => {
  const nested = (levels: number): unknown => {
    let schema: unknown = { type: 'integer' };
    for (let i = 0; i < levels; i++) schema = { type: 'array', items: schema };
    return schema;
  };
  t.equal(findUnsupportedKeyword(nested(MAX_SCHEMA_DEPTH - 1)), null, `${MAX_SCHEMA_DEPTH - 1} levels: fine`);
  const deep = findUnsupportedKeyword(nested(MAX_SCHEMA_DEPTH));
  t.equal(deep?.keyword, 'items');
  t.match(deep?.reason, /deeper than 48 levels/);
  t.match(findUnsupportedKeyword(nested(20_000)), { keyword: 'items' }, '20,000 levels: refused, no stack overflow');
});

t.test('depth counts schema levels, not JSON levels (issue 19 item 8)', async (t) => {
  const objects = (levels: number): unknown => {
    let schema: unknown = { type: 'string' };
    for (let i = 0; i < levels; i++) schema = { type: 'object', properties: { inner: schema }, required: ['inner'], additionalProperties: false };
    return schema;
  };
  t.equal(findUnsupportedKeyword(objects(24)), null, '24 nested objects: accepted (they were counted as 48 levels)');
  const grammar = await jsonSchemaGrammar(objects(MAX_SCHEMA_DEPTH - 1));
  t.match(grammar.ebnf, /inner/, `${MAX_SCHEMA_DEPTH - 1} nested objects convert without trapping xgrammar`);
  const deep = findUnsupportedKeyword(objects(MAX_SCHEMA_DEPTH));
  t.equal(deep?.keyword, 'properties', 'the keyword named is `properties`, not the property name');
  t.match(deep?.reason, /sub-schemas nest deeper than 48 levels/);
  t.equal(deep?.path, `#${'/properties/inner'.repeat(MAX_SCHEMA_DEPTH - 1)}`, 'at the schema that holds the 49th level');
  const withData = { type: 'object', properties: { c: { const: objects(60) } } };
  t.equal(findUnsupportedKeyword(withData), null, 'deep data inside `const` is a value, not nested schemas');
  let anyOf: unknown = { type: 'null' };
  for (let i = 0; i < MAX_SCHEMA_DEPTH; i++) anyOf = { anyOf: [anyOf, { type: 'integer' }] };
  t.match(findUnsupportedKeyword(anyOf), { keyword: 'anyOf' }, 'combinator branches count one level each');
});

t.test('after xgrammar traps, the module is reloaded and conversion works again', async (t) => {
  // 68 nested arrays trap inside xgrammar's WebAssembly memory (that is why the depth is capped).
  let schema: unknown = { type: 'integer' };
  for (let i = 0; i < 68; i++) schema = { type: 'array', items: schema };
  const trap = await jsonSchemaToEbnf(schema, [', ', ': ']).then(
    () => null,
    (error: unknown) => error,
  );
  t.ok(trap instanceof XgrammarError && trap.trapped, `the conversion trapped: ${String(trap)}`);
  const ebnf = await jsonSchemaToEbnf({ type: 'object', properties: { a: { type: 'integer' } } }, [', ', ': ']);
  t.match(ebnf, /root/, 'a fresh module converts the next schema');
});

t.test('jsonSchemaGrammar throws UnsupportedSchemaError naming the keyword', async (t) => {
  await t.rejects(jsonSchemaGrammar({ type: 'object', properties: { a: { type: 'array', uniqueItems: true } } }), UnsupportedSchemaError);
  const err = await jsonSchemaGrammar({ type: 'number', minimum: 1.2, maximum: 1.8 }).catch((e: unknown) => e);
  t.ok(err instanceof UnsupportedSchemaError, 'a range with no integer and no whole unit is refused');
  t.match((err as UnsupportedSchemaError).unsupported, { keyword: 'minimum', path: '#' });
  t.match((err as Error).message, /minimum/);
});

/** [schema, valid instance, instance that breaks the keyword] in the grammar's spacing. */
const ENFORCED: [string, unknown, string, string][] = [
  ['type', { type: 'boolean' }, 'true', '1'],
  ['properties/required', { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, required: ['b'] }, '{"b": 1}', '{"a": 1}'],
  ['additionalProperties false', { type: 'object', properties: { a: { type: 'integer' } }, additionalProperties: false }, '{"a": 1}', '{"a": 1, "z": 2}'],
  ['additionalProperties schema', { type: 'object', additionalProperties: { type: 'integer' } }, '{"k": 1}', '{"k": "v"}'],
  ['enum', { enum: ['a', 'b'] }, '"b"', '"c"'],
  ['const', { const: 'x' }, '"x"', '"y"'],
  ['minLength', { type: 'string', minLength: 2 }, '"ab"', '"a"'],
  ['maxLength', { type: 'string', maxLength: 2 }, '"ab"', '"abc"'],
  ['maxLength counts code points, not bytes', { type: 'string', maxLength: 2 }, '"é€"', '"éé€"'],
  ['pattern: a quote only escaped', { type: 'string', pattern: '^a.b$' }, '"a\\"b"', '"a"b"'],
  ['pattern: unanchored, with a length limit', { type: 'string', pattern: 'ab', maxLength: 4 }, '"xaby"', '"xay"'],
  ['pattern: controls escaped', { type: 'string', pattern: '^\\s$' }, '"\\u000a"', '"\n"'],
  ['format and pattern: both hold', { type: 'string', format: 'uuid', pattern: '^0' }, '"0a2b3c4d-0000-4000-8000-000000000000"', '"1a2b3c4d-0000-4000-8000-000000000000"'],
  ['pattern: alternation after a free prefix (deterministic rules)', { type: 'string', pattern: '(?:\\\\|\\d) ' }, '"a1 "', '"x "'],
  ['pattern: a listed non-ASCII character', { type: 'string', pattern: '^[é你]$' }, '"你"', '"e"'],
  ['email', { type: 'string', format: 'email' }, '"ada@example.org"', '"ada@@example.org"'],
  ['length-limited strings hold no escapes', { type: 'string', maxLength: 4 }, '"ab"', '"a\\nb"'],
  ['minLength: no raw control characters', { type: 'string', minLength: 1 }, '"a b"', '"a\tb"'],
  ['format date', { type: 'string', format: 'date' }, '"2024-01-31"', '"2023-02-31"'],
  ['format time', { type: 'string', format: 'time' }, '"23:59:59Z"', '"24:00:00Z"'],
  ['format date-time', { type: 'string', format: 'date-time' }, '"2024-05-06T07:08:09.5+01:00"', '"2024-05-06 07:08:09"'],
  ['format uuid', { type: 'string', format: 'uuid' }, '"123e4567-e89b-12d3-a456-426614174000"', '"123e4567e89b12d3a456426614174000"'],
  ['minimum (integer)', { type: 'integer', minimum: 5 }, '5', '4'],
  ['maximum (integer)', { type: 'integer', maximum: -5 }, '-5', '-4'],
  ['exclusiveMinimum', { type: 'integer', exclusiveMinimum: 5 }, '6', '5'],
  ['exclusiveMaximum', { type: 'number', exclusiveMaximum: 1 }, '0.999', '1'],
  ['minimum (number)', { type: 'number', minimum: 1.5, maximum: 10 }, '2.25', '1x5'],
  ['maximum (number)', { type: 'number', minimum: 0, maximum: 100 }, '99.5', '100.5'],
  ['items', { type: 'array', items: { type: 'integer' } }, '[1, 2]', '[1, "2"]'],
  ['minItems', { type: 'array', items: { type: 'integer' }, minItems: 2 }, '[1, 2]', '[1]'],
  ['maxItems', { type: 'array', items: { type: 'integer' }, maxItems: 1 }, '[1]', '[1, 2]'],
  ['prefixItems', { type: 'array', prefixItems: [{ type: 'string' }], items: false }, '["a"]', '["a", 1]'],
  ['anyOf', { anyOf: [{ type: 'integer' }, { type: 'null' }] }, 'null', '"x"'],
  ['oneOf', { oneOf: [{ type: 'integer' }, { type: 'string', maxLength: 1 }] }, '"x"', 'true'],
  ['$ref/$defs', { $defs: { n: { type: 'null' } }, type: 'object', properties: { a: { $ref: '#/$defs/n' } }, required: ['a'] }, '{"a": null}', '{"a": 1}'],
  ['nullable', { type: 'string', nullable: true, maxLength: 1 }, 'null', '1'],
  ['type list', { type: ['integer', 'null'] }, 'null', '"x"'],
];

t.test('supported keywords are enforced by our grammar', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab);
  for (const [name, schema, good, bad] of ENFORCED) {
    const grammar = await compiler.compile(await jsonSchemaGrammar(schema));
    t.ok(await acceptsText(grammar, tokenizer, good), `${name}: accepts ${good}`);
    t.notOk(await acceptsText(grammar, tokenizer, bad), `${name}: rejects ${JSON.stringify(bad)}`);
  }
  compiler.dispose();
});

/** Schemas xgrammar converts without enforcing the keyword, and an instance it wrongly accepts. */
const XGRAMMAR_GAPS: [string, unknown, string][] = [
  ['pattern (unescaped quote)', { type: 'string', pattern: '.*' }, '"a"b"'],
  ['uniqueItems', { type: 'array', items: { type: 'integer' }, uniqueItems: true }, '[1, 1]'],
  ['multipleOf', { type: 'integer', multipleOf: 3 }, '4'],
  ['not', { not: { type: 'string' } }, '"x"'],
  ['if/then/else', { if: { type: 'string' }, then: { minLength: 2 }, else: { type: 'integer' } }, '"x"'],
  ['contains', { type: 'array', contains: { type: 'integer' } }, '[]'],
  ['allOf', { allOf: [{ type: 'integer' }, { minimum: 3 }] }, '"x"'],
  ['dependentRequired', { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, dependentRequired: { a: ['b'] } }, '{"a": 1}'],
  ['additionalProperties schema beside properties', { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: { type: 'integer' } }, '{"a": "x", "a": 5}'],
  ['oneOf with overlapping branches', { oneOf: [{ type: 'integer' }, { type: 'number' }] }, '1'],
  // Leaves we therefore write ourselves:
  ['number minimum (xgrammar rule)', { type: 'number', minimum: 1.5, maximum: 10 }, '1x5'],
  ['number maximum (xgrammar rule)', { type: 'number', minimum: 0, maximum: 100 }, '100.5'],
  ['integer minimum alone (xgrammar rule)', { type: 'integer', minimum: 5 }, '4'],
  ['minLength (xgrammar rule admits a raw tab)', { type: 'string', minLength: 2 }, '"a\tb"'],
  ['format date (xgrammar rule)', { type: 'string', format: 'date' }, '"2023-02-31"'],
];

t.test("xgrammar's own conversion does not enforce what we refuse or rewrite", async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab);
  for (const [name, schema, violating] of XGRAMMAR_GAPS) {
    const grammar = await compiler.compile({ ebnf: await jsonSchemaToEbnf(schema, [', ', ': ']), root: 'root' });
    t.ok(await acceptsText(grammar, tokenizer, violating), `${name}: raw xgrammar accepts ${JSON.stringify(violating)}`);
  }
  compiler.dispose();
});
