// One backend over a chat model, an embedding model and a rerank model served
// side by side: /v1/models lists them all, and each request goes to the backend that serves
// the model it names. The server already refuses a model of the wrong kind
// for an endpoint (400); the same check here keeps that true for any caller.

import { ApiError } from '../../protocol/errors.js';
import { describeModelKind } from '../../protocol/generation.js';
import type { PairScores, ScorePair } from '../../protocol/rerank.js';
import type { ValidatedChatRequest, ValidatedCompletionRequest, ValidatedEmbeddingRequest } from '../../protocol/requests.js';
import type { DetokenizeRequest, TokenizeRequest } from '../../protocol/tokenize.js';
import type { EmbeddingResult, GenerationBackend, GenerationEvent, ModelEntry, TokenizeResult } from '../backend.js';

export type ChatServing = Pick<GenerationBackend, 'models' | 'ready' | 'chat' | 'complete' | 'countChatTokens' | 'tokenize' | 'detokenize'>;
export type EmbeddingServing = Pick<GenerationBackend, 'models' | 'ready'> & Required<Pick<GenerationBackend, 'embed'>>;
export interface RerankServing extends Pick<GenerationBackend, 'models' | 'ready'> {
  scorePairs(pairs: readonly ScorePair[], signal: AbortSignal): Promise<PairScores>;
}

export class CombinedBackend implements GenerationBackend {
  constructor(
    private readonly chatBackend: ChatServing | null,
    private readonly embeddingBackend: EmbeddingServing | null,
    private readonly rerankBackend: RerankServing | null = null,
  ) {
    const ids = this.models().map((m) => m.id);
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
    if (duplicate !== undefined) {
      throw new Error(`two served models are both named '${duplicate}'; rename one (--served-model-name / --embedding-model-name / --rerank-model-name)`);
    }
  }

  models(): ModelEntry[] {
    return [...(this.chatBackend?.models() ?? []), ...(this.embeddingBackend?.models() ?? []), ...(this.rerankBackend?.models() ?? [])];
  }

  ready(): boolean {
    return (this.chatBackend?.ready() ?? true) && (this.embeddingBackend?.ready() ?? true) && (this.rerankBackend?.ready() ?? true);
  }

  scorePairs(model: string, pairs: readonly ScorePair[], signal: AbortSignal): Promise<PairScores> {
    const kind = this.kindOf(model);
    if (kind !== 'rerank' || this.rerankBackend === null) return Promise.reject(wrongKind(model, kind, 'rerank'));
    return this.rerankBackend.scorePairs(pairs, signal);
  }

  chat(req: ValidatedChatRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    return this.chatFor(req.model).chat(req, signal);
  }

  complete(req: ValidatedCompletionRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    return this.chatFor(req.model).complete(req, signal);
  }

  countChatTokens(req: ValidatedChatRequest): Promise<number> {
    const chat = this.chatFor(req.model);
    if (chat.countChatTokens === undefined) return Promise.reject(ApiError.modelNotFound(req.model));
    return chat.countChatTokens(req);
  }

  embed(req: ValidatedEmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
    const kind = this.kindOf(req.model);
    if (kind !== 'embedding' || this.embeddingBackend === null) return Promise.reject(wrongKind(req.model, kind, 'embedding'));
    return this.embeddingBackend.embed(req, signal);
  }

  /** Chat models only (the embedding backend has no chat template to render messages with). */
  tokenize(req: TokenizeRequest): Promise<TokenizeResult> {
    const backend = this.chatFor(req.model);
    if (backend.tokenize === undefined) return Promise.reject(ApiError.modelNotFound(req.model));
    return backend.tokenize(req);
  }

  detokenize(req: DetokenizeRequest): Promise<string> {
    const backend = this.chatFor(req.model);
    if (backend.detokenize === undefined) return Promise.reject(ApiError.modelNotFound(req.model));
    return backend.detokenize(req);
  }

  private chatFor(model: string): ChatServing {
    const kind = this.kindOf(model);
    if (kind !== 'chat' || this.chatBackend === null) throw wrongKind(model, kind, 'chat');
    return this.chatBackend;
  }

  private kindOf(model: string): ModelEntry['kind'] | null {
    return this.models().find((m) => m.id === model)?.kind ?? null;
  }
}

function wrongKind(model: string, kind: ModelEntry['kind'] | null, wanted: ModelEntry['kind']): ApiError {
  if (kind === null) return ApiError.modelNotFound(model);
  const is = describeModelKind(kind);
  const not = describeModelKind(wanted);
  return ApiError.invalidRequest(`The model '${model}' is ${is.article} ${kind} model, not ${not.article} ${wanted} model; use ${is.endpoints}.`, 'model', 'model_not_supported');
}
