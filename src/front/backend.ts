// The seam between the HTTP layer and whatever generates text. The server
// only ever sees these plain-data shapes; EngineBackend implements
// GenerationBackend over the engine (chat template, tokenisation,
// detokenisation, stop strings, tool-call parsing live behind it). The records
// the response builders render (models, logprobs, usage) live in
// protocol/generation.ts.
//
// Contract (the HTTP layer relies on every point):
//  1. chat()/complete() may throw an ApiError synchronously, or the iterable
//     may throw / yield {type:'error'} — before the first 'delta' (or
//     'tool_call_delta') this becomes a plain HTTP error response with that
//     status (400 prompt too long, 429 queue full, 503 …). Headers are only
//     committed on the first non-error event, so refuse early whenever possible.
//  2. Choices are numbered 0..N-1 where N = n (chat) or prompts.length * n
//     (completions; index = promptIndex * n + sampleIndex). Deltas of different
//     choices may interleave.
//  3. Every choice gets exactly one 'finish', after its last 'delta' or
//     'tool_call_delta'.
//  4. Exactly one 'usage' event, after all finishes (totals over all choices).
//  5. 'error' is terminal: nothing after it is read. After the first delta it
//     becomes an SSE error event (streaming) or an error response (non-stream).
//  6. The AbortSignal fires when the client disconnects (or the server stops);
//     the backend must then stop generating and free the sequence. The server
//     also calls the iterator's return(); either way, end promptly.
//  7. Completions with echo: the backend emits the prompt text (and, with
//     logprobs, its prompt-token logprobs) as the choice's first delta.
//  8. Tool calls (chat only; completions never emit them): as the model
//     writes a call, the backend emits 'tool_call_delta' events carrying
//     OpenAI's choices[].delta.tool_calls[] elements. Per call, first a header
//     {index, id, type: 'function', function: {name, arguments: ''}} with the
//     next index of that choice (0, 1, …), then any number of fragments
//     {index, function: {arguments}} for an index already announced. The
//     'delta' events must not contain the raw tool-call markup. A choice that
//     made calls finishes with finishReason 'tool_calls' ('length' if cut
//     short). These events are the only source of the calls: the server
//     streams each as its own chunk and, for non-streamed responses,
//     reassembles them (assembleToolCalls) into message.tool_calls.
//  9. Throwing something that is not an ApiError yields an opaque 500 (the
//     error is logged server-side, never sent to the client).
// 10. chat() may emit one 'prompt' event (the prompt's length in tokens)
//     before any other; it commits nothing (the Messages API's message_start
//     reports it before the first token).

import type { ApiError } from '../protocol/errors.js';
import type { ModelEntry, TextTokenLogprob, UsageEvent } from '../protocol/generation.js';
import type { WireFinishReason } from '../protocol/openai-types.js';
import type { ToolCallDelta } from '../structured/tool-call-deltas.js';
import type {
  ToolCall,
  ValidatedChatRequest,
  ValidatedCompletionRequest,
  ValidatedEmbeddingRequest,
} from '../protocol/requests.js';

export type { ValidatedChatRequest, ValidatedCompletionRequest, ValidatedEmbeddingRequest, ToolCall, ToolCallDelta };
export type { ModelEntry, TextTokenLogprob, TopLogprob, UsageEvent } from '../protocol/generation.js';

export interface DeltaEvent {
  type: 'delta';
  choiceIndex: number;
  /** New text for this choice (may be '' when only logprobs are carried). */
  text: string;
  /** One record per token this text came from; present only when sampling.logprobs !== null. */
  logprobs?: TextTokenLogprob[];
}

export interface FinishEvent {
  type: 'finish';
  choiceIndex: number;
  /** OpenAI's finish_reason: 'tool_calls' when the choice emitted tool_call_delta events and ended normally. */
  finishReason: Exclude<WireFinishReason, 'content_filter'>;
  /** The stop string that ended the choice, when one did (finishReason 'stop'). */
  stopSequence?: string;
}

/** The prompt's length, known before generation starts (contract point 10). */
export interface PromptEvent {
  type: 'prompt';
  promptTokens: number;
}

/** A piece of a chat tool call, in order (contract point 8). */
export interface ToolCallDeltaEvent {
  type: 'tool_call_delta';
  choiceIndex: number;
  /** Header `{index, id, type: 'function', function: {name, arguments: ''}}` or fragment `{index, function: {arguments}}`. */
  delta: ToolCallDelta;
}

export interface ErrorEvent {
  type: 'error';
  error: ApiError;
}

export type GenerationEvent = DeltaEvent | ToolCallDeltaEvent | FinishEvent | UsageEvent | ErrorEvent | PromptEvent;

export interface EmbeddingResult {
  /** One vector per input, in input order. */
  embeddings: ArrayLike<number>[];
  promptTokens: number;
}

export interface GenerationBackend {
  /** Everything servable, chat and embedding models alike. Called per request: keep it cheap. */
  models(): ModelEntry[];
  /** false while loading: /health answers 503 and generation endpoints refuse with 503. */
  ready(): boolean;
  chat(req: ValidatedChatRequest, signal: AbortSignal): AsyncIterable<GenerationEvent>;
  complete(req: ValidatedCompletionRequest, signal: AbortSignal): AsyncIterable<GenerationEvent>;
  /** Tokens in the prompt chat() would render for `req` (POST /v1/messages/count_tokens); absent = not supported. */
  countChatTokens?(req: ValidatedChatRequest): Promise<number>;
  /** Absent = no embedding support (POST /v1/embeddings answers 404 model_not_found for every model). */
  embed?(req: ValidatedEmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult>;
}
