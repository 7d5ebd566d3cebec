// A validated Messages API body → the internal chat request the OpenAI route
// produces too, so generation, tool calls, stop strings and structured output
// run through the same code. What the chat request cannot express is refused
// here with a 400 naming the field, or ignored where README says so.

import { ApiError } from '../errors.js';
import type { ChatMessage, ResponseFormat, SamplingOptions, ToolChoice, ToolDefinition, ValidatedChatRequest } from '../requests.js';
import type {
  AnthropicContentBlockParam,
  AnthropicMessageParam,
  AnthropicMessagesRequest,
  AnthropicPromptFields,
  AnthropicTextBlockParam,
  AnthropicToolResultBlockParam,
  AnthropicToolUseBlockParam,
} from './types.js';

/**
 * Fields accepted without effect (for the README); any field not in the
 * schemas is ignored as well.
 */
export const ANTHROPIC_IGNORED_FIELDS = [
  'metadata',
  'thinking',
  'output_config.effort',
  'service_tier',
  'cache_control',
  'container',
  'inference_geo',
  'speed',
  'tools[].cache_control / strict / input_examples / eager_input_streaming',
  'thinking and redacted_thinking blocks in assistant turns',
] as const;

/** Block types whose name the 400 spells out, with what they are. */
const UNSUPPORTED_BLOCKS: Record<string, string> = {
  image: 'Image content blocks are not supported: this server serves text-only models.',
  document: 'Document content blocks are not supported: send the text as a text block.',
  search_result: 'search_result content blocks are not supported.',
  container_upload: 'container_upload content blocks are not supported (no code execution here).',
};

export function messagesToChatRequest(body: AnthropicMessagesRequest): ValidatedChatRequest {
  const sampling: SamplingOptions = {
    maxTokens: body.max_tokens,
    minTokens: 0,
    n: 1,
    temperature: body.temperature,
    topP: body.top_p,
    topK: body.top_k,
    presencePenalty: 0,
    frequencyPenalty: 0,
    seed: null,
    logitBias: null,
    logprobs: null,
    stop: body.stop_sequences ?? [],
    stopTokenIds: [],
    includeStopStrInOutput: false,
    ignoreEos: false,
    skipSpecialTokens: true,
    responseFormat: responseFormat(body),
  };
  return { ...promptRequest(body, sampling), stream: body.stream ?? false, user: body.metadata?.user_id ?? null };
}

/** count_tokens: the prompt exactly as /v1/messages would render it. */
export function countTokensToChatRequest(body: AnthropicPromptFields): ValidatedChatRequest {
  const sampling: SamplingOptions = {
    maxTokens: null,
    minTokens: 0,
    n: 1,
    presencePenalty: 0,
    frequencyPenalty: 0,
    seed: null,
    logitBias: null,
    logprobs: null,
    stop: [],
    stopTokenIds: [],
    includeStopStrInOutput: false,
    ignoreEos: false,
    skipSpecialTokens: true,
    responseFormat: responseFormat(body),
  };
  return { ...promptRequest(body, sampling), stream: false, user: null };
}

function promptRequest(body: AnthropicPromptFields, sampling: SamplingOptions): Omit<ValidatedChatRequest, 'stream' | 'user'> {
  const messages: ChatMessage[] = [];
  if (body.system !== undefined) messages.push({ role: 'system', content: systemText(body.system) });
  body.messages.forEach((message, i) => messages.push(...toMessages(message, i)));
  const tools = toolsOf(body);
  const { choice, parallel } = toolChoiceOf(body, tools);
  // A final assistant turn with text is a prefill: the answer continues it.
  const last = messages[messages.length - 1];
  const prefill = last.role === 'assistant' && typeof last.content === 'string' && last.content !== '';
  return {
    kind: 'chat',
    model: body.model,
    includeUsage: false,
    // Anthropic's API has no priority: these requests run at the default, 0.
    priority: 0,
    sampling,
    messages,
    tools,
    toolChoice: choice,
    parallelToolCalls: parallel,
    addGenerationPrompt: !prefill,
    continueFinalMessage: prefill,
    chatTemplateKwargs: null,
  };
}

function responseFormat(body: AnthropicPromptFields): ResponseFormat | null {
  const format = body.output_config?.format;
  return format ? { type: 'json_schema', name: 'output', schema: format.schema, strict: true } : null;
}

function systemText(system: string | AnthropicTextBlockParam[]): string {
  return typeof system === 'string' ? system : system.map((block) => block.text).join('\n');
}

function unsupportedBlock(type: string, param: string): ApiError {
  const known = UNSUPPORTED_BLOCKS[type];
  return ApiError.unsupported(known ?? `Content blocks of type '${type}' are not supported here (server tools and their results are not served).`, param);
}

/** One Anthropic turn → chat messages: user text and tool results split into user and tool messages, in order. */
function toMessages(message: AnthropicMessageParam, i: number): ChatMessage[] {
  const { role, content } = message;
  if (typeof content === 'string') return [{ role, content }];
  const param = (j: number): string => `messages[${i}].content[${j}]`;
  if (role === 'assistant') return [assistantMessage(content, param)];
  const out: ChatMessage[] = [];
  let texts: string[] = [];
  const flush = (): void => {
    if (texts.length > 0) out.push({ role, content: texts.join('\n') });
    texts = [];
  };
  content.forEach((block, j) => {
    if (block.type === 'text') texts.push((block as AnthropicTextBlockParam).text);
    else if (block.type === 'tool_result' && role === 'user') {
      flush();
      out.push(toolResultMessage(block as AnthropicToolResultBlockParam, param(j)));
    } else if (block.type === 'tool_use' || block.type === 'tool_result') {
      throw ApiError.invalidRequest(`A '${block.type}' block is not allowed in a '${role}' message.`, param(j), 'invalid_value');
    } else throw unsupportedBlock(block.type, param(j));
  });
  flush();
  // An empty block list is an empty turn, as an empty string would be.
  return out.length > 0 ? out : [{ role, content: '' }];
}

function assistantMessage(content: AnthropicContentBlockParam[], param: (j: number) => string): ChatMessage {
  const texts: string[] = [];
  const calls: NonNullable<ChatMessage['toolCalls']> = [];
  content.forEach((block, j) => {
    if (block.type === 'text') texts.push((block as AnthropicTextBlockParam).text);
    else if (block.type === 'tool_use') {
      const use = block as AnthropicToolUseBlockParam;
      calls.push({ id: use.id, type: 'function', function: { name: use.name, arguments: JSON.stringify(use.input) } });
    } else if (block.type === 'thinking' || block.type === 'redacted_thinking') {
      // Earlier reasoning: dropped, as Anthropic drops it from previous turns.
    } else if (block.type === 'tool_result') {
      throw ApiError.invalidRequest("A 'tool_result' block is not allowed in an 'assistant' message.", param(j), 'invalid_value');
    } else throw unsupportedBlock(block.type, param(j));
  });
  const message: ChatMessage = { role: 'assistant', content: calls.length > 0 && texts.length === 0 ? null : texts.join('\n') };
  if (calls.length > 0) message.toolCalls = calls;
  return message;
}

function toolResultMessage(block: AnthropicToolResultBlockParam, param: string): ChatMessage {
  let text = '';
  if (typeof block.content === 'string') text = block.content;
  else if (block.content !== undefined) {
    text = block.content
      .map((part, k) => {
        if (part.type !== 'text' || typeof part.text !== 'string') throw unsupportedBlock(part.type, `${param}.content[${k}]`);
        return part.text;
      })
      .join('\n');
  }
  // The chat request has no error flag on tool results: the model reads it in the text.
  return { role: 'tool', content: block.is_error === true ? `Error: ${text}` : text, toolCallId: block.tool_use_id };
}

function toolsOf(body: AnthropicPromptFields): ToolDefinition[] | null {
  if (body.tools === undefined || body.tools.length === 0) return null;
  return body.tools.map((tool, i): ToolDefinition => {
    if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') {
      throw ApiError.unsupported(`Server tool '${tool.type}' is not supported: only client tools (with an input_schema) can be offered.`, `tools[${i}].type`);
    }
    if (tool.input_schema === undefined) {
      throw ApiError.invalidRequest(`Missing required parameter: 'tools[${i}].input_schema'.`, `tools[${i}].input_schema`, 'missing_required_parameter');
    }
    return { type: 'function', function: { name: tool.name, ...(tool.description ? { description: tool.description } : {}), parameters: tool.input_schema } };
  });
}

function toolChoiceOf(body: AnthropicPromptFields, tools: ToolDefinition[] | null): { choice: ToolChoice; parallel: boolean } {
  const tc = body.tool_choice;
  const parallel = !(tc !== undefined && 'disable_parallel_tool_use' in tc && tc.disable_parallel_tool_use === true);
  if (tc === undefined) return { choice: tools === null ? 'none' : 'auto', parallel };
  if (tc.type === 'none' || tc.type === 'auto') return { choice: tools === null ? 'none' : tc.type, parallel };
  if (tools === null) throw ApiError.invalidRequest(`tool_choice '${tc.type}' needs a non-empty 'tools' array.`, 'tool_choice', 'invalid_value');
  if (tc.type === 'any') return { choice: 'required', parallel };
  if (!tools.some((tool) => tool.function.name === tc.name)) {
    throw ApiError.invalidRequest(`tool_choice names tool '${tc.name}', which is not in 'tools'.`, 'tool_choice.name', 'invalid_value');
  }
  return { choice: { name: tc.name }, parallel: false };
}
