// Tool calls on the front: the model's text is parsed as it streams, text
// outside calls passes through as deltas, and the calls are delivered on the
// choice's finish event with finish_reason "tool_calls".

import type { ChatMessage as TemplateMessage } from '../tokenizer/chat-template.js';
import {
  assembleEvents,
  defaultToolPrompt,
  toPlainToolMessages,
  ToolCallStreamParser,
  type StreamEvent,
  type ToolCallFormat,
  type ToolDefinition,
} from '../structured/tool-calls.js';
import type { GenerationEvent } from './backend.js';

export async function* extractToolCalls(events: AsyncIterable<GenerationEvent>, format: ToolCallFormat): AsyncIterable<GenerationEvent> {
  const parser = new ToolCallStreamParser(format);
  const callEvents: StreamEvent[] = [];
  const content = (parsed: StreamEvent[]): string => {
    let text = '';
    for (const event of parsed) {
      if (event.kind === 'content') text += event.text;
      else callEvents.push(event);
    }
    return text;
  };
  for await (const event of events) {
    if (event.type === 'delta') {
      const text = content(parser.push(event.text));
      if (text !== '' || event.logprobs?.length) yield { ...event, text };
    } else if (event.type === 'finish') {
      const tail = content(parser.finish());
      if (tail !== '') yield { type: 'delta', choiceIndex: event.choiceIndex, text: tail };
      const calls = assembleEvents(callEvents).toolCalls;
      if (calls.length > 0 && event.finishReason === 'stop') {
        yield {
          type: 'finish',
          choiceIndex: event.choiceIndex,
          finishReason: 'tool_calls',
          toolCalls: calls.map((call) => ({ id: call.id, type: 'function' as const, function: { name: call.name, arguments: call.arguments } })),
        };
      } else {
        yield event;
      }
    } else {
      yield event;
    }
  }
}

/** For templates that cannot render tools: the default tool prompt in the system turn, calls as text. */
export function withDefaultToolPrompt(messages: TemplateMessage[], tools: ToolDefinition[]): TemplateMessage[] {
  const plain = toPlainToolMessages(
    messages.map((message) => ({
      role: message.role,
      content: typeof message.content === 'string' || message.content === null ? message.content : JSON.stringify(message.content),
      ...(message.tool_calls ? { tool_calls: message.tool_calls } : {}),
      ...(message.tool_call_id ? { tool_call_id: message.tool_call_id } : {}),
    })),
  ) as TemplateMessage[];
  const prompt = defaultToolPrompt(tools);
  if (plain[0]?.role === 'system') return [{ ...plain[0], content: `${plain[0].content}\n\n${prompt}` }, ...plain.slice(1)];
  return [{ role: 'system', content: prompt }, ...plain];
}
