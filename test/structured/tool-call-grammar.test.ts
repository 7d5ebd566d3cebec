// Grammars that force tool calls: every output they allow parses as calls to
// the offered tools with valid arguments; unsupported parameter keywords are
// refused with their tools[] path.

import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ToolDefinition } from '../../src/protocol/requests.js';
import { UnsupportedSchemaError } from '../../src/structured/schema-grammar.js';
import { toolCallGrammar } from '../../src/structured/tool-call-grammar.js';
import { GrammarCompiler } from '../../src/structured/xgrammar.js';
import { parseToolCalls, prng, randomWalk, sharedAbsent, sharedDir, smallVocab } from './helpers.js';

const OWN_TOOLS: ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'set_alarm',
      parameters: { type: 'object', properties: { hour: { type: 'integer', minimum: 0, maximum: 23 }, label: { type: 'string', maxLength: 8 } }, required: ['hour'], additionalProperties: false },
    },
  },
  { type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {}, additionalProperties: false } } },
  { type: 'function', function: { name: 'rate', parameters: { type: 'object', properties: { stars: { enum: [1, 2, 3] } }, required: ['stars'] } } },
  {
    // pydantic-style: $defs and references, resolved against the tool's own parameters.
    type: 'function',
    function: {
      name: 'move',
      parameters: {
        type: 'object',
        properties: { to: { $ref: '#/$defs/Point' }, path: { type: 'array', items: { $ref: '#/$defs/Point' }, maxItems: 2 } },
        required: ['to'],
        additionalProperties: false,
        $defs: { Point: { type: 'object', properties: { x: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['x'], additionalProperties: false } },
      },
    },
  },
];

function sharedTools(): ToolDefinition[] {
  if (sharedAbsent !== false) return [];
  const file = path.join(sharedDir, 'models', 'grammars', 'ogenai-tool-definitions', 'weather.json');
  return JSON.parse(readFileSync(file, 'utf8')) as ToolDefinition[];
}

t.test('required / named tool grammars always yield valid calls', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab);
  const ajv = new Ajv2020({ strict: false });
  const rand = prng(11);
  const toolSets: [string, ToolDefinition[]][] = [['own', OWN_TOOLS], ['named set_alarm', [OWN_TOOLS[0]]]];
  if (sharedTools().length > 0) toolSets.push(['ogenai weather', sharedTools()]);
  for (const format of ['hermes', 'llama3', 'mistral'] as const) {
    for (const [label, tools] of toolSets) {
      for (const parallel of [true, false]) {
        const grammar = await compiler.compile(await toolCallGrammar(tools, format, { parallel }));
        for (let i = 0; i < 3; i++) {
          const walk = randomWalk(grammar, rand, 300, 0.7);
          const text = tokenizer.decodeSync(walk.ids, { skipSpecialTokens: false });
          if (!walk.terminated) {
            t.ok(walk.neverStuck, `${format}/${label}: cut, still a valid prefix`);
            continue;
          }
          const parsed = parseToolCalls(text, format);
          t.ok(parsed.toolCalls.length >= 1, `${format}/${label}: at least one call in ${JSON.stringify(text).slice(0, 90)}`);
          if (!parallel) t.equal(parsed.toolCalls.length, 1, 'exactly one call without parallel_tool_calls');
          t.equal(parsed.content, null, 'nothing but calls');
          for (const call of parsed.toolCalls) {
            const tool = tools.find((x) => x.function.name === call.function.name);
            t.ok(tool, `called an allowed function: ${call.function.name}`);
            const validate = ajv.compile(tool?.function.parameters ?? {});
            t.ok(validate(JSON.parse(call.function.arguments)), `arguments valid for ${call.function.name}: ${call.function.arguments}`);
          }
        }
      }
    }
  }
  compiler.dispose();
});

t.test('tool parameter schemas with unsupported keywords are refused with their tools[] path', async (t) => {
  const tools: ToolDefinition[] = [
    OWN_TOOLS[1],
    { type: 'function', function: { name: 'bad', parameters: { type: 'object', properties: { tags: { type: 'array', uniqueItems: true } } } } },
  ];
  const err = await toolCallGrammar(tools, 'hermes').catch((e: unknown) => e);
  t.ok(err instanceof UnsupportedSchemaError);
  t.match((err as UnsupportedSchemaError).unsupported, { keyword: 'uniqueItems', path: '#/tools/1/function/parameters/properties/tags' });
});
