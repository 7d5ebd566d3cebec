// Tool calls on the front: the model's text is parsed as it streams, text
// outside calls passes through as deltas, and each call goes out as
// tool_call_delta events as soon as the parser produces them (header with id
// and name, then argument fragments). A choice that made calls, completed
// every one and ended normally finishes with finish_reason "tool_calls".

import type { ToolCallFormat } from '../structured/tool-call-format.js';
import { ToolCallStreamParser, type ParserEvent } from '../structured/tool-call-parser.js';
import type { GenerationEvent, TextTokenLogprob } from './backend.js';

export async function* extractToolCalls(events: AsyncIterable<GenerationEvent>, format: ToolCallFormat): AsyncIterable<GenerationEvent> {
  const parser = new ToolCallStreamParser(format);
  let called = false;
  /** The parser's events in order; `logprobs` (of the tokens pushed) ride on the first text delta, or an empty one. */
  function* translate(choiceIndex: number, parsed: ParserEvent[], logprobs: TextTokenLogprob[] | undefined): Iterable<GenerationEvent> {
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
