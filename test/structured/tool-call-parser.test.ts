// The streaming tool-call parser: hand-written outputs of each format, and
// streamed deltas that reassemble into the complete parse for any chunking.

import t from 'tap';
import fc from 'fast-check';
import type { ToolCall } from '../../src/protocol/requests.js';
import type { ToolCallFormat } from '../../src/structured/tool-call-format.js';
import { ToolCallStreamParser, type ParserEvent } from '../../src/structured/tool-call-parser.js';
import { assemble, counterIds, parseToolCalls, type ParsedOutput } from './helpers.js';

const call = (id: string, name: string, args: string): ToolCall => ({ id, type: 'function', function: { name, arguments: args } });

/** Hand-written outputs and what a reader expects from them. */
const OUTPUTS: { format: ToolCallFormat; text: string; expected: ParsedOutput }[] = [
  {
    format: 'hermes',
    text: 'Let me check.\n<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"tz": "CET", "fmt": [1, {"a": "}"}]}}\n</tool_call>\n',
    expected: {
      content: 'Let me check.',
      toolCalls: [
        call('call_0', 'get_weather', '{"city": "Paris"}'),
        call('call_1', 'get_time', '{"tz": "CET", "fmt": [1, {"a": "}"}]}'),
      ],
    },
  },
  { format: 'hermes', text: 'Just text, with a < sign and <tool', expected: { content: 'Just text, with a < sign and <tool', toolCalls: [] } },
  // A trigger that is not followed by a call is text, with the space before it.
  { format: 'hermes', text: 'I will use <tool_call> tags later', expected: { content: 'I will use <tool_call> tags later', toolCalls: [] } },
  { format: 'hermes', text: '<tool_call>{"arguments": {"x": 1}, "name": "late_name"}</tool_call>', expected: { content: null, toolCalls: [call('call_0', 'late_name', '{"x": 1}')] } },
  { format: 'hermes', text: '<tool_call>{"name": "no_args"}</tool_call>', expected: { content: null, toolCalls: [call('call_0', 'no_args', '{}')] } },
  { format: 'hermes', text: 'x <tool_call>{"nom": 1}</tool_call> y', expected: { content: 'x <tool_call>{"nom": 1}</tool_call> y', toolCalls: [] } },
  { format: 'hermes', text: '<tool_call>{"name": "cut", "arguments": {"q": "abc', expected: { content: null, toolCalls: [call('call_0', 'cut', '{"q": "abc')] } },
  { format: 'hermes', text: '<tool_call>{"name": "esc\\"aped", "arguments": {"s": "a\\"}b"}}</tool_call>', expected: { content: null, toolCalls: [call('call_0', 'esc"aped', '{"s": "a\\"}b"}')] } },
  {
    format: 'llama3',
    text: '<|python_tag|>{"name": "search", "parameters": {"query": "llamas"}}; {"name": "noop", "parameters": {}}',
    expected: { content: null, toolCalls: [call('call_0', 'search', '{"query": "llamas"}'), call('call_1', 'noop', '{}')] },
  },
  { format: 'llama3', text: '{"name": "f", "parameters": {"n": -1.5e3, "ok": true}}', expected: { content: null, toolCalls: [call('call_0', 'f', '{"n": -1.5e3, "ok": true}')] } },
  { format: 'llama3', text: 'The answer is {"name": 1}', expected: { content: 'The answer is {"name": 1}', toolCalls: [] } },
  { format: 'llama3', text: '{"result": 42}', expected: { content: '{"result": 42}', toolCalls: [] } },
  {
    format: 'mistral',
    text: 'Calling now [TOOL_CALLS] [{"name": "a", "arguments": {"k": "]"}}, {"name": "b", "arguments": {}, "id": "abc123def"}]',
    expected: { content: 'Calling now', toolCalls: [call('call_0', 'a', '{"k": "]"}'), call('call_1', 'b', '{}')] },
  },
  { format: 'mistral', text: 'No calls [TOOL_CALL', expected: { content: 'No calls [TOOL_CALL', toolCalls: [] } },
  { format: 'mistral', text: 'Dangling [TOOL_CALLS] ', expected: { content: 'Dangling [TOOL_CALLS] ', toolCalls: [] } },
  { format: 'mistral', text: '[TOOL_CALLS] [ {"title": "x"}]', expected: { content: '[TOOL_CALLS] [ {"title": "x"}]', toolCalls: [] } },
  { format: 'hermes', text: '<tool_call>\n{"foo": 1}</tool_call>', expected: { content: '<tool_call>\n{"foo": 1}</tool_call>', toolCalls: [] } },
  { format: 'hermes', text: '<tool_call>{"name": "a"}</tool_call><tool_call>  {"x"', expected: { content: '<tool_call>  {"x"', toolCalls: [call('call_0', 'a', '{}')] } },
  { format: 'llama3', text: ' {"result": 42}', expected: { content: ' {"result": 42}', toolCalls: [] } },
  { format: 'llama3', text: '<|python_tag|>{"x": 1}', expected: { content: '<|python_tag|>{"x": 1}', toolCalls: [] } },
];

t.test('complete parse of hand-written outputs', async (t) => {
  for (const { format, text, expected } of OUTPUTS) {
    t.same(parseToolCalls(text, format, { newId: counterIds() }), expected, `${format}: ${JSON.stringify(text).slice(0, 70)}`);
  }
});

function streamInChunks(text: string, format: ToolCallFormat, cuts: number[]): ParserEvent[] {
  const parser = new ToolCallStreamParser(format, { newId: counterIds() });
  const events: ParserEvent[] = [];
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    events.push(...parser.push(text.slice(from, cut)));
    from = cut;
  }
  events.push(...parser.push(text.slice(from)), ...parser.finish());
  return events;
}

/** OpenAI's delta rules: per call, the first delta carries id, type and name, later ones only arguments. */
function checkDeltaShape(events: ParserEvent[]): string | null {
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
        const streamed = assemble(events);
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
    t.same(assemble(events), parseToolCalls(text, format, { newId: counterIds() }), `char-by-char ${format}`);
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
