// Tools for models whose chat template cannot show them (no template, one
// without tools, or one whose call format we do not parse): the tools are
// described in the system turn and the model is asked for hermes calls; earlier
// calls and results in the history are spelled out as hermes text, for
// templates that only know system/user/assistant turns with string content.

import type { ToolDefinition } from '../protocol/requests.js';
import type { ChatMessage } from '../tokenizer/chat-template.js';

/** `messages` with the default tool prompt in the system turn (appended, or a new one) and tool calls and results as text. */
export function withDefaultToolPrompt(messages: readonly ChatMessage[], tools: readonly ToolDefinition[]): ChatMessage[] {
  const plain = messages.map(toPlainMessage);
  const prompt = defaultToolPrompt(tools);
  if (plain[0]?.role === 'system') return [{ role: 'system', content: `${plain[0].content}\n\n${prompt}` }, ...plain.slice(1)];
  return [{ role: 'system', content: prompt }, ...plain];
}

/** The tools in the hermes format; same wording as the built-in models' template. */
function defaultToolPrompt(tools: readonly ToolDefinition[]): string {
  const signatures = tools.map((t) => JSON.stringify(t)).join('\n');
  return (
    '# Tools\n\nYou may call one or more functions to assist with the user query. ' +
    'Function signatures are given in <tools></tools> tags:\n' +
    `<tools>\n${signatures}\n</tools>\n\n` +
    'To call a function, reply with a JSON object inside tags: ' +
    '<tool_call>{"name": <function-name>, "arguments": <args-json-object>}</tool_call>'
  );
}

/**
 * One turn as plain text: an assistant turn's calls become `<tool_call>` lines
 * after its content, a tool result becomes a user turn in `<tool_response>`.
 * Content parts are sent as their JSON.
 */
function toPlainMessage(message: ChatMessage): { role: ChatMessage['role']; content: string } {
  const content = typeof message.content === 'string' ? message.content : message.content === null ? '' : JSON.stringify(message.content);
  if (message.role === 'assistant' && message.tool_calls && message.tool_calls.length > 0) {
    const calls = message.tool_calls.map((c) => `<tool_call>{"name": ${JSON.stringify(c.function.name)}, "arguments": ${c.function.arguments || '{}'}}</tool_call>`);
    return { role: 'assistant', content: [content, ...calls].filter((s) => s !== '').join('\n') };
  }
  if (message.role === 'tool') return { role: 'user', content: `<tool_response>\n${content}\n</tool_response>` };
  return { role: message.role, content };
}
