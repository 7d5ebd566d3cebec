// POST /v1/responses, GET and DELETE /v1/responses/{id}. A request is
// translated into the chat request /v1/chat/completions would make
// (protocol/responses-api/request.ts) and generated the same way: admission,
// lifetime, abort on disconnect and metrics come from the server's
// `guarded` and `runGeneration`; only the encoder and the final object differ.

import { ApiError } from '../../protocol/errors.js';
import type { RequestLimits } from '../../protocol/requests.js';
import { outputItems, newResponsesId, outputMessage, responseObject, responsesUsage } from '../../protocol/responses-api/objects.js';
import { normalizeResponsesRequest, toResponsesError } from '../../protocol/responses-api/request.js';
import type { WireResponse, WireResponseDeleted } from '../../protocol/responses-api/wire.js';
import { nowSeconds } from '../../protocol/responses.js';
import type { Validators } from '../../protocol/validation.js';
import type { GenerationBackend, GenerationEvent, ModelEntry } from '../backend.js';
import type { Exchange } from '../exchange.js';
import { runGeneration, type GenerationContext } from '../generation.js';
import { guardEvents, type RequestLifetime } from '../lifetime.js';
import type { ResponseStore } from './store.js';
import { ResponsesStreamEncoder } from './stream-encoder.js';

/** What a handler needs from the request (the server's RequestContext has more). */
export interface ResponsesRequestContext {
  ex: Exchange;
  /** The `{id}` of /v1/responses/{id}. */
  rest: string;
  /** performance.now() at arrival. */
  arrival: number;
}

/** The server's shared machinery, handed in so both routes run generation identically. */
export interface ResponsesRouteDeps {
  backend: GenerationBackend;
  validators: Validators;
  limits: RequestLimits;
  store: ResponseStore;
  genCtx: GenerationContext;
  ensureReady(): void;
  findModel(id: string, kind: ModelEntry['kind']): ModelEntry;
  guarded(rc: ResponsesRequestContext, choices: number, run: (lifetime: RequestLifetime) => Promise<void>, priority?: number): Promise<void>;
  startEvents(produce: () => AsyncIterable<GenerationEvent>): AsyncIterable<GenerationEvent>;
}

export interface ResponsesRoutes {
  create(rc: ResponsesRequestContext, body: unknown): Promise<void>;
  retrieve(rc: ResponsesRequestContext): void;
  remove(rc: ResponsesRequestContext): void;
}

export function responsesRoutes(deps: ResponsesRouteDeps): ResponsesRoutes {
  const { store } = deps;

  // Sub-resources (input_items, cancel) are not served: a path below an id is an unknown route.
  const notFound = (id: string, method: string): ApiError =>
    id.includes('/')
      ? ApiError.routeNotFound(method, `/v1/responses/${id}`)
      : new ApiError(404, 'invalid_request_error', `Response with id '${id}' not found.`, null, 'response_not_found');

  const create = async (rc: ResponsesRequestContext, body: unknown): Promise<void> => {
    deps.ensureReady();
    const wire = deps.validators.responses(body);
    deps.findModel(wire.model, 'chat');
    const previousId = wire.previous_response_id ?? null;
    const previous = previousId === null ? null : store.get(previousId);
    if (previous === undefined) {
      throw new ApiError(404, 'invalid_request_error', `Previous response with id '${previousId}' not found.`, 'previous_response_id', 'previous_response_not_found');
    }
    const history = previous?.conversation ?? [];
    const req = normalizeResponsesRequest(wire, { history, resolveItem: (id) => store.item(id), limits: deps.limits });
    const id = newResponsesId('resp');
    const createdAt = nowSeconds();
    const save = (response: WireResponse): void => {
      if (!req.echo.store) return;
      const turn = outputMessage(response.output);
      const added = turn === null ? req.inputMessages : [...req.inputMessages, turn];
      store.put(response, [...history, ...added], added);
    };
    const encoder = new ResponsesStreamEncoder(req.echo, id, createdAt, save);
    await deps.guarded(rc, 1, (lifetime) =>
      runGeneration(deps.genCtx, rc.ex, {
        events: responsesErrors(guardEvents(deps.startEvents(() => deps.backend.chat(req.chat, lifetime.signal)), lifetime)),
        choiceCount: 1,
        stream: req.chat.stream,
        includeUsage: true,
        logprobs: false,
        encoder,
        buildResponse: ([choice], usage) => {
          const status = choice.finishReason === 'length' ? 'incomplete' : 'completed';
          const output = outputItems(choice.text, choice.toolCalls ?? [], status);
          const response = responseObject(req.echo, { id, createdAt, status, output, usage: responsesUsage(usage) });
          save(response);
          return response;
        },
        arrival: rc.arrival,
      }),
      req.chat.priority,
    );
  };

  const retrieve = ({ ex, rest }: ResponsesRequestContext): void => {
    const stored = store.get(rest);
    if (stored === undefined) return ex.sendError(notFound(rest, 'GET'));
    ex.sendJson(200, JSON.stringify(stored.response));
  };

  const remove = ({ ex, rest }: ResponsesRequestContext): void => {
    if (!store.delete(rest)) return ex.sendError(notFound(rest, 'DELETE'));
    const deleted: WireResponseDeleted = { id: rest, object: 'response.deleted', deleted: true };
    ex.sendJson(200, JSON.stringify(deleted));
  };

  return { create, retrieve, remove };
}

/** Errors the chat generation reports name chat parameters; the client sent Responses ones. */
async function* responsesErrors(events: AsyncIterable<GenerationEvent>): AsyncIterable<GenerationEvent> {
  try {
    for await (const event of events) yield event.type === 'error' ? { ...event, error: toResponsesError(event.error) } : event;
  } catch (error) {
    throw error instanceof ApiError ? toResponsesError(error) : error;
  }
}
