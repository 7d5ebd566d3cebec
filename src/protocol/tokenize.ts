// vLLM's POST /tokenize and POST /detokenize: validated bodies → the records
// the backend receives, and the response shapes. A chat body is normalised by
// the chat route's own rules, so its messages render (template, tools,
// generation prompt) exactly as a chat completion's prompt does.

import { ApiError } from './errors.js';
import type { WireMessage, WireTool } from './openai-types.js';
import { normalizeChatRequest, type ValidatedChatRequest } from './requests.js';

type Opt<T> = T | null | undefined;

export interface WireTokenizeRequest {
  model?: Opt<string>;
  prompt?: string;
  add_special_tokens?: Opt<boolean>;
  messages?: WireMessage[];
  add_generation_prompt?: Opt<boolean>;
  continue_final_message?: Opt<boolean>;
  tools?: Opt<WireTool[]>;
  chat_template_kwargs?: Opt<Record<string, unknown>>;
  return_token_strs?: Opt<boolean>;
}

export interface WireDetokenizeRequest {
  model?: Opt<string>;
  tokens: number[];
}

export interface WireTokenizeResponse {
  count: number;
  max_model_len: number;
  tokens: number[];
  token_strs: string[] | null;
}

export interface WireDetokenizeResponse {
  prompt: string;
}

export type TokenizeRequest =
  | { kind: 'prompt'; model: string; text: string; addSpecialTokens: boolean; returnTokenStrs: boolean }
  | { kind: 'chat'; model: string; chat: ValidatedChatRequest; addSpecialTokens: boolean; returnTokenStrs: boolean };

export interface DetokenizeRequest {
  model: string;
  ids: number[];
}

/** `model`: the body's, or the served chat model when it names none (vLLM makes `model` optional). */
export function normalizeTokenizeRequest(body: WireTokenizeRequest, model: string): TokenizeRequest {
  const returnTokenStrs = body.return_token_strs ?? false;
  if (body.prompt !== undefined && body.messages !== undefined) {
    throw ApiError.invalidRequest("Send either 'prompt' or 'messages', not both.", 'messages', 'invalid_value');
  }
  if (body.prompt !== undefined) return { kind: 'prompt', model, text: body.prompt, addSpecialTokens: body.add_special_tokens ?? true, returnTokenStrs };
  if (body.messages === undefined) throw ApiError.invalidRequest("Missing required parameter: 'prompt' (or 'messages').", 'prompt', 'missing_required_parameter');
  const chat = normalizeChatRequest({
    model,
    messages: body.messages,
    tools: body.tools,
    add_generation_prompt: body.add_generation_prompt,
    continue_final_message: body.continue_final_message,
    chat_template_kwargs: body.chat_template_kwargs,
  });
  // The chat template adds BOS and the like itself; vLLM adds none on top by default.
  return { kind: 'chat', model, chat, addSpecialTokens: body.add_special_tokens ?? false, returnTokenStrs };
}

export function normalizeDetokenizeRequest(body: WireDetokenizeRequest, model: string): DetokenizeRequest {
  return { model, ids: body.tokens };
}
