// extractToolCalls: the engine backend's text → tool_call_delta events, in order, as the parser produces them.

import t from 'tap';
import type { GenerationEvent, TextTokenLogprob } from '../../src/front/backend.js';
import { extractToolCalls } from '../../src/front/tool-call-events.js';

async function run(events: GenerationEvent[]): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  async function* source(): AsyncIterable<GenerationEvent> {
    yield* events;
  }
  for await (const event of extractToolCalls(source(), 'hermes')) out.push(event);
  return out;
}

const delta = (text: string, logprobs?: TextTokenLogprob[]): GenerationEvent => ({ type: 'delta', choiceIndex: 1, text, ...(logprobs ? { logprobs } : {}) });
const lp = (token: string): TextTokenLogprob => ({ token, logprob: -1, bytes: null, textOffset: 0, top: [] });

t.test('calls stream as a header, then argument fragments, and finish with tool_calls', async (t) => {
  const out = await run([
    delta('Sure.'),
    delta(' <tool_call>{"name": "f", '),
    delta('"arguments": {"a":'),
    delta(' 1}}</tool_call>\n<tool_call>{"name": "g", "arguments": {}}'),
    delta('</tool_call>'),
    { type: 'finish', choiceIndex: 1, finishReason: 'stop' },
  ]);
  const [text, header, first, second, header2, args2, finish, ...rest] = out;
  t.strictSame(rest, []);
  t.strictSame(text, { type: 'delta', choiceIndex: 1, text: 'Sure.' }, 'text before the call, its trailing space dropped');
  t.match(header, { type: 'tool_call_delta', choiceIndex: 1, delta: { index: 0, id: /^call_/, type: 'function', function: { name: 'f', arguments: '' } } });
  t.strictSame(first, { type: 'tool_call_delta', choiceIndex: 1, delta: { index: 0, function: { arguments: '{"a":' } } });
  t.strictSame(second, { type: 'tool_call_delta', choiceIndex: 1, delta: { index: 0, function: { arguments: ' 1}' } } });
  t.match(header2, { type: 'tool_call_delta', delta: { index: 1, id: /^call_/, type: 'function', function: { name: 'g', arguments: '' } } });
  t.strictSame(args2, { type: 'tool_call_delta', choiceIndex: 1, delta: { index: 1, function: { arguments: '{}' } } });
  t.strictSame(finish, { type: 'finish', choiceIndex: 1, finishReason: 'tool_calls' });
});

t.test('logprobs of call tokens ride on an empty text delta before the call events', async (t) => {
  const out = await run([
    delta('<tool_call>{"name": "f", "arguments": {', [lp('<tool_call>'), lp('{"')]),
    delta('}}', [lp('}}')]),
    { type: 'finish', choiceIndex: 1, finishReason: 'stop' },
  ]);
  t.strictSame(
    out.map((e) => e.type),
    ['delta', 'tool_call_delta', 'tool_call_delta', 'delta', 'tool_call_delta', 'finish'],
  );
  t.strictSame(out[0], { type: 'delta', choiceIndex: 1, text: '', logprobs: [lp('<tool_call>'), lp('{"')] });
  t.strictSame(out[3], { type: 'delta', choiceIndex: 1, text: '', logprobs: [lp('}}')] });
});

t.test('a call cut short keeps finish_reason length; no call leaves the text alone', async (t) => {
  const cut = await run([delta('<tool_call>{"name": "f", "arguments": {"a'), { type: 'finish', choiceIndex: 1, finishReason: 'length' }]);
  t.strictSame(
    cut.map((e) => e.type),
    ['tool_call_delta', 'tool_call_delta', 'finish'],
  );
  t.match(cut[2], { finishReason: 'length' });
  const stopped = await run([delta('<tool_call>{"name": "f", "arguments": {"a'), { type: 'finish', choiceIndex: 1, finishReason: 'stop' }]);
  t.match(stopped[stopped.length - 1], { type: 'finish', finishReason: 'stop' }, 'cut by a stop string: not tool_calls, the call is incomplete');
  const completeThenCut = await run([
    delta('<tool_call>{"name": "f", "arguments": {}}</tool_call><tool_call>{"name": "g", "arg'),
    { type: 'finish', choiceIndex: 1, finishReason: 'stop' },
  ]);
  t.match(completeThenCut[completeThenCut.length - 1], { finishReason: 'stop' }, 'a second call cut short also withholds tool_calls');
  const plain = await run([delta('Hello'), delta(' world'), { type: 'finish', choiceIndex: 1, finishReason: 'stop' }]);
  t.strictSame(plain, [delta('Hello'), delta(' world'), { type: 'finish', choiceIndex: 1, finishReason: 'stop' }]);
});
