// Tool calls: format detection, parsing hand-written outputs of each format,
// streaming deltas that reassemble into the complete parse for any chunking,
// and grammars that force a valid call.

import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { CHAT_TEMPLATE } from '../../src/model/testmodels/chat-template.js';
import {
  assembleEvents,
  defaultToolPrompt,
  detectToolCallFormat,
  parseToolCalls,
  toolCallGrammar,
  toPlainToolMessages,
  ToolCallStreamParser,
  type ParsedOutput,
  type StreamEvent,
  type ToolCallFormat,
  type ToolDefinition,
} from '../../src/structured/tool-calls.js';
import { UnsupportedSchemaError } from '../../src/structured/schema-grammar.js';
import { GrammarCompiler } from '../../src/structured/xgrammar.js';
import { prng, randomWalk, sharedAbsent, sharedDir, smallVocab } from './helpers.js';

function counterIds(): () => string {
  let n = 0;
  return () => `call_${n++}`;
}

t.test('format detection from chat templates', async (t) => {
  t.same(detectToolCallFormat(CHAT_TEMPLATE), { format: 'hermes', templateSupportsTools: true }, 'built-in models');
  t.same(detectToolCallFormat("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"), { format: 'hermes', templateSupportsTools: false }, 'no tools');
  t.same(detectToolCallFormat(null), { format: 'hermes', templateSupportsTools: false }, 'no template');
  t.same(detectToolCallFormat('{% if tools %}[AVAILABLE_TOOLS]{{ tools|tojson }}[/AVAILABLE_TOOLS]{% endif %}[TOOL_CALLS]'), { format: 'mistral', templateSupportsTools: true });
  t.same(detectToolCallFormat('<|start_header_id|>ipython<|end_header_id|>{% if tools %}<|python_tag|>{% endif %}'), { format: 'llama3', templateSupportsTools: true });
});

t.test('format detection on real templates', { skip: sharedAbsent }, async (t) => {
  const dir = path.join(sharedDir, 'models', 'tokenizers', 'chat-templates');
  const template = (file: string): string => {
    const text = readFileSync(path.join(dir, file), 'utf8');
    return file.endsWith('.json') ? String((JSON.parse(text) as { chat_template: unknown }).chat_template) : text;
  };
  t.same(detectToolCallFormat(template('qwen2.5--tokenizer_config.json')), { format: 'hermes', templateSupportsTools: true });
  t.same(detectToolCallFormat(template('qwen3--tokenizer_config.json')), { format: 'hermes', templateSupportsTools: true });
  // Formats we do not parse: tools go through the default prompt instead.
  t.same(detectToolCallFormat(template('gemma-4--chat_template.jinja')), { format: 'hermes', templateSupportsTools: false });
  t.same(detectToolCallFormat(template('phi-4-mini--tokenizer_config.json')), { format: 'hermes', templateSupportsTools: false });
});

/** Hand-written outputs and what a reader expects from them. */
const OUTPUTS: { format: ToolCallFormat; text: string; expected: ParsedOutput }[] = [
  {
    format: 'hermes',
    text: 'Let me check.\n<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"tz": "CET", "fmt": [1, {"a": "}"}]}}\n</tool_call>\n',
    expected: {
      content: 'Let me check.',
      toolCalls: [
        { id: 'call_0', name: 'get_weather', arguments: '{"city": "Paris"}' },
        { id: 'call_1', name: 'get_time', arguments: '{"tz": "CET", "fmt": [1, {"a": "}"}]}' },
      ],
    },
  },
  { format: 'hermes', text: 'Just text, with a < sign and <tool', expected: { content: 'Just text, with a < sign and <tool', toolCalls: [] } },
  // A trigger that is not followed by a call is text, with the space before it.
  { format: 'hermes', text: 'I will use <tool_call> tags later', expected: { content: 'I will use <tool_call> tags later', toolCalls: [] } },
  { format: 'hermes', text: '<tool_call>{"arguments": {"x": 1}, "name": "late_name"}</tool_call>', expected: { content: null, toolCalls: [{ id: 'call_0', name: 'late_name', arguments: '{"x": 1}' }] } },
  { format: 'hermes', text: '<tool_call>{"name": "no_args"}</tool_call>', expected: { content: null, toolCalls: [{ id: 'call_0', name: 'no_args', arguments: '{}' }] } },
  { format: 'hermes', text: 'x <tool_call>{"nom": 1}</tool_call> y', expected: { content: 'x <tool_call>{"nom": 1}</tool_call> y', toolCalls: [] } },
  { format: 'hermes', text: '<tool_call>{"name": "cut", "arguments": {"q": "abc', expected: { content: null, toolCalls: [{ id: 'call_0', name: 'cut', arguments: '{"q": "abc' }] } },
  { format: 'hermes', text: '<tool_call>{"name": "esc\\"aped", "arguments": {"s": "a\\"}b"}}</tool_call>', expected: { content: null, toolCalls: [{ id: 'call_0', name: 'esc"aped', arguments: '{"s": "a\\"}b"}' }] } },
  {
    format: 'llama3',
    text: '<|python_tag|>{"name": "search", "parameters": {"query": "llamas"}}; {"name": "noop", "parameters": {}}',
    expected: { content: null, toolCalls: [{ id: 'call_0', name: 'search', arguments: '{"query": "llamas"}' }, { id: 'call_1', name: 'noop', arguments: '{}' }] },
  },
  { format: 'llama3', text: '{"name": "f", "parameters": {"n": -1.5e3, "ok": true}}', expected: { content: null, toolCalls: [{ id: 'call_0', name: 'f', arguments: '{"n": -1.5e3, "ok": true}' }] } },
  { format: 'llama3', text: 'The answer is {"name": 1}', expected: { content: 'The answer is {"name": 1}', toolCalls: [] } },
  { format: 'llama3', text: '{"result": 42}', expected: { content: '{"result": 42}', toolCalls: [] } },
  {
    format: 'mistral',
    text: 'Calling now [TOOL_CALLS] [{"name": "a", "arguments": {"k": "]"}}, {"name": "b", "arguments": {}, "id": "abc123def"}]',
    expected: { content: 'Calling now', toolCalls: [{ id: 'call_0', name: 'a', arguments: '{"k": "]"}' }, { id: 'call_1', name: 'b', arguments: '{}' }] },
  },
  { format: 'mistral', text: 'No calls [TOOL_CALL', expected: { content: 'No calls [TOOL_CALL', toolCalls: [] } },
  { format: 'mistral', text: 'Dangling [TOOL_CALLS] ', expected: { content: 'Dangling [TOOL_CALLS] ', toolCalls: [] } },
  { format: 'mistral', text: '[TOOL_CALLS] [ {"title": "x"}]', expected: { content: '[TOOL_CALLS] [ {"title": "x"}]', toolCalls: [] } },
  { format: 'hermes', text: '<tool_call>\n{"foo": 1}</tool_call>', expected: { content: '<tool_call>\n{"foo": 1}</tool_call>', toolCalls: [] } },
  { format: 'hermes', text: '<tool_call>{"name": "a"}</tool_call><tool_call>  {"x"', expected: { content: '<tool_call>  {"x"', toolCalls: [{ id: 'call_0', name: 'a', arguments: '{}' }] } },
  { format: 'llama3', text: ' {"result": 42}', expected: { content: ' {"result": 42}', toolCalls: [] } },
  { format: 'llama3', text: '<|python_tag|>{"x": 1}', expected: { content: '<|python_tag|>{"x": 1}', toolCalls: [] } },
];

t.test('complete parse of hand-written outputs', async (t) => {
  for (const { format, text, expected } of OUTPUTS) {
    t.same(parseToolCalls(text, format, { newId: counterIds() }), expected, `${format}: ${JSON.stringify(text).slice(0, 70)}`);
  }
});

function streamInChunks(text: string, format: ToolCallFormat, cuts: number[]): StreamEvent[] {
  const parser = new ToolCallStreamParser(format, { newId: counterIds() });
  const events: StreamEvent[] = [];
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    events.push(...parser.push(text.slice(from, cut)));
    from = cut;
  }
  events.push(...parser.push(text.slice(from)), ...parser.finish());
  return events;
}

/** OpenAI's delta rules: per call, the first delta carries id, type and name, later ones only arguments. */
function checkDeltaShape(events: StreamEvent[]): string | null {
  const seen = new Set<number>();
  for (const e of events) {
    if (e.kind !== 'tool_call') continue;
    const d = e.delta;
    if (!seen.has(d.index)) {
      if (d.index !== seen.size) return `index ${d.index} opened out of order`;
      if (d.id === undefined || d.type !== 'function' || d.function.name === undefined) return `first delta of ${d.index} lacks id/type/name`;
      seen.add(d.index);
    } else if (d.id !== undefined || d.function.name !== undefined) {
      return `later delta of ${d.index} repeats id/name`;
    }
  }
  return null;
}

t.test('streamed deltas reassemble into the complete parse, for any chunking', async (t) => {
  const texts = OUTPUTS.map((o) => ({ format: o.format, text: o.text }));
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: texts.length - 1 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (which, rawCuts) => {
        const { format, text } = texts[which];
        const cuts = rawCuts.map((c) => c % (text.length + 1));
        const events = streamInChunks(text, format, cuts);
        const shape = checkDeltaShape(events);
        if (shape !== null) throw new Error(shape);
        const streamed = assembleEvents(events);
        const complete = parseToolCalls(text, format, { newId: counterIds() });
        t.same(streamed, complete);
        return JSON.stringify(streamed) === JSON.stringify(complete);
      },
    ),
    { numRuns: 400, seed: 42 },
  );
  // Character by character is the hardest chunking.
  for (const { format, text } of texts) {
    const events = streamInChunks(text, format, [...text].map((_, i) => i));
    t.same(assembleEvents(events), parseToolCalls(text, format, { newId: counterIds() }), `char-by-char ${format}`);
    t.equal(checkDeltaShape(events), null);
  }
});

t.test('streaming emits argument fragments before the call ends', async (t) => {
  const parser = new ToolCallStreamParser('hermes', { newId: counterIds() });
  const first = parser.push('<tool_call>{"name": "f", "arguments": {"a": "hel');
  t.same(first, [
    { kind: 'tool_call', delta: { index: 0, id: 'call_0', type: 'function', function: { name: 'f', arguments: '' } } },
    { kind: 'tool_call', delta: { index: 0, function: { arguments: '{"a": "hel' } } },
  ]);
  t.same(parser.push('lo"}}</tool_call>'), [{ kind: 'tool_call', delta: { index: 0, function: { arguments: 'lo"}' } } }]);
  t.same(parser.finish(), []);
});

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
        const grammar = await compiler.compile({ kind: 'ebnf', ...(await toolCallGrammar(tools, format, { parallel })) });
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
            const tool = tools.find((x) => x.function.name === call.name);
            t.ok(tool, `called an allowed function: ${call.name}`);
            const validate = ajv.compile(tool?.function.parameters ?? {});
            t.ok(validate(JSON.parse(call.arguments)), `arguments valid for ${call.name}: ${call.arguments}`);
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

t.test('default tool prompt and plain-text history', async (t) => {
  const prompt = defaultToolPrompt(OWN_TOOLS);
  for (const tool of OWN_TOOLS) t.ok(prompt.includes(JSON.stringify(tool)), `prompt lists ${tool.function.name}`);
  t.match(prompt, /<tool_call>\{"name": <function-name>, "arguments": <args-json-object>\}<\/tool_call>/);
  const plain = toPlainToolMessages([
    { role: 'user', content: 'wake me at 7' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', function: { name: 'set_alarm', arguments: '{"hour": 7}' } }] },
    { role: 'tool', content: 'ok', tool_call_id: 'c1' },
  ]);
  t.same(plain, [
    { role: 'user', content: 'wake me at 7' },
    { role: 'assistant', content: '<tool_call>{"name": "set_alarm", "arguments": {"hour": 7}}</tool_call>' },
    { role: 'user', content: '<tool_response>\nok\n</tool_response>' },
  ]);
  // What we render is what we parse back.
  t.same(parseToolCalls(plain[1].content, 'hermes', { newId: counterIds() }).toolCalls, [{ id: 'call_0', name: 'set_alarm', arguments: '{"hour": 7}' }]);
});
