// The HTTP server: uWS app, routing, and the OpenAI endpoints, wired to a
// GenerationBackend. Handlers validate and normalise here, then hand typed
// requests to the backend; all protocol shapes come from src/protocol.

import { ApiError } from '../protocol/errors.js';
import {
  DEFAULT_LIMITS,
  normalizeChatRequest,
  normalizeCompletionRequest,
  normalizeEmbeddingRequest,
  type RequestLimits,
} from '../protocol/requests.js';
import { chatCompletion, embeddingList, modelList, modelObject, nowSeconds, textCompletion } from '../protocol/responses.js';
import { createValidators, type Validators } from '../protocol/validation.js';
import { createMetrics, type ServerMetrics } from '../metrics/registry.js';
import type { GenerationBackend, GenerationEvent, ModelEntry } from './backend.js';
import { Exchange } from './exchange.js';
import { runGeneration, type GenerationContext } from './generation.js';
import { silentLogger, type Logger } from './logger.js';
import { Router } from './router.js';
import { ChatChunkEncoder, CompletionChunkEncoder } from './sse.js';
import { closeListenSocket, createApp, listenSocketPort, type HttpRequest, type HttpResponse, type ListenSocket } from './uws.js';

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
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>` (health and metrics stay open, as in vLLM). */
  apiKey?: string | null;
  limits?: RequestLimits;
  /** CORS: the Access-Control-Allow-Origin value (e.g. '*'); null/absent = no CORS headers, OPTIONS → 405. */
  corsOrigin?: string | null;
  /** Default: compiled from schemas/ at startup. */
  validators?: Validators;
}

export interface HttpServer {
  port: number;
  metrics: ServerMetrics;
  /** Stops listening, aborts in-flight requests (their AbortSignals fire) and closes all connections. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Methods kept as-is in the http_requests_total label; anything else is 'OTHER' (bounded cardinality). */
const KNOWN_METHODS = new Set(['GET', 'POST', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH']);

/** What a route handler gets; everything read from uWS's stack-allocated HttpRequest up front. */
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

export function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const backend = opts.backend;
  const logger = opts.logger ?? silentLogger;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const validators = opts.validators ?? createValidators();
  const metrics = opts.metrics ?? createMetrics({ modelName: backend.models()[0]?.id ?? 'serval' });
  const apiKey = opts.apiKey ?? null;
  const genCtx: GenerationContext = { metrics, logger };
  const active = new Set<Exchange>();
  const corsOrigin = opts.corsOrigin ?? null;
  const commonHeaders: Record<string, string> = corsOrigin === null ? {} : { 'Access-Control-Allow-Origin': corsOrigin };

  // ---------------------------------------------------------------- helpers

  const findModel = (id: string, kind: ModelEntry['kind']): ModelEntry => {
    const model = backend.models().find((m) => m.id === id);
    if (model === undefined) throw ApiError.modelNotFound(id);
    if (model.kind !== kind) {
      const where = model.kind === 'embedding' ? '/v1/embeddings' : '/v1/chat/completions or /v1/completions';
      throw ApiError.invalidRequest(`The model '${id}' is a ${model.kind} model; use ${where}.`, 'model', 'model_not_supported');
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
   * body read happen synchronously in the uWS callback (as uWS requires), the
   * handler itself runs once the parsed body is there.
   */
  const postJson = (handle: (rc: RequestContext, body: unknown) => Promise<void>): Handler => (rc) => {
    const mediaType = rc.contentType.split(';')[0].trim().toLowerCase();
    if (mediaType !== 'application/json') return rc.ex.sendError(ApiError.unsupportedMediaType(rc.contentType));
    const declared = rc.contentLength === '' ? 0 : Number(rc.contentLength);
    if (declared > maxBodyBytes) return rc.ex.sendError(ApiError.bodyTooLarge(maxBodyBytes), true);
    rc.ex
      .readBody(maxBodyBytes)
      .then((buf) => {
        let body: unknown;
        try {
          body = JSON.parse(buf.toString('utf8'));
        } catch {
          throw ApiError.invalidJson();
        }
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

  // ---------------------------------------------------------------- routes

  const chat = postJson(async (rc, body) => {
    ensureReady();
    const req = normalizeChatRequest(validators.chat(body), limits);
    const model = findModel(req.model, 'chat');
    const created = nowSeconds();
    const encoder = new ChatChunkEncoder(model.id, created, req.includeUsage);
    await runGeneration(genCtx, rc.ex, {
      events: startEvents(() => backend.chat(req, rc.ex.signal)),
      choiceCount: req.sampling.n,
      stream: req.stream,
      includeUsage: req.includeUsage,
      logprobs: req.sampling.logprobs !== null,
      encoder,
      buildResponse: (choices, usage) => chatCompletion(encoder.id, created, model.id, choices, usage),
      arrival: rc.arrival,
    });
  });

  const completions = postJson(async (rc, body) => {
    ensureReady();
    const req = normalizeCompletionRequest(validators.completions(body), limits);
    const model = findModel(req.model, 'chat');
    const created = nowSeconds();
    const topLogprobs = req.sampling.logprobs !== null;
    const encoder = new CompletionChunkEncoder(model.id, created, req.includeUsage, topLogprobs);
    await runGeneration(genCtx, rc.ex, {
      events: startEvents(() => backend.complete(req, rc.ex.signal)),
      choiceCount: req.prompts.length * req.sampling.n,
      stream: req.stream,
      includeUsage: req.includeUsage,
      logprobs: req.sampling.logprobs !== null,
      encoder,
      buildResponse: (choices, usage) => textCompletion(encoder.id, created, model.id, choices, usage, topLogprobs),
      arrival: rc.arrival,
    });
  });

  const embeddings = postJson(async (rc, body) => {
    ensureReady();
    const req = normalizeEmbeddingRequest(validators.embeddings(body));
    const model = findModel(req.model, 'embedding');
    if (backend.embed === undefined) throw ApiError.modelNotFound(req.model);
    const result = await backend.embed(req, rc.ex.signal);
    if (result.embeddings.length !== req.inputs.length) {
      throw new Error(`backend returned ${result.embeddings.length} embeddings for ${req.inputs.length} inputs`);
    }
    rc.ex.sendJson(200, JSON.stringify(embeddingList(model.id, result.embeddings, req.encodingFormat, result.promptTokens)));
  });

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

  const router = new Router<Handler>()
    .add('POST', '/v1/chat/completions', chat)
    .add('POST', '/v1/completions', completions)
    .add('POST', '/v1/embeddings', embeddings)
    .add('GET', '/v1/models', listModels)
    .add('GET', '/v1/models/*', getModel)
    .add('GET', '/health', health)
    .add('GET', '/v1/health', health)
    .add('GET', '/metrics', renderMetrics);

  // ---------------------------------------------------------------- uWS

  const app = createApp();
  app.any('/*', (res: HttpResponse, req: HttpRequest) => {
    // HttpRequest is only valid during this callback: read everything now.
    const arrival = performance.now();
    const method = req.getMethod().toUpperCase();
    const path = req.getUrl();
    const authorization = req.getHeader('authorization');
    const contentType = req.getHeader('content-type');
    const contentLength = req.getHeader('content-length');
    let route = '*';
    const ex = new Exchange(
      res,
      (done) => {
        active.delete(done);
        // 499 = client closed the request (nginx's convention), so aborts are visible.
        const methodLabel = KNOWN_METHODS.has(method) ? method : 'OTHER';
        metrics.httpRequest(route, methodLabel, done.aborted ? 499 : done.status, (performance.now() - arrival) / 1000);
      },
      method === 'HEAD',
      commonHeaders,
    );
    active.add(ex);
    try {
      if (method === 'OPTIONS' && corsOrigin !== null) {
        const allowed = router.allowedOn(path);
        if (allowed === null) throw ApiError.routeNotFound(method, path);
        route = 'OPTIONS';
        ex.sendNoContent({
          'Access-Control-Allow-Methods': [...allowed, 'OPTIONS'].join(', '),
          'Access-Control-Allow-Headers': req.getHeader('access-control-request-headers') || 'Authorization, Content-Type',
          'Access-Control-Max-Age': '86400',
        });
        return;
      }
      const m = router.match(method, path);
      route = m.route;
      if (apiKey !== null && path.startsWith('/v1/') && route !== '/v1/health' && authorization !== `Bearer ${apiKey}`) {
        throw ApiError.unauthorized();
      }
      m.handler({ ex, rest: m.rest, contentType, contentLength, arrival });
    } catch (err) {
      fail(ex, err);
    }
  });

  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (socket: ListenSocket | false) => {
      if (socket === false) {
        reject(new Error(`could not listen on ${opts.host}:${opts.port}`));
        return;
      }
      const port = listenSocketPort(socket);
      logger.info({ host: opts.host, port }, 'HTTP server listening');
      resolve({
        port,
        metrics,
        close: async () => {
          closeListenSocket(socket);
          // app.close() force-closes every socket; in-flight exchanges see onAborted and fire their signals.
          app.close();
          active.clear();
          // Let abort handlers and backend cancellations run before returning.
          await new Promise((r) => setImmediate(r));
        },
      });
    });
  });
}
