// The HTTP server: routing and the OpenAI endpoints over a transport
// (uWebSockets.js or node:http, see transport/), wired to a GenerationBackend. Handlers validate and normalise here, then hand typed
// requests to the backend; all protocol shapes come from src/protocol.

import { ApiError } from '../protocol/errors.js';
import { anthropicErrorBody } from '../protocol/anthropic/errors.js';
import { createAnthropicValidators } from '../protocol/anthropic/validation.js';
import {
  DEFAULT_LIMITS,
  normalizeChatRequest,
  normalizeCompletionRequest,
  normalizeEmbeddingRequest,
  type RequestLimits,
} from '../protocol/requests.js';
import { chatCompletion, embeddingList, modelList, modelObject, nowSeconds, textCompletion } from '../protocol/responses.js';
import { describeModelKind } from '../protocol/generation.js';
import { createValidators, type Validators } from '../protocol/validation.js';
import { createMetrics, type ServerMetrics } from '../metrics/registry.js';
import type { GenerationBackend, GenerationEvent, ModelEntry } from './backend.js';
import { Admission, onEachFinish, type Permit } from './admission.js';
import { messagesRoutes } from './anthropic/routes.js';
import { ApiKeyChecker } from './auth.js';
import { CorsPolicy } from './cors.js';
import { Exchange } from './exchange.js';
import { guardEvents, RequestLifetime } from './lifetime.js';
import { registerAdmissionMetrics } from './ops-metrics.js';
import { logRequest, registerStallCounter, RequestRecord, requestId } from './request-log.js';
import { runGeneration, type GenerationContext } from './generation.js';
import { silentLogger, type Logger } from './logger.js';
import { Router } from './router.js';
import { responsesRoutes } from './responses/routes.js';
import { ResponseStore } from './responses/store.js';
import { scoreRoutes } from './rerank/score-routes.js';
import { tokenizeRoutes, type TokenizeBudget } from './tokenize-routes.js';
import { ChatChunkEncoder, CompletionChunkEncoder } from './sse.js';
import { selectTransport, type TransportChoice } from './transport/select.js';
import type { RequestHead, ResponseChannel } from './transport/transport.js';

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port; the chosen one is in the result. */
  port: number;
  backend: GenerationBackend;
  /** Largest request body; larger ones get 413 and the connection is closed (default 4 MiB). */
  maxBodyBytes?: number;
  logger?: Logger;
  /** Default: a fresh registry labelled with the first model's id. */
  metrics?: ServerMetrics;
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>` or `x-api-key: <apiKey>` (health and metrics stay open, as in vLLM). */
  apiKey?: string | null;
  /** More accepted keys (any one will do); combined with `apiKey`. */
  apiKeys?: readonly string[];
  /** With a key configured, also require it on /health and /metrics (default: those stay open). */
  authAllRoutes?: boolean;
  limits?: RequestLimits;
  /** CORS: the Access-Control-Allow-Origin value (e.g. '*'); null/absent = no CORS headers, OPTIONS → 405. */
  corsOrigin?: string | null;
  /** CORS: origins allowed to call the API ('*' = any); combined with `corsOrigin`. Default none. */
  allowedOrigins?: readonly string[];
  /** Backpressure: sequences generating at once; null/absent = no front-side limit (the scheduler queues). */
  maxConcurrency?: number | null;
  /** Backpressure: chat/completions requests waiting for a turn before new ones get 429 (used with maxConcurrency; default 1024). */
  maxQueue?: number;
  /** /tokenize and /detokenize: characters (ids) handed to the tokenizer at once, and requests waiting (tokenize-routes.ts). */
  tokenizeBudget?: TokenizeBudget;
  /** A chat/completions request still running this long after arrival ends with 408 (streams: an error event). null = none. */
  requestTimeoutMs?: number | null;
  /** A request body not fully received this long after the headers gets 408 and the connection is closed (default 30 s; null = none). */
  bodyTimeoutMs?: number | null;
  /** A stream whose client lets nothing drain this long is ended with an error event and closed (default 60 s; null = never). */
  streamStallTimeoutMs?: number | null;
  /** Default: compiled from schemas/ at startup. */
  validators?: Validators;
  /** The socket layer: 'auto' (default) = uWebSockets.js where a build loads and `host` is loopback, else node:http (the strict parser). */
  transport?: TransportChoice;
  /** Stored /v1/responses (previous_response_id, GET, DELETE). Default: an LRU store with the documented caps. */
  responseStore?: ResponseStore;
}

export interface HttpServer {
  port: number;
  metrics: ServerMetrics;
  /** Stops listening, aborts in-flight requests (their AbortSignals fire) and closes all connections. */
  close(): Promise<void>;
  /**
   * Graceful stop, step one: stops listening (new connections are refused),
   * answers new requests on open connections with 503, waits up to
   * `timeoutMs` for in-flight requests to finish, then ends the rest with a
   * clean 503 error (an SSE error event for streams). Call close() after.
   */
  drain(timeoutMs: number, force?: AbortSignal): Promise<DrainResult>;
  /** Requests in progress (all routes). */
  readonly inFlight: number;
  /** Admission control state (null without maxConcurrency): sequences generating and requests queued. */
  admission(): { active: number; queued: number } | null;
}

export interface DrainResult {
  /** Requests that were in flight when draining began. */
  inFlightAtStart: number;
  /** Generation requests that had to be cut short at the deadline. */
  cancelled: number;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_QUEUE = 1024;
/** A chat/completions request holds at most max(this, --max-concurrency / 4) units (see AdmissionLimits.maxWeight). */
const MIN_REQUEST_SHARE = 16;

const TOKENIZE_PATH = /^\/(de)?tokenize\/?$/;

export const DEFAULT_STREAM_STALL_TIMEOUT_MS = 60_000;


/** Methods kept as-is in the http_requests_total label; anything else is 'OTHER' (bounded cardinality). */
const KNOWN_METHODS = new Set(['GET', 'POST', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH']);

/** What a route handler gets; everything read from the request head up front (uWS's is stack-allocated). */
interface RequestContext {
  ex: Exchange;
  /** Tail of a `/*` route (decoded), e.g. the model id. */
  rest: string;
  contentType: string;
  contentLength: string;
  /** performance.now() at arrival. */
  arrival: number;
}

type Handler = (rc: RequestContext) => void;

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const backend = opts.backend;
  const logger = opts.logger ?? silentLogger;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const validators = opts.validators ?? createValidators();
  const metrics = opts.metrics ?? createMetrics({ modelName: backend.models()[0]?.id ?? 'serval' });
  const keys = [...(opts.apiKey ? [opts.apiKey] : []), ...(opts.apiKeys ?? [])].filter((key) => key !== '');
  const keyChecker = keys.length === 0 ? null : new ApiKeyChecker(keys);
  const authAllRoutes = opts.authAllRoutes ?? false;
  const genCtx: GenerationContext = { metrics, logger };
  const active = new Set<Exchange>();
  const cors = new CorsPolicy([...(opts.corsOrigin ? [opts.corsOrigin] : []), ...(opts.allowedOrigins ?? [])]);
  const admission =
    opts.maxConcurrency == null
      ? null
      : new Admission({ maxConcurrency: opts.maxConcurrency, maxQueue: opts.maxQueue ?? DEFAULT_MAX_QUEUE, maxWeight: Math.max(MIN_REQUEST_SHARE, Math.floor(opts.maxConcurrency / 4)) });
  if (admission !== null) registerAdmissionMetrics(metrics.registry, admission);
  const requestTimeoutMs = opts.requestTimeoutMs ?? null;
  const bodyTimeoutMs = opts.bodyTimeoutMs === undefined ? DEFAULT_BODY_TIMEOUT_MS : opts.bodyTimeoutMs;
  const stallMs = opts.streamStallTimeoutMs === undefined ? DEFAULT_STREAM_STALL_TIMEOUT_MS : opts.streamStallTimeoutMs;
  const stalledStreams = registerStallCounter(metrics.registry);
  /** Generation requests past admission or waiting for it: what drain() may have to cut short. */
  const lifetimes = new Set<RequestLifetime>();
  let draining = false;

  // ---------------------------------------------------------------- helpers

  const findModel = (id: string, kind: ModelEntry['kind']): ModelEntry => {
    const model = backend.models().find((m) => m.id === id);
    if (model === undefined) throw ApiError.modelNotFound(id);
    if (model.kind !== kind) {
      const { article, endpoints } = describeModelKind(model.kind);
      throw ApiError.invalidRequest(`The model '${id}' is ${article} ${model.kind} model; use ${endpoints}.`, 'model', 'model_not_supported');
    }
    return model;
  };

  const ensureReady = (): void => {
    if (!backend.ready()) throw ApiError.notReady();
  };

  const fail = (ex: Exchange, err: unknown): void => {
    if (!(err instanceof ApiError) && !ex.aborted) logger.error({ err }, 'request failed');
    ex.sendError(ApiError.from(err));
  };

  /**
   * Wraps a JSON POST handler: content-type and declared-length checks and the
   * body read happen synchronously in the transport's callback (as uWS
   * requires), the handler itself runs once the parsed body is there.
   */
  const postJson = (handle: (rc: RequestContext, body: unknown) => Promise<void>): Handler => (rc) => {
    const mediaType = rc.contentType.split(';')[0].trim().toLowerCase();
    if (mediaType !== 'application/json') return rc.ex.sendError(ApiError.unsupportedMediaType(rc.contentType));
    const declared = rc.contentLength === '' ? 0 : Number(rc.contentLength);
    if (declared > maxBodyBytes) return rc.ex.sendError(ApiError.bodyTooLarge(maxBodyBytes), true);
    // Slow clients (a trickled body) would otherwise hold a connection forever.
    const slowBody =
      bodyTimeoutMs === null || bodyTimeoutMs <= 0
        ? null
        : setTimeout(() => rc.ex.sendError(ApiError.requestTimeout(bodyTimeoutMs / 1000, 'The request body did not arrive within the body timeout'), true), bodyTimeoutMs);
    rc.ex
      .readBody(maxBodyBytes)
      .finally(() => {
        if (slowBody !== null) clearTimeout(slowBody);
      })
      .then((buf) => {
        if (rc.ex.finished) return;
        let body: unknown;
        try {
          // fatal: invalid UTF-8 is a bad body, not text with U+FFFD in it.
          body = JSON.parse(STRICT_UTF8.decode(buf));
        } catch {
          throw ApiError.invalidJson();
        }
        const model = (body as { model?: unknown } | null)?.model;
        if (typeof model === 'string') rc.ex.record.model = model.slice(0, 200);
        return handle(rc, body);
      })
      .catch((err: unknown) => fail(rc.ex, err));
  };

  const startEvents = (produce: () => AsyncIterable<GenerationEvent>): AsyncIterable<GenerationEvent> => {
    // A synchronous throw from the backend becomes an iterable that throws on first pull,
    // so runGeneration turns it into a proper status response.
    try {
      return produce();
    } catch (err) {
      return {
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err) }),
      };
    }
  };

  /**
   * Runs a generation request under admission control and its lifetime
   * (request timeout, shutdown): 429 at once when the queue is full; the
   * permit is held until the response ended, so a slot frees as soon as the
   * request ends for any reason. Queued requests go by `priority` (lower first;
   * the Messages route queues at the default 0).
   */
  const guarded = async (
    rc: Pick<RequestContext, 'ex' | 'arrival'>,
    choices: number,
    run: (lifetime: RequestLifetime, events: (inner: AsyncIterable<GenerationEvent>) => AsyncIterable<GenerationEvent>) => Promise<void>,
    priority = 0,
  ): Promise<void> => {
    const deadline = requestTimeoutMs === null ? null : { remainingMs: requestTimeoutMs - (performance.now() - rc.arrival), limitMs: requestTimeoutMs };
    const lifetime = new RequestLifetime(rc.ex.signal, deadline);
    lifetimes.add(lifetime);
    let permit: Permit | null = null;
    try {
      if (admission !== null) permit = await admission.enter(choices, lifetime.signal, priority);
      const held = permit;
      // Each finished choice gives one unit back, so a request queued behind a large one starts as
      // soon as one of its sequences ends, not when the last does (the rest of a request larger than
      // the budget then run on credit; the scheduler shares the slots fairly between requests).
      await run(lifetime, (inner) => (held === null ? inner : onEachFinish(inner, () => held.giveBack(1))));
    } catch (err) {
      // Cut short while queued (timeout/shutdown): say why, not 'aborted'.
      throw lifetime.reason ?? err;
    } finally {
      permit?.release();
      lifetime.dispose();
      lifetimes.delete(lifetime);
    }
  };

  // ---------------------------------------------------------------- routes

  const chat = postJson(async (rc, body) => {
    ensureReady();
    const req = normalizeChatRequest(validators.chat(body), limits);
    const model = findModel(req.model, 'chat');
    const created = nowSeconds();
    const encoder = new ChatChunkEncoder(model.id, created, req.includeUsage);
    await guarded(rc, req.sampling.n, (lifetime, permitEvents) => runGeneration(genCtx, rc.ex, {
      events: permitEvents(guardEvents(startEvents(() => backend.chat(req, lifetime.signal)), lifetime)),
      choiceCount: req.sampling.n,
      stream: req.stream,
      includeUsage: req.includeUsage,
      logprobs: req.sampling.logprobs !== null,
      encoder,
      buildResponse: (choices, usage) => chatCompletion(encoder.id, created, model.id, choices, usage),
      arrival: rc.arrival,
    }), req.priority);
  });

  const completions = postJson(async (rc, body) => {
    ensureReady();
    const req = normalizeCompletionRequest(validators.completions(body), limits);
    const model = findModel(req.model, 'chat');
    const created = nowSeconds();
    const topLogprobs = req.sampling.logprobs !== null;
    const encoder = new CompletionChunkEncoder(model.id, created, req.includeUsage, topLogprobs);
    await guarded(rc, req.prompts.length * req.sampling.n, (lifetime, permitEvents) => runGeneration(genCtx, rc.ex, {
      events: permitEvents(guardEvents(startEvents(() => backend.complete(req, lifetime.signal)), lifetime)),
      choiceCount: req.prompts.length * req.sampling.n,
      stream: req.stream,
      includeUsage: req.includeUsage,
      logprobs: req.sampling.logprobs !== null,
      encoder,
      buildResponse: (choices, usage) => textCompletion(encoder.id, created, model.id, choices, usage, topLogprobs),
      arrival: rc.arrival,
    }), req.priority);
  });

  const embeddings = postJson(async (rc, body) => {
    ensureReady();
    const req = normalizeEmbeddingRequest(validators.embeddings(body));
    const model = findModel(req.model, 'embedding');
    if (backend.embed === undefined) throw ApiError.modelNotFound(req.model);
    const result = await backend.embed(req, rc.ex.signal);
    rc.ex.record.promptTokens = result.promptTokens;
    if (result.embeddings.length !== req.inputs.length) {
      throw new Error(`backend returned ${result.embeddings.length} embeddings for ${req.inputs.length} inputs`);
    }
    rc.ex.sendJson(200, JSON.stringify(embeddingList(model.id, result.embeddings, req.encodingFormat, result.promptTokens)));
  });

  const scoring = scoreRoutes({ backend, validators, ensureReady, findModel });
  const responses = responsesRoutes({
    backend,
    validators,
    limits,
    store: opts.responseStore ?? new ResponseStore(),
    genCtx,
    ensureReady,
    findModel,
    guarded,
    startEvents,
  });
  const tokens = tokenizeRoutes({ backend, validators, ensureReady, findModel, budget: opts.tokenizeBudget });

  const listModels: Handler = ({ ex }) => ex.sendJson(200, JSON.stringify(modelList(backend.models())));

  const getModel: Handler = ({ ex, rest }) => {
    const model = backend.models().find((m) => m.id === rest);
    if (model === undefined) return ex.sendError(ApiError.modelNotFound(rest, null));
    ex.sendJson(200, JSON.stringify(modelObject(model)));
  };

  const health: Handler = ({ ex }) => {
    if (backend.ready()) ex.sendJson(200, '{"status":"ok"}');
    else ex.sendError(ApiError.notReady());
  };

  const renderMetrics: Handler = ({ ex }) => {
    metrics.render().then(
      (text) => ex.sendText(200, metrics.contentType, text),
      (err: unknown) => fail(ex, err),
    );
  };

  const anthropic = messagesRoutes({ backend, validators: createAnthropicValidators(), genCtx, ensureReady, findModel, guarded, startEvents });

  const router = new Router<Handler>()
    .add('POST', '/v1/chat/completions', chat)
    .add('POST', '/v1/messages', postJson(anthropic.messages))
    .add('POST', '/v1/messages/count_tokens', postJson(anthropic.countTokens))
    .add('POST', '/v1/completions', completions)
    .add('POST', '/v1/embeddings', embeddings)
    .add('POST', '/v1/rerank', postJson(scoring.rerank))
    .add('POST', '/rerank', postJson(scoring.rerank))
    .add('POST', '/v1/score', postJson(scoring.score))
    .add('POST', '/v1/responses', postJson(responses.create))
    .add('GET', '/v1/responses/*', responses.retrieve)
    .add('DELETE', '/v1/responses/*', responses.remove)
    .add('POST', '/tokenize', postJson(tokens.tokenize))
    .add('POST', '/detokenize', postJson(tokens.detokenize))
    .add('GET', '/v1/models', listModels)
    .add('GET', '/v1/models/*', getModel)
    .add('GET', '/health', health)
    .add('GET', '/v1/health', health)
    .add('GET', '/metrics', renderMetrics);

  // ---------------------------------------------------------------- transport

  const onRequest = (req: RequestHead, res: ResponseChannel): void => {
    // The request head is only valid during this callback: read everything now.
    const arrival = performance.now();
    const { method, path } = req;
    const authorization = req.header('authorization');
    const xApiKey = req.header('x-api-key');
    const contentType = req.header('content-type');
    const contentLength = req.header('content-length');
    const origin = req.header('origin');
    const record = new RequestRecord(requestId(req.header('x-request-id')));
    let route = '*';
    const ex = new Exchange(
      res,
      (done) => {
        active.delete(done);
        // 499 = client closed the request (nginx's convention), so aborts are visible.
        const methodLabel = KNOWN_METHODS.has(method) ? method : 'OTHER';
        const status = done.aborted ? 499 : done.status;
        const ms = performance.now() - arrival;
        metrics.httpRequest(route, methodLabel, status, ms / 1000);
        if (record.outcome === 'stalled') stalledStreams.inc();
        logRequest(logger, record, { method, path, route, status, ms });
      },
      record,
      method === 'HEAD',
      { ...cors.responseHeaders(origin), 'X-Request-Id': record.id },
      // Anthropic's clients read Anthropic's error shape, on every failure of these routes.
      path === '/v1/messages' || path.startsWith('/v1/messages/') ? anthropicErrorBody : undefined,
      stallMs,
    );
    active.add(ex);
    try {
      if (req.malformed !== null) {
        ex.sendError(req.malformed, true);
        return;
      }
      if (draining) {
        // Close the connection too: a keep-alive client must reconnect (and be refused) rather than retry here.
        ex.sendError(ApiError.shuttingDown(), true);
        return;
      }
      if (method === 'OPTIONS' && cors.enabled) {
        // Preflights carry no credentials: answered before the key check, and the same on
        // every path (known or not), so that they cannot be used to probe which routes exist.
        route = 'OPTIONS';
        ex.sendNoContent(
          cors.allows(origin)
            ? {
                'Access-Control-Allow-Methods': [...router.allMethods(), 'OPTIONS'].join(', '),
                'Access-Control-Allow-Headers': req.header('access-control-request-headers') || 'Authorization, Content-Type',
                'Access-Control-Max-Age': '86400',
              }
            : {},
        );
        return;
      }
      // Checked before routing, so unknown /v1 paths do not reveal which routes exist; /rerank is the API too.
      // /tokenize and /detokenize read the model, so they need the key too (vLLM leaves them open).
      if (keyChecker !== null && (authAllRoutes || path === '/v1' || path.startsWith('/v1/') || path === '/rerank' || TOKENIZE_PATH.test(path)) && !keyChecker.accepts(authorization, xApiKey)) {
        throw ApiError.unauthorized();
      }
      const m = router.match(method, path);
      route = m.route;
      m.handler({ ex, rest: m.rest, contentType, contentLength, arrival });
    } catch (err) {
      fail(ex, err);
    }
  };

  const { transport, reason } = selectTransport(opts.transport ?? 'auto', opts.host);
  logger.info({ transport: transport.name, reason }, `HTTP transport: ${transport.name === 'uws' ? 'uWebSockets.js' : 'node:http'} (${reason})`);
  const onClientError = (status: number, reason: string): void => {
    metrics.httpRequest('*', 'OTHER', status, 0);
    logger.info({ status, error: { status, message: reason } }, `malformed request refused by the HTTP parser: ${status}`);
  };
  const listener = await transport.listen(opts.host, opts.port, onRequest, onClientError);
  logger.info({ host: opts.host, port: listener.port }, 'HTTP server listening');
  const settled = async (timeoutMs: number, force?: AbortSignal): Promise<void> => {
    const until = performance.now() + timeoutMs;
    while (active.size > 0 && performance.now() < until && force?.aborted !== true) await new Promise((r) => setTimeout(r, 20));
  };
  return {
    port: listener.port,
    metrics,
    get inFlight() {
      return active.size;
    },
    admission: () => (admission === null ? null : { active: admission.active, queued: admission.queued }),
    drain: async (timeoutMs, force) => {
      draining = true;
      listener.stopListening();
      const inFlightAtStart = active.size;
      logger.info({ inFlight: inFlightAtStart, timeoutMs }, 'draining: no new connections; waiting for in-flight requests');
      await settled(timeoutMs, force);
      const cancelled = lifetimes.size;
      if (cancelled > 0) {
        logger.warn({ cancelled }, 'shutdown timeout reached: ending the remaining requests with an error');
        for (const lifetime of [...lifetimes]) lifetime.cancel(ApiError.shuttingDown('The server is shutting down and could not finish this request in time.'));
        // Let the error responses and SSE error events reach the clients.
        await settled(1000);
      }
      return { inFlightAtStart, cancelled };
    },
    close: async () => {
      draining = true;
      listener.stopListening();
      // In-flight exchanges see their abort listener and fire their signals.
      await listener.closeConnections();
      active.clear();
      // Let abort handlers and backend cancellations run before returning.
      await new Promise((r) => setImmediate(r));
    },
  };
}
