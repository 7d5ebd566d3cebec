// Builders for the exact OpenAI response objects. Pure functions over plain
// data: no I/O, no clocks except where named (nowSeconds, newId).

import { randomBytes } from 'node:crypto';
import type { ModelEntry, TextTokenLogprob, UsageEvent } from './generation.js';
import type { ToolCall } from './requests.js';
import type {
  WireChatChoice,
  WireChatCompletion,
  WireChatLogprobs,
  WireCompletion,
  WireCompletionChoice,
  WireCompletionLogprobs,
  WireEmbeddingList,
  WireFinishReason,
  WireModel,
  WireModelList,
  WireUsage,
} from './openai-types.js';

/** `chatcmpl-…`, `cmpl-…`, `call_…`: prefix + 24 random hex digits (96 bits). */
export function newId(prefix: 'chatcmpl' | 'cmpl' | 'call' | 'embd'): string {
  return `${prefix}-${randomBytes(12).toString('hex')}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function wireUsage(u: UsageEvent): WireUsage {
  const usage: WireUsage = {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
  };
  if (u.cachedTokens !== undefined) usage.prompt_tokens_details = { cached_tokens: u.cachedTokens };
  return usage;
}

export function chatLogprobs(tokens: readonly TextTokenLogprob[]): WireChatLogprobs {
  return {
    content: tokens.map((t) => ({
      token: t.token,
      logprob: t.logprob ?? 0,
      bytes: t.bytes,
      top_logprobs: t.top.map((a) => ({ token: a.token, logprob: a.logprob, bytes: a.bytes })),
    })),
    refusal: null,
  };
}

/**
 * Legacy completions logprobs. Each position's top_logprobs holds the N
 * alternatives and always the sampled token itself (so up to N + 1 entries,
 * as OpenAI documents); the first echoed prompt token has none (null).
 */
export function completionLogprobs(tokens: readonly TextTokenLogprob[], withTop: boolean): WireCompletionLogprobs {
  return {
    tokens: tokens.map((t) => t.token),
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: withTop ? tokens.map((t) => (t.logprob === null ? null : { ...Object.fromEntries(t.top.map((a) => [a.token, a.logprob])), [t.token]: t.logprob })) : null,
    text_offset: tokens.map((t) => t.textOffset),
  };
}

/** Per-choice accumulation for non-streaming responses. */
export interface ChoiceResult {
  text: string;
  logprobs: TextTokenLogprob[] | null;
  finishReason: WireFinishReason;
  toolCalls: ToolCall[] | null;
}

export function chatCompletion(id: string, created: number, model: string, choices: readonly ChoiceResult[], usage: WireUsage): WireChatCompletion {
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: choices.map((c, index): WireChatChoice => {
      const message: WireChatChoice['message'] = {
        role: 'assistant',
        // OpenAI sends content null when the turn is only tool calls.
        content: c.toolCalls !== null && c.text === '' ? null : c.text,
        refusal: null,
      };
      if (c.toolCalls !== null) message.tool_calls = c.toolCalls;
      return { index, message, logprobs: c.logprobs === null ? null : chatLogprobs(c.logprobs), finish_reason: c.finishReason };
    }),
    usage,
    system_fingerprint: null,
  };
}

export function textCompletion(
  id: string,
  created: number,
  model: string,
  choices: readonly ChoiceResult[],
  usage: WireUsage,
  topLogprobs: boolean,
): WireCompletion {
  return {
    id,
    object: 'text_completion',
    created,
    model,
    choices: choices.map(
      (c, index): WireCompletionChoice => ({
        index,
        text: c.text,
        logprobs: c.logprobs === null ? null : completionLogprobs(c.logprobs, topLogprobs),
        finish_reason: c.finishReason,
      }),
    ),
    usage,
    system_fingerprint: null,
  };
}

/** Float32 little-endian bytes, base64 — what OpenAI returns for encoding_format 'base64'. */
export function embeddingToBase64(v: ArrayLike<number>): string {
  const f32 = v instanceof Float32Array ? v : Float32Array.from(v);
  const bytes = Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength);
  // Buffer is little-endian on every platform Node supports in practice; be explicit anyway.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    const swapped = Buffer.alloc(bytes.length);
    for (let i = 0; i < f32.length; i++) swapped.writeFloatLE(f32[i], i * 4);
    return swapped.toString('base64');
  }
  return bytes.toString('base64');
}

export function embeddingList(
  model: string,
  vectors: readonly ArrayLike<number>[],
  format: 'float' | 'base64',
  promptTokens: number,
): WireEmbeddingList {
  return {
    object: 'list',
    data: vectors.map((v, index) => ({
      object: 'embedding',
      index,
      embedding: format === 'base64' ? embeddingToBase64(v) : Array.from(v),
    })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

export function modelObject(m: ModelEntry): WireModel {
  return { id: m.id, object: 'model', created: m.created, owned_by: m.ownedBy, max_model_len: m.maxModelLen, root: m.id, parent: null };
}

export function modelList(models: readonly ModelEntry[]): WireModelList {
  return { object: 'list', data: models.map(modelObject) };
}
