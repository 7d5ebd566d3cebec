// A tool call as it streams: OpenAI's `choices[].delta.tool_calls[]` elements,
// and their reassembly into the complete calls of a non-streamed response.

import type { ToolCall } from '../protocol/requests.js';

/**
 * One `delta.tool_calls[]` element. Per call, first a header with the next
 * index, its id, type and name (arguments ''), then fragments carrying only
 * the index and more argument text.
 */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

/** Folds one choice's deltas, in order, into its calls (what a client reassembles). */
export function assembleToolCalls(deltas: readonly ToolCallDelta[]): ToolCall[] {
  const calls: ToolCall[] = [];
  for (const d of deltas) {
    if (d.index === calls.length) calls.push({ id: d.id ?? '', type: 'function', function: { name: d.function.name ?? '', arguments: '' } });
    const call = calls[d.index];
    if (call === undefined) throw new Error(`tool call delta for index ${d.index} before index ${calls.length}`);
    call.function.arguments += d.function.arguments;
  }
  return calls;
}
