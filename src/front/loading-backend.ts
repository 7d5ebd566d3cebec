// The backend the server starts with: it answers /health with 503 and
// generation routes with "not ready" until the model has loaded, then
// forwards everything to the real backend.

import { ApiError } from '../protocol/errors.js';
import type { EmbeddingResult, GenerationBackend, GenerationEvent, ModelEntry, TokenizeResult } from './backend.js';
import type { PairScores, ScorePair } from '../protocol/rerank.js';
import type { ValidatedChatRequest, ValidatedCompletionRequest, ValidatedEmbeddingRequest } from '../protocol/requests.js';
import type { DetokenizeRequest, TokenizeRequest } from '../protocol/tokenize.js';

export type ServingBackend = Pick<GenerationBackend, 'models' | 'ready' | 'chat' | 'complete' | 'embed' | 'countChatTokens' | 'scorePairs' | 'tokenize' | 'detokenize'>;

export class LoadingBackend implements GenerationBackend {
  private inner: ServingBackend | null = null;

  set(backend: ServingBackend): void {
    this.inner = backend;
  }

  models(): ModelEntry[] {
    return this.inner?.models() ?? [];
  }

  ready(): boolean {
    return this.inner?.ready() ?? false;
  }

  chat(req: ValidatedChatRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    return this.loaded().chat(req, signal);
  }

  complete(req: ValidatedCompletionRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    return this.loaded().complete(req, signal);
  }

  countChatTokens(req: ValidatedChatRequest): Promise<number> {
    const inner = this.loaded();
    if (inner.countChatTokens === undefined) return Promise.reject(ApiError.modelNotFound(req.model));
    return inner.countChatTokens(req);
  }

  embed(req: ValidatedEmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
    const inner = this.loaded();
    if (inner.embed === undefined) return Promise.reject(ApiError.modelNotFound(req.model));
    return inner.embed(req, signal);
  }

  scorePairs(model: string, pairs: readonly ScorePair[], signal: AbortSignal): Promise<PairScores> {
    const inner = this.loaded();
    if (inner.scorePairs === undefined) return Promise.reject(ApiError.modelNotFound(model));
    return inner.scorePairs(model, pairs, signal);
  }

  tokenize(req: TokenizeRequest): Promise<TokenizeResult> {
    const inner = this.loaded();
    if (inner.tokenize === undefined) return Promise.reject(ApiError.modelNotFound(req.model));
    return inner.tokenize(req);
  }

  detokenize(req: DetokenizeRequest): Promise<string> {
    const inner = this.loaded();
    if (inner.detokenize === undefined) return Promise.reject(ApiError.modelNotFound(req.model));
    return inner.detokenize(req);
  }

  private loaded(): ServingBackend {
    if (!this.inner) throw ApiError.notReady();
    return this.inner;
  }
}
