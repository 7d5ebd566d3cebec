// Tools for templates that cannot show them: the default tool prompt in the
// system turn, and earlier calls and results as hermes text.

import t from 'tap';
import type { ToolDefinition } from '../../src/protocol/requests.js';
import { withDefaultToolPrompt } from '../../src/structured/tool-prompt.js';
import { counterIds, parseToolCalls } from './helpers.js';

const TOOLS: ToolDefinition[] = [
  { type: 'function', function: { name: 'set_alarm', description: 'Sets an alarm', parameters: { type: 'object', properties: { hour: { type: 'integer' } } } } },
  { type: 'function', function: { name: 'ping' } },
];

t.test('the prompt joins the system turn; calls and results become hermes text', async (t) => {
  const out = withDefaultToolPrompt(
    [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'wake me at 7' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'set_alarm', arguments: '{"hour": 7}' } }] },
      { role: 'tool', content: 'ok', tool_call_id: 'c1' },
    ],
    TOOLS,
  );
  t.equal(out.length, 4);
  const system = out[0];
  t.equal(system.role, 'system');
  t.ok(typeof system.content === 'string' && system.content.startsWith('Be brief.\n\n# Tools\n'), 'appended to the system turn');
  for (const tool of TOOLS) t.ok(String(system.content).includes(JSON.stringify(tool)), `prompt lists ${tool.function.name}`);
  t.match(system.content, /<tool_call>\{"name": <function-name>, "arguments": <args-json-object>\}<\/tool_call>/);
  t.same(out.slice(1), [
    { role: 'user', content: 'wake me at 7' },
    { role: 'assistant', content: '<tool_call>{"name": "set_alarm", "arguments": {"hour": 7}}</tool_call>' },
    { role: 'user', content: '<tool_response>\nok\n</tool_response>' },
  ]);
  // What we render is what we parse back.
  t.same(parseToolCalls(String(out[2].content), 'hermes', { newId: counterIds() }).toolCalls, [
    { id: 'call_0', type: 'function', function: { name: 'set_alarm', arguments: '{"hour": 7}' } },
  ]);
});

t.test('without a system turn the prompt is one; content parts are sent as JSON; empty arguments as {}', async (t) => {
  const parts = [{ type: 'text' as const, text: 'hi' }];
  const out = withDefaultToolPrompt(
    [
      { role: 'user', content: parts },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'ping', arguments: '' } }] },
    ],
    TOOLS,
  );
  t.equal(out[0].role, 'system');
  t.ok(String(out[0].content).startsWith('# Tools\n'));
  t.same(out.slice(1), [
    { role: 'user', content: JSON.stringify(parts) },
    { role: 'assistant', content: 'Checking.\n<tool_call>{"name": "ping", "arguments": {}}</tool_call>' },
  ]);
});
