// The backend the server starts with: it answers /health with 503 and
// generation routes with "not ready" until the model has loaded, then
// forwards everything to the real backend.

import { ApiError } from '../protocol/errors.js';
import type { EmbeddingResult, GenerationBackend, GenerationEvent, ModelEntry } from './backend.js';
import type { ValidatedChatRequest, ValidatedCompletionRequest, ValidatedEmbeddingRequest } from '../protocol/requests.js';

export type ServingBackend = Pick<GenerationBackend, 'models' | 'ready' | 'chat' | 'complete' | 'embed' | 'countChatTokens'>;

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

  private loaded(): ServingBackend {
    if (!this.inner) throw ApiError.notReady();
    return this.inner;
  }
}
