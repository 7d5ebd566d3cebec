// Validated wire bodies (snake_case, null = absent) → the internal request
// records the backend receives (camelCase, defaults applied, one shape per
// endpoint). Also the semantic checks JSON Schema cannot express well:
// cross-field rules, unsupported-but-recognised features, array homogeneity.
//
// Sampling knobs whose default comes from the model's generation_config
// (temperature, top_p, top_k, min_p, repetition_penalty) stay `undefined`
// when the client leaves them out, so the backend can apply model defaults
// (see src/sampling/params.ts resolveSamplingParams).

import { ApiError } from './errors.js';
import type {
  WireChatRequest,
  WireCompletionRequest,
  WireContentPart,
  WireEmbeddingRequest,
  WireMessage,
  WireSamplingFields,
} from './openai-types.js';

// ------------------------------------------------------------------ types

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface ToolCall {
  id: string;
  type: 'function';
  /** `arguments` is the JSON text exactly as the model produced / the client sent it. */
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: ChatRole;
  /** Text parts are joined with '\n'. null only for an assistant turn that carries tool calls. */
  content: string | null;
  name?: string;
  toolCalls?: ToolCall[];
  toolCallId?: string;
  reasoningContent?: string;
}

/**
 * An offered function, in the OpenAI `tools[]` shape: chat templates and the
 * default tool prompt show it to the model as this JSON, so an empty
 * description and absent parameters are left out, and `strict` (which changes
 * nothing here: calls are only constrained when tool_choice forces one) is dropped.
 */
export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export type ToolChoice = 'none' | 'auto' | 'required' | { name: string };

export type ResponseFormat =
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown> | boolean; strict: boolean };

/** A prompt as text or as token ids (completions and embeddings accept both). */
export type Prompt = { type: 'text'; text: string } | { type: 'tokens'; ids: number[] };

export interface SamplingOptions {
  /** Upper bound on generated tokens per choice; null = until EOS or the context window is full. */
  maxTokens: number | null;
  minTokens: number;
  /** Choices per prompt. */
  n: number;
  // undefined = not given: apply the model's generation_config default, else the OpenAI default.
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty: number;
  frequencyPenalty: number;
  seed: number | null;
  /** Token id → additive bias in [-100, 100]; null = none. Ids are not yet checked against the vocabulary. */
  logitBias: Record<number, number> | null;
  /** null = no logprobs; k ≥ 0 = the sampled token's logprob plus the top-k alternatives. */
  logprobs: number | null;
  /** Stop strings (checked on detokenised text by the backend). */
  stop: string[];
  stopTokenIds: number[];
  includeStopStrInOutput: boolean;
  ignoreEos: boolean;
  skipSpecialTokens: boolean;
  /** null = free text. */
  responseFormat: ResponseFormat | null;
}

interface CommonRequest {
  /** The model id as requested (already checked to exist by the server). */
  model: string;
  stream: boolean;
  /** stream_options.include_usage: a final chunk with usage and empty choices. */
  includeUsage: boolean;
  sampling: SamplingOptions;
  user: string | null;
  /**
   * vLLM's scheduling priority: lower runs first under --scheduling-policy
   * priority (0 when absent). The schema bounds it to a 32-bit integer; a
   * non-zero one is refused unless limits.priorityScheduling.
   */
  priority: number;
}

export interface ValidatedChatRequest extends CommonRequest {
  kind: 'chat';
  messages: ChatMessage[];
  /** null = no tools offered. */
  tools: ToolDefinition[] | null;
  toolChoice: ToolChoice;
  parallelToolCalls: boolean;
  addGenerationPrompt: boolean;
  continueFinalMessage: boolean;
  chatTemplateKwargs: Record<string, unknown> | null;
}

export interface ValidatedCompletionRequest extends CommonRequest {
  kind: 'completion';
  /** One entry per prompt. Choice index = promptIndex * sampling.n + sampleIndex (OpenAI order). */
  prompts: Prompt[];
  /** Prepend each prompt's text to its choices (the backend emits it as the first delta). */
  echo: boolean;
}

export interface ValidatedEmbeddingRequest {
  kind: 'embedding';
  model: string;
  inputs: Prompt[];
  encodingFormat: 'float' | 'base64';
  /** null = the model's native size. */
  dimensions: number | null;
  user: string | null;
  /**
   * Extension: inputs longer than this many tokens are truncated instead of
   * refused; -1 = the model's maximum input length; null = refuse (OpenAI behaviour).
   */
  truncatePromptTokens: number | null;
}

export interface RequestLimits {
  /** Largest accepted `n` (choices per prompt); the schema's hard ceiling is 128. */
  maxN: number;
  /** Most prompts in one /v1/completions request (--max-prompts); more → 400 on 'prompt'. */
  maxPrompts: number;
  /** --scheduling-policy priority: a non-zero `priority` is accepted (else 400 on 'priority', as vLLM). Default false. */
  priorityScheduling?: boolean;
}

export const DEFAULT_LIMITS: RequestLimits = { maxN: 16, maxPrompts: 64 };

/** Completions per request (prompts × n): each is its own sequence, so one small body cannot queue thousands. */
export const MAX_CHOICES_PER_REQUEST = 256;

/** The legacy Completions API default for `max_tokens` (OpenAI and vLLM agree). */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/**
 * Fields accepted for compatibility but without effect, per endpoint (for the
 * README). Any field not in the schemas is ignored as well.
 */
export const IGNORED_FIELDS = {
  chat: [
    'user',
    'store',
    'metadata',
    'service_tier',
    'modalities',
    'audio',
    'prediction',
    'reasoning_effort',
    'web_search_options',
    'stream_options.continuous_usage_stats',
    'messages[].refusal',
  ],
  completions: ['user', 'best_of (only accepted when equal to n)', 'stream_options.continuous_usage_stats'],
  embeddings: ['user'],
} as const;

// ------------------------------------------------------------------ helpers

const given = <T>(v: T | null | undefined): v is T => v !== null && v !== undefined;
const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

function samplingFrom(body: WireSamplingFields, maxTokens: number | null, logprobs: number | null, limits: RequestLimits): SamplingOptions {
  const n = body.n ?? 1;
  if (n > limits.maxN) throw ApiError.invalidRequest(`Invalid value for 'n': at most ${limits.maxN} choices per request, got ${n}.`, 'n', 'invalid_value');
  const stop = given(body.stop) ? (typeof body.stop === 'string' ? [body.stop] : body.stop) : [];
  let responseFormat: ResponseFormat | null = null;
  const rf = body.response_format;
  if (given(rf) && rf.type === 'json_object') responseFormat = { type: 'json_object' };
  if (given(rf) && rf.type === 'json_schema' && rf.json_schema !== undefined) {
    responseFormat = {
      type: 'json_schema',
      name: rf.json_schema.name,
      schema: rf.json_schema.schema ?? {},
      strict: rf.json_schema.strict ?? false,
    };
  }
  const minTokens = body.min_tokens ?? 0;
  if (maxTokens !== null && minTokens > maxTokens) {
    throw ApiError.invalidRequest(`'min_tokens' (${minTokens}) must not exceed the maximum number of tokens (${maxTokens}).`, 'min_tokens', 'invalid_value');
  }
  const logitBias: Record<number, number> | null = given(body.logit_bias) && Object.keys(body.logit_bias).length > 0 ? {} : null;
  if (logitBias !== null) for (const [k, v] of Object.entries(body.logit_bias ?? {})) logitBias[Number(k)] = v;
  return {
    maxTokens,
    minTokens,
    n,
    temperature: opt(body.temperature),
    topP: opt(body.top_p),
    topK: opt(body.top_k),
    minP: opt(body.min_p),
    repetitionPenalty: opt(body.repetition_penalty),
    presencePenalty: body.presence_penalty ?? 0,
    frequencyPenalty: body.frequency_penalty ?? 0,
    seed: body.seed ?? null,
    logitBias,
    logprobs,
    stop,
    stopTokenIds: body.stop_token_ids ?? [],
    includeStopStrInOutput: body.include_stop_str_in_output ?? false,
    ignoreEos: body.ignore_eos ?? false,
    skipSpecialTokens: body.skip_special_tokens ?? true,
    responseFormat,
  };
}

/** The request's `priority` (schema-checked to a 32-bit integer); non-zero only when the server schedules by it. */
function priorityOf(body: WireSamplingFields, limits: RequestLimits): number {
  const priority = body.priority ?? 0;
  if (priority !== 0 && limits.priorityScheduling !== true) {
    throw ApiError.invalidRequest(
      `Got priority ${priority}, but priority scheduling is not enabled (the server runs --scheduling-policy fcfs).`,
      'priority',
      'invalid_value',
    );
  }
  return priority;
}

function streamFlags(body: WireSamplingFields): { stream: boolean; includeUsage: boolean } {
  const stream = body.stream ?? false;
  // OpenAI and vLLM both reject stream_options on a non-streaming request.
  if (!stream && given(body.stream_options)) {
    throw ApiError.invalidRequest("'stream_options' is only allowed when 'stream' is true.", 'stream_options', 'invalid_value');
  }
  return { stream, includeUsage: stream && (body.stream_options?.include_usage ?? false) };
}

function messageText(msg: WireMessage, i: number): string | null {
  const c = msg.content;
  if (c === undefined || c === null) return null;
  if (typeof c === 'string') return c;
  const texts: string[] = [];
  c.forEach((part: WireContentPart, j) => {
    if (part.type === 'text') texts.push(part.text);
    else if (part.type === 'refusal') texts.push(part.refusal);
    else {
      const what = part.type === 'image_url' ? 'Image' : part.type === 'input_audio' ? 'Audio' : 'File';
      throw ApiError.unsupported(`${what} content parts are not supported: this server serves text-only models.`, `messages[${i}].content[${j}]`);
    }
  });
  return texts.join('\n');
}

function toMessage(msg: WireMessage, i: number): ChatMessage {
  const content = messageText(msg, i);
  const out: ChatMessage = { role: msg.role, content };
  if (given(msg.name)) out.name = msg.name;
  if (msg.role === 'assistant') {
    const calls = msg.tool_calls ?? [];
    if (calls.length > 0) out.toolCalls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }));
    else if (content === null) {
      throw ApiError.invalidRequest(`Missing required parameter: 'messages[${i}].content' (an assistant message needs content or tool_calls).`, `messages[${i}].content`, 'missing_required_parameter');
    }
    if (given(msg.reasoning_content)) out.reasoningContent = msg.reasoning_content;
  }
  if (msg.role === 'tool' && given(msg.tool_call_id)) out.toolCallId = msg.tool_call_id;
  return out;
}

function promptsFrom(value: string | Array<string | number | number[]>, param: string, what: string): Prompt[] {
  if (typeof value === 'string') return [{ type: 'text', text: value }];
  const first = value[0];
  const same = (pred: (x: unknown) => boolean): boolean => value.every(pred);
  if (typeof first === 'string' && same((x) => typeof x === 'string')) return (value as string[]).map((text) => ({ type: 'text', text }));
  if (typeof first === 'number' && same((x) => typeof x === 'number')) return [{ type: 'tokens', ids: value as number[] }];
  if (Array.isArray(first) && same(Array.isArray)) return (value as number[][]).map((ids) => ({ type: 'tokens', ids }));
  throw ApiError.invalidRequest(
    `Invalid value for '${param}': ${what} must be a string, an array of strings, an array of token ids, or an array of token-id arrays — not a mix.`,
    param,
    'invalid_value',
  );
}

// ------------------------------------------------------------------ public

export function normalizeChatRequest(body: WireChatRequest, limits: RequestLimits = DEFAULT_LIMITS): ValidatedChatRequest {
  if (given(body.functions) || given(body.function_call)) {
    throw ApiError.unsupported("'functions' and 'function_call' are deprecated and not supported; use 'tools' and 'tool_choice'.", given(body.functions) ? 'functions' : 'function_call');
  }
  const logprobsOn = body.logprobs ?? false;
  if (given(body.top_logprobs) && !logprobsOn) {
    throw ApiError.invalidRequest("'top_logprobs' requires 'logprobs' to be true.", 'top_logprobs', 'invalid_value');
  }
  const tools = given(body.tools) && body.tools.length > 0
    ? body.tools.map(({ function: { name, description, parameters } }): ToolDefinition => ({
        type: 'function',
        function: { name, ...(description ? { description } : {}), ...(parameters ? { parameters } : {}) },
      }))
    : null;
  const toolChoice = body.tool_choice ?? (tools === null ? 'none' : 'auto');
  let choice: ToolChoice;
  if (typeof toolChoice === 'string') {
    if (toolChoice === 'required' && tools === null) {
      throw ApiError.invalidRequest("tool_choice 'required' needs a non-empty 'tools' array.", 'tool_choice', 'invalid_value');
    }
    choice = toolChoice;
  } else {
    const name = toolChoice.function.name;
    if (tools === null || !tools.some((t) => t.function.name === name)) {
      throw ApiError.invalidRequest(`tool_choice names function '${name}', which is not in 'tools'.`, 'tool_choice', 'invalid_value');
    }
    choice = { name };
  }
  const addGenerationPrompt = body.add_generation_prompt ?? true;
  const continueFinalMessage = body.continue_final_message ?? false;
  if (addGenerationPrompt && continueFinalMessage && given(body.add_generation_prompt)) {
    throw ApiError.invalidRequest("'continue_final_message' and 'add_generation_prompt' cannot both be true.", 'continue_final_message', 'invalid_value');
  }
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? null;
  const logprobs = logprobsOn ? (body.top_logprobs ?? 0) : null;
  return {
    kind: 'chat',
    model: body.model,
    ...streamFlags(body),
    sampling: samplingFrom(body, maxTokens, logprobs, limits),
    user: body.user ?? null,
    priority: priorityOf(body, limits),
    messages: body.messages.map(toMessage),
    tools,
    toolChoice: choice,
    parallelToolCalls: body.parallel_tool_calls ?? true,
    // continue_final_message implies no generation prompt (vLLM semantics).
    addGenerationPrompt: continueFinalMessage ? false : addGenerationPrompt,
    continueFinalMessage,
    chatTemplateKwargs: body.chat_template_kwargs ?? null,
  };
}

export function normalizeCompletionRequest(body: WireCompletionRequest, limits: RequestLimits = DEFAULT_LIMITS): ValidatedCompletionRequest {
  if (given(body.suffix) && body.suffix !== '') {
    throw ApiError.unsupported("'suffix' (fill-in-the-middle) is not supported.", 'suffix');
  }
  const n = body.n ?? 1;
  if (given(body.best_of) && body.best_of !== n) {
    const msg = body.best_of < n
      ? `'best_of' (${body.best_of}) must be greater than or equal to 'n' (${n}).`
      : "'best_of' greater than 'n' is not supported (no server-side ranking of candidates).";
    throw ApiError.invalidRequest(msg, 'best_of', body.best_of < n ? 'invalid_value' : 'unsupported_parameter');
  }
  const prompts = promptsFrom(body.prompt, 'prompt', 'prompt');
  if (prompts.length > limits.maxPrompts) {
    throw ApiError.invalidRequest(`${prompts.length} prompts in one request; this server accepts at most ${limits.maxPrompts} (--max-prompts).`, 'prompt', 'invalid_value');
  }
  if (prompts.length * n > MAX_CHOICES_PER_REQUEST) {
    throw ApiError.invalidRequest(
      `${prompts.length} prompts × n ${n} = ${prompts.length * n} completions in one request; at most ${MAX_CHOICES_PER_REQUEST}.`,
      'prompt',
      'invalid_value',
    );
  }
  return {
    kind: 'completion',
    model: body.model,
    ...streamFlags(body),
    // OpenAI (and vLLM) default completions max_tokens to 16; chat has no default.
    sampling: samplingFrom(body, body.max_tokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS, body.logprobs ?? null, limits),
    user: body.user ?? null,
    priority: priorityOf(body, limits),
    prompts,
    echo: body.echo ?? false,
  };
}

export function normalizeEmbeddingRequest(body: WireEmbeddingRequest): ValidatedEmbeddingRequest {
  if (body.truncate_prompt_tokens === 0) {
    throw ApiError.invalidRequest("'truncate_prompt_tokens' must be -1 (the model's maximum) or a positive number of tokens, got 0.", 'truncate_prompt_tokens', 'invalid_value');
  }
  return {
    kind: 'embedding',
    model: body.model,
    inputs: promptsFrom(body.input, 'input', 'input'),
    encodingFormat: body.encoding_format ?? 'float',
    dimensions: body.dimensions ?? null,
    user: body.user ?? null,
    truncatePromptTokens: body.truncate_prompt_tokens ?? null,
  };
}
