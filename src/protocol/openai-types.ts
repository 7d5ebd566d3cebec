// Wire shapes of the OpenAI HTTP API, exactly as they appear in JSON
// (snake_case). Request bodies are typed as they are *after* JSON Schema
// validation (schemas/*.json), so `null` still means "not given".
// Responses are the objects this server serialises. Nothing else in the code
// base should speak snake_case: requests.ts turns bodies into internal types.

type Opt<T> = T | null | undefined;

// ---------------------------------------------------------------- requests

export interface WireTextPart { type: 'text'; text: string }
export interface WireRefusalPart { type: 'refusal'; refusal: string }
/** Parts we recognise but do not support (rejected with 400 in requests.ts). */
export interface WireOtherPart { type: 'image_url' | 'input_audio' | 'file' }
export type WireContentPart = WireTextPart | WireRefusalPart | WireOtherPart;

export interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface WireMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content?: string | WireContentPart[] | null;
  name?: Opt<string>;
  tool_calls?: Opt<WireToolCall[]>;
  tool_call_id?: Opt<string>;
  refusal?: Opt<string>;
  reasoning_content?: Opt<string>;
}

export interface WireTool {
  type: 'function';
  function: { name: string; description?: Opt<string>; parameters?: Opt<Record<string, unknown>>; strict?: Opt<boolean> };
}

export type WireToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export interface WireResponseFormat {
  type: 'text' | 'json_object' | 'json_schema';
  json_schema?: { name: string; description?: Opt<string>; schema?: Record<string, unknown> | boolean; strict?: Opt<boolean> };
}

export interface WireStreamOptions { include_usage?: Opt<boolean>; continuous_usage_stats?: Opt<boolean> }

/** Sampling fields shared by chat and completions (OpenAI + vLLM extensions). */
export interface WireSamplingFields {
  model: string;
  max_tokens?: Opt<number>;
  temperature?: Opt<number>;
  top_p?: Opt<number>;
  n?: Opt<number>;
  stream?: Opt<boolean>;
  stream_options?: Opt<WireStreamOptions>;
  stop?: Opt<string | string[]>;
  presence_penalty?: Opt<number>;
  frequency_penalty?: Opt<number>;
  logit_bias?: Opt<Record<string, number>>;
  seed?: Opt<number>;
  user?: Opt<string>;
  response_format?: Opt<WireResponseFormat>;
  top_k?: Opt<number>;
  min_p?: Opt<number>;
  repetition_penalty?: Opt<number>;
  min_tokens?: Opt<number>;
  stop_token_ids?: Opt<number[]>;
  ignore_eos?: Opt<boolean>;
  priority?: Opt<number>;
  skip_special_tokens?: Opt<boolean>;
  include_stop_str_in_output?: Opt<boolean>;
}

export interface WireChatRequest extends WireSamplingFields {
  messages: WireMessage[];
  max_completion_tokens?: Opt<number>;
  logprobs?: Opt<boolean>;
  top_logprobs?: Opt<number>;
  tools?: Opt<WireTool[]>;
  tool_choice?: Opt<WireToolChoice>;
  parallel_tool_calls?: Opt<boolean>;
  add_generation_prompt?: Opt<boolean>;
  continue_final_message?: Opt<boolean>;
  chat_template_kwargs?: Opt<Record<string, unknown>>;
  /** Deprecated OpenAI fields; not in the schema, rejected in requests.ts. */
  functions?: unknown;
  function_call?: unknown;
}

export interface WireCompletionRequest extends WireSamplingFields {
  prompt: string | Array<string | number | number[]>;
  suffix?: Opt<string>;
  echo?: Opt<boolean>;
  best_of?: Opt<number>;
  logprobs?: Opt<number>;
}

export interface WireEmbeddingRequest {
  model: string;
  input: string | Array<string | number | number[]>;
  encoding_format?: Opt<'float' | 'base64'>;
  dimensions?: Opt<number>;
  user?: Opt<string>;
  /** Extension (vLLM's name): truncate inputs to this many tokens; -1 = the model's maximum. */
  truncate_prompt_tokens?: Opt<number>;
}

// ---------------------------------------------------------------- responses

export type WireFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface WireUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number } | null;
}

export interface WireTopLogprob { token: string; logprob: number; bytes: number[] | null }
export interface WireChatTokenLogprob extends WireTopLogprob { top_logprobs: WireTopLogprob[] }
export interface WireChatLogprobs { content: WireChatTokenLogprob[] | null; refusal: null }

export interface WireChatChoice {
  index: number;
  message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: WireToolCall[] };
  logprobs: WireChatLogprobs | null;
  finish_reason: WireFinishReason;
}

export interface WireChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: WireChatChoice[];
  usage: WireUsage;
  system_fingerprint: null;
}

export interface WireToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface WireChatDelta {
  role?: 'assistant';
  content?: string | null;
  tool_calls?: WireToolCallDelta[];
}

export interface WireChatChunkChoice {
  index: number;
  delta: WireChatDelta;
  logprobs: WireChatLogprobs | null;
  finish_reason: WireFinishReason | null;
}

export interface WireChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: WireChatChunkChoice[];
  usage?: WireUsage | null;
}

export interface WireCompletionLogprobs {
  tokens: string[];
  token_logprobs: Array<number | null>;
  top_logprobs: Array<Record<string, number> | null> | null;
  text_offset: number[];
}

export interface WireCompletionChoice {
  index: number;
  text: string;
  logprobs: WireCompletionLogprobs | null;
  finish_reason: WireFinishReason | null;
}

export interface WireCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: WireCompletionChoice[];
  usage?: WireUsage | null;
  system_fingerprint: null;
}

export interface WireEmbedding { object: 'embedding'; index: number; embedding: number[] | string }
export interface WireEmbeddingList {
  object: 'list';
  data: WireEmbedding[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface WireModel { id: string; object: 'model'; created: number; owned_by: string; max_model_len: number; root: string; parent: null }
export interface WireModelList { object: 'list'; data: WireModel[] }
