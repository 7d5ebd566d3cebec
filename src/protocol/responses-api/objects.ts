// Builders for the Responses API objects: the response, its output items and
// usage. Pure functions over plain data (ids and clocks only where named).

import { randomBytes } from 'node:crypto';
import type { WireUsage } from '../openai-types.js';
import type { ChatMessage, ToolCall } from '../requests.js';
import type { ResponseEcho } from './request.js';
import type { WireFunctionCall, WireInputItem, WireItemStatus, WireOutputItem, WireOutputMessage, WireResponse, WireResponseStatus, WireResponsesUsage } from './wire.js';

/** `resp_…`, `msg_…`, `fc_…`: prefix + 48 random hex digits (as long as OpenAI's). */
export function newResponsesId(prefix: 'resp' | 'msg' | 'fc'): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
}

/** The chat usage (already totalled by the generation pump) in the Responses shape. */
export function responsesUsage(u: WireUsage): WireResponsesUsage {
  return {
    input_tokens: u.prompt_tokens,
    input_tokens_details: { cached_tokens: u.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: u.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.total_tokens,
  };
}

export function messageItem(id: string, text: string, status: WireItemStatus): WireOutputMessage {
  return { type: 'message', id, role: 'assistant', status, content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] };
}

export function functionCallItem(id: string, call: ToolCall, status: WireItemStatus): WireFunctionCall {
  return { type: 'function_call', id, call_id: call.id, name: call.function.name, arguments: call.function.arguments, status };
}

/**
 * The output of a finished generation: a message holding the text (left out
 * when the model only called tools and wrote nothing but whitespace), then
 * one function_call item per call. The stream writer follows the same rule.
 */
export function outputItems(text: string, calls: readonly ToolCall[], status: WireItemStatus): WireOutputItem[] {
  const items: WireOutputItem[] = [];
  if (calls.length === 0 || text.trim() !== '') items.push(messageItem(newResponsesId('msg'), text, status));
  for (const call of calls) items.push(functionCallItem(newResponsesId('fc'), call, status));
  return items;
}

export interface ResponseState {
  id: string;
  createdAt: number;
  status: WireResponseStatus;
  output: WireOutputItem[];
  usage: WireResponsesUsage | null;
}

export function responseObject(echo: ResponseEcho, state: ResponseState): WireResponse {
  return {
    id: state.id,
    object: 'response',
    created_at: state.createdAt,
    status: state.status,
    completed_at: state.status === 'completed' ? Math.floor(Date.now() / 1000) : null,
    error: null,
    incomplete_details: state.status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: echo.instructions,
    max_output_tokens: echo.maxOutputTokens,
    model: echo.model,
    output: state.output,
    parallel_tool_calls: echo.parallelToolCalls,
    previous_response_id: echo.previousResponseId,
    reasoning: null,
    store: echo.store,
    temperature: echo.temperature,
    text: { format: echo.format },
    tool_choice: echo.toolChoice,
    tools: echo.tools,
    top_p: echo.topP,
    truncation: 'disabled',
    usage: state.usage,
    user: echo.user,
    metadata: echo.metadata,
    background: false,
  };
}

/** The assistant turn an output adds to the conversation (for previous_response_id). */
export function outputMessage(output: readonly WireOutputItem[]): ChatMessage | null {
  let content: string | null = null;
  const toolCalls: ToolCall[] = [];
  for (const item of output) {
    if (item.type === 'message') content = (content ?? '') + item.content.map((part) => part.text).join('');
    else toolCalls.push({ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } });
  }
  if (content === null && toolCalls.length === 0) return null;
  return { role: 'assistant', content, ...(toolCalls.length > 0 ? { toolCalls } : {}) };
}

/** An output item as the input item that an `item_reference` to it stands for. */
export function asInputItem(item: WireOutputItem): WireInputItem {
  if (item.type === 'message') return { type: 'message', role: 'assistant', content: item.content.map((part) => part.text).join('') };
  return { type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments };
}
