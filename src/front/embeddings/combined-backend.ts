// One backend over a chat model and an embedding model served side by side:
// /v1/models lists both, and each request goes to the backend that serves
// the model it names. The server already refuses a model of the wrong kind
// for an endpoint (400); the same check here keeps that true for any caller.

import { ApiError } from '../../protocol/errors.js';
import type { ValidatedChatRequest, ValidatedCompletionRequest, ValidatedEmbeddingRequest } from '../../protocol/requests.js';
import type { EmbeddingResult, GenerationBackend, GenerationEvent, ModelEntry } from '../backend.js';

export type ChatServing = Pick<GenerationBackend, 'models' | 'ready' | 'chat' | 'complete' | 'countChatTokens'>;
export type EmbeddingServing = Pick<GenerationBackend, 'models' | 'ready'> & Required<Pick<GenerationBackend, 'embed'>>;

export class CombinedBackend implements GenerationBackend {
  constructor(
    private readonly chatBackend: ChatServing | null,
    private readonly embeddingBackend: EmbeddingServing | null,
  ) {
    const ids = this.models().map((m) => m.id);
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
    if (duplicate !== undefined) {
      throw new Error(`the chat model and the embedding model are both named '${duplicate}'; rename one (--served-model-name / --embedding-model-name)`);
    }
  }

  models(): ModelEntry[] {
    return [...(this.chatBackend?.models() ?? []), ...(this.embeddingBackend?.models() ?? [])];
  }

  ready(): boolean {
    return (this.chatBackend?.ready() ?? true) && (this.embeddingBackend?.ready() ?? true);
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
  const where = kind === 'embedding' ? '/v1/embeddings' : '/v1/chat/completions or /v1/completions';
  const article = kind === 'embedding' ? 'an' : 'a';
  return ApiError.invalidRequest(`The model '${model}' is ${article} ${kind} model, not ${wanted === 'embedding' ? 'an' : 'a'} ${wanted} model; use ${where}.`, 'model', 'model_not_supported');
}
