// A validated Responses API body → the internal chat request the backend
// generates for (the same one /v1/chat/completions makes), plus what the
// response object echoes back. Input items become chat messages: `instructions`
// a leading system message, function_call items assistant tool calls,
// function_call_output items tool messages; a previous response's
// conversation comes in as `history`. Fields Serval recognises but does not
// implement are refused here with a 400 naming them; the README's Responses
// table lists them, and those accepted without effect.

import { ApiError } from '../errors.js';
import type { WireChatRequest, WireResponseFormat, WireTool, WireToolChoice } from '../openai-types.js';
import { type ChatMessage, DEFAULT_LIMITS, normalizeChatRequest, type RequestLimits, type ValidatedChatRequest } from '../requests.js';
import type { WireInputItem, WireInputPart, WireResponsesRequest, WireResponsesTool, WireResponsesToolChoice, WireTextFormat } from './wire.js';

/** What the response object repeats from the request. */
export interface ResponseEcho {
  model: string;
  instructions: string | null;
  maxOutputTokens: number | null;
  temperature: number | null;
  topP: number | null;
  tools: WireResponsesTool[];
  toolChoice: WireResponsesToolChoice;
  parallelToolCalls: boolean;
  format: WireTextFormat;
  previousResponseId: string | null;
  store: boolean;
  user: string | null;
  metadata: Record<string, string>;
}

export interface ResponsesRequest {
  /** The generation: instructions, history and input as messages. */
  chat: ValidatedChatRequest;
  /** The messages this request adds to the conversation (history and instructions excluded), kept for a later previous_response_id. */
  inputMessages: ChatMessage[];
  echo: ResponseEcho;
}

export interface ResponsesContext {
  /** The conversation so far when previous_response_id is given (already looked up), else []. */
  history: readonly ChatMessage[];
  /** An earlier output item by id (for `item_reference` inputs), or undefined. */
  resolveItem(id: string): WireInputItem | undefined;
  limits?: RequestLimits;
}

const given = <T>(v: T | null | undefined): v is T => v !== null && v !== undefined;

export function normalizeResponsesRequest(body: WireResponsesRequest, ctx: ResponsesContext): ResponsesRequest {
  refuseUnsupported(body);
  if (!given(body.input)) throw ApiError.invalidRequest("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  const inputMessages = typeof body.input === 'string' ? [{ role: 'user' as const, content: body.input }] : inputToMessages(body.input, ctx);
  const tools = (body.tools ?? []).map((tool, i) => functionTool(tool, i));
  // The chat rules check everything but the messages, which come from the items (and history) below.
  const wire: WireChatRequest = {
    model: body.model,
    messages: [],
    max_completion_tokens: body.max_output_tokens,
    temperature: body.temperature,
    top_p: body.top_p,
    stream: body.stream,
    tools: tools.length > 0 ? tools : null,
    tool_choice: toolChoice(body.tool_choice),
    parallel_tool_calls: body.parallel_tool_calls,
    response_format: responseFormat(body.text?.format),
    user: body.user,
    priority: body.priority,
  };
  const chat = withResponsesParams(() => normalizeChatRequest(wire, ctx.limits ?? DEFAULT_LIMITS));
  const instructions = given(body.instructions) && body.instructions !== '' ? [{ role: 'system' as const, content: body.instructions }] : [];
  chat.messages = [...instructions, ...ctx.history, ...inputMessages];
  if (chat.messages.length === 0) throw ApiError.invalidRequest("Invalid value for 'input': there is nothing to respond to.", 'input', 'empty_array');
  return {
    chat,
    inputMessages,
    echo: {
      model: body.model,
      instructions: body.instructions ?? null,
      maxOutputTokens: body.max_output_tokens ?? null,
      temperature: body.temperature ?? null,
      topP: body.top_p ?? null,
      tools: tools.map(({ function: f }) => ({
        type: 'function',
        name: f.name,
        description: f.description ?? null,
        parameters: f.parameters ?? null,
        strict: f.strict ?? null,
      })),
      toolChoice: body.tool_choice ?? 'auto',
      parallelToolCalls: body.parallel_tool_calls ?? true,
      format: body.text?.format ?? { type: 'text' },
      previousResponseId: body.previous_response_id ?? null,
      store: body.store ?? true,
      user: body.user ?? null,
      metadata: body.metadata ?? {},
    },
  };
}

/** Runs `fn` (chat normalisation) and renames the chat parameters its errors name to the Responses ones the client sent. */
function withResponsesParams<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw error instanceof ApiError ? toResponsesError(error) : error;
  }
}

export function toResponsesError(error: ApiError): ApiError {
  const param = responsesParam(error.param);
  return param === error.param ? error : new ApiError(error.status, error.type, error.message, param, error.code, error.headers);
}

function responsesParam(param: string | null): string | null {
  if (param === null) return null;
  if (param.startsWith('response_format.json_schema')) return `text.format${param.slice('response_format.json_schema'.length)}`;
  if (param.startsWith('response_format')) return `text.format${param.slice('response_format'.length)}`;
  if (param === 'max_completion_tokens' || param === 'max_tokens') return 'max_output_tokens';
  if (param.startsWith('messages')) return 'input';
  return param;
}

function refuseUnsupported(body: WireResponsesRequest): void {
  if (body.background === true) {
    throw ApiError.unsupported("'background' responses are not supported: send the request and read the result (or stream it).", 'background');
  }
  if (given(body.conversation)) throw ApiError.unsupported("'conversation' is not supported; chain responses with 'previous_response_id'.", 'conversation');
  if (given(body.prompt)) throw ApiError.unsupported("'prompt' (stored prompt templates) is not supported; send 'instructions' and 'input'.", 'prompt');
  if (body.truncation === 'auto') {
    throw ApiError.unsupported("truncation 'auto' is not supported: an input longer than the context window is refused (400).", 'truncation');
  }
  if ((body.top_logprobs ?? 0) > 0 || body.include?.includes('message.output_text.logprobs') === true) {
    throw ApiError.unsupported('Logprobs are not supported on /v1/responses; use /v1/chat/completions with logprobs.', given(body.top_logprobs) ? 'top_logprobs' : 'include');
  }
}

function functionTool(tool: WireResponsesTool, i: number): WireTool {
  if (tool.type !== 'function' || tool.name === undefined) {
    throw ApiError.unsupported(
      `Tool type '${tool.type}' is not supported: this server runs the model only, without built-in tools. Use function tools.`,
      `tools[${i}].type`,
    );
  }
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters, strict: tool.strict } };
}

function toolChoice(choice: WireResponsesToolChoice | null | undefined): WireToolChoice | null {
  if (!given(choice) || typeof choice === 'string') return choice ?? null;
  if (choice.type !== 'function' || choice.name === undefined) {
    throw ApiError.unsupported(`tool_choice type '${choice.type}' is not supported; use 'none', 'auto', 'required' or {type: 'function', name}.`, 'tool_choice');
  }
  return { type: 'function', function: { name: choice.name } };
}

function responseFormat(format: WireTextFormat | null | undefined): WireResponseFormat | null {
  if (!given(format) || format.type === 'text') return null;
  if (format.type === 'json_object') return { type: 'json_object' };
  return { type: 'json_schema', json_schema: { name: format.name, description: format.description, schema: format.schema, strict: format.strict } };
}

// ------------------------------------------------------------------ input items

function inputToMessages(items: readonly WireInputItem[], ctx: ResponsesContext): ChatMessage[] {
  const messages: ChatMessage[] = [];
  // Tool messages carry the function's name where the call is known (some chat templates show it).
  const callNames = new Map<string, string>();
  for (const m of ctx.history) for (const call of m.toolCalls ?? []) callNames.set(call.id, call.function.name);
  items.forEach((raw, i) => {
    const item = raw.type === 'item_reference' ? referenced(raw, i, ctx) : raw;
    const type = item.type ?? 'message';
    if (type === 'message') {
      messages.push(inputMessage(item, i));
    } else if (type === 'function_call') {
      const call = { id: item.call_id ?? '', type: 'function' as const, function: { name: item.name ?? '', arguments: item.arguments ?? '' } };
      callNames.set(call.id, call.function.name);
      // Parallel calls (and text before them) are one assistant turn, as chat templates expect.
      const last = messages[messages.length - 1];
      if (last?.role === 'assistant') last.toolCalls = [...(last.toolCalls ?? []), call];
      else messages.push({ role: 'assistant', content: null, toolCalls: [call] });
    } else if (type === 'function_call_output') {
      const callId = item.call_id ?? '';
      const name = callNames.get(callId);
      messages.push({ role: 'tool', content: partsText(item.output ?? '', `input[${i}].output`), toolCallId: callId, ...(name ? { name } : {}) });
    } else {
      throw ApiError.unsupported(
        `Input items of type '${type}' are not supported; send messages, function_call, function_call_output or item_reference items.`,
        `input[${i}].type`,
      );
    }
  });
  return messages;
}

function referenced(ref: WireInputItem, i: number, ctx: ResponsesContext): WireInputItem {
  const id = ref.id ?? '';
  const item = ctx.resolveItem(id);
  if (item === undefined) {
    throw new ApiError(404, 'not_found_error', `Item with id '${id}' not found (items of stored responses can be referenced).`, `input[${i}].id`, 'item_not_found');
  }
  return item;
}

function inputMessage(item: WireInputItem, i: number): ChatMessage {
  const role = item.role ?? 'user';
  const content = partsText(item.content ?? '', `input[${i}].content`);
  return { role, content };
}

/** Text parts joined with '\n' (as chat content parts are); anything else is refused. */
function partsText(content: string | readonly WireInputPart[], param: string): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, j) => {
      if ((part.type === 'input_text' || part.type === 'output_text' || part.type === 'text') && part.text !== undefined) return part.text;
      if (part.type === 'refusal' && part.refusal !== undefined) return part.refusal;
      throw ApiError.unsupported(`Content parts of type '${part.type}' are not supported: this server serves text-only models.`, `${param}[${j}]`);
    })
    .join('\n');
}
