// Tool calls on the front: the model's text is parsed as it streams, text
// outside calls passes through as deltas, and each call goes out as
// tool_call_delta events as soon as the parser produces them (header with id
// and name, then argument fragments). A choice that made calls, completed
// every one and ended normally finishes with finish_reason "tool_calls".

import type { ChatMessage as TemplateMessage } from '../tokenizer/chat-template.js';
import {
  defaultToolPrompt,
  toPlainToolMessages,
  ToolCallStreamParser,
  type StreamEvent,
  type ToolCallFormat,
  type ToolDefinition,
} from '../structured/tool-calls.js';
import type { GenerationEvent, TextTokenLogprob } from './backend.js';

export async function* extractToolCalls(events: AsyncIterable<GenerationEvent>, format: ToolCallFormat): AsyncIterable<GenerationEvent> {
  const parser = new ToolCallStreamParser(format);
  let called = false;
  /** The parser's events in order; `logprobs` (of the tokens pushed) ride on the first text delta, or an empty one. */
  function* translate(choiceIndex: number, parsed: StreamEvent[], logprobs: TextTokenLogprob[] | undefined): Iterable<GenerationEvent> {
    let pending = logprobs?.length ? logprobs : undefined;
    for (const event of parsed) {
      if (event.kind === 'content') {
        yield { type: 'delta', choiceIndex, text: event.text, ...(pending ? { logprobs: pending } : {}) };
      } else {
        if (pending) yield { type: 'delta', choiceIndex, text: '', logprobs: pending };
        called = true;
        yield { type: 'tool_call_delta', choiceIndex, delta: event.delta };
      }
      pending = undefined;
    }
    if (pending) yield { type: 'delta', choiceIndex, text: '', logprobs: pending };
  }
  for await (const event of events) {
    if (event.type === 'delta') {
      yield* translate(event.choiceIndex, parser.push(event.text), event.logprobs);
    } else if (event.type === 'finish') {
      yield* translate(event.choiceIndex, parser.finish(), undefined);
      // "tool_calls" promises complete calls: one cut short (by a stop string,
      // say) keeps the engine's reason, so clients do not run broken arguments.
      yield called && parser.callsComplete && event.finishReason === 'stop' ? { ...event, finishReason: 'tool_calls' } : event;
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
