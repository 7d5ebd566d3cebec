// POST /v1/messages and POST /v1/messages/count_tokens: Anthropic's Messages
// API over the same chat generation as /v1/chat/completions. The server
// supplies its shared machinery (readiness, model lookup, admission and
// lifetime, metrics); these handlers validate, translate and render.

import { ApiError } from '../../protocol/errors.js';
import { countTokensToChatRequest, messagesToChatRequest } from '../../protocol/anthropic/translate.js';
import type { AnthropicValidators } from '../../protocol/anthropic/validation.js';
import type { GenerationBackend, GenerationEvent, ModelEntry } from '../backend.js';
import type { Exchange } from '../exchange.js';
import type { GenerationContext } from '../generation.js';
import { guardEvents, type RequestLifetime } from '../lifetime.js';
import { runMessages } from './run-messages.js';

/** What a handler needs of the request. */
export interface MessagesRequestContext {
  ex: Exchange;
  /** performance.now() at arrival. */
  arrival: number;
}

export interface MessagesRouteDeps {
  backend: GenerationBackend;
  validators: AnthropicValidators;
  genCtx: GenerationContext;
  ensureReady(): void;
  findModel(id: string, kind: ModelEntry['kind']): ModelEntry;
  /** Admission control and the request's lifetime, as on the OpenAI generation routes. */
  guarded(rc: MessagesRequestContext, choices: number, run: (lifetime: RequestLifetime) => Promise<void>): Promise<void>;
  /** The backend's events, a synchronous throw turned into a failing iterable. */
  startEvents(produce: () => AsyncIterable<GenerationEvent>): AsyncIterable<GenerationEvent>;
}

export type MessagesHandler = (rc: MessagesRequestContext, body: unknown) => Promise<void>;

export function messagesRoutes(deps: MessagesRouteDeps): { messages: MessagesHandler; countTokens: MessagesHandler } {
  const { backend, validators, genCtx } = deps;

  const messages: MessagesHandler = async (rc, body) => {
    deps.ensureReady();
    const req = messagesToChatRequest(validators.messages(body));
    const model = deps.findModel(req.model, 'chat');
    await deps.guarded(rc, 1, (lifetime) =>
      runMessages(genCtx, rc.ex, {
        events: guardEvents(deps.startEvents(() => backend.chat(req, lifetime.signal)), lifetime),
        stream: req.stream,
        model: model.id,
        arrival: rc.arrival,
      }),
    );
  };

  const countTokens: MessagesHandler = async (rc, body) => {
    deps.ensureReady();
    const req = countTokensToChatRequest(validators.countTokens(body));
    deps.findModel(req.model, 'chat');
    if (backend.countChatTokens === undefined) throw ApiError.modelNotFound(req.model);
    const inputTokens = await backend.countChatTokens(req);
    rc.ex.sendJson(200, JSON.stringify({ input_tokens: inputTokens }));
  };

  return { messages, countTokens };
}
