// Starts a Serval server from resolved options, the one way `serval serve` and
// the tests both use: the HTTP server listens at once (/health says 503 while
// loading), the embedding model loads while the chat model's engine starts,
// then the server serves them. Resolves once ready; a load failure closes
// what had started and rejects with a ModelLoadError.

import path from 'node:path';
import { kvBudget } from '../engine/actor/core.js';
import { DEFAULT_MAX_MODEL_LEN_CAP, resolveEngineConfig, type EngineOptions } from '../engine/config.js';
import { createMetrics, type ServerMetrics } from '../metrics/registry.js';
import { DEFAULT_LIMITS } from '../protocol/requests.js';
import { loadChatModel } from './chat-model.js';
import { CombinedBackend } from './embeddings/combined-backend.js';
import type { EmbeddingModelOptions } from './embeddings/encoder-serving.js';
import { loadEmbeddingModel, type LoadedEmbeddingModel } from './embeddings/load-embedding-model.js';
import { loadRerankModel, type LoadedRerankModel } from './rerank/load-rerank-model.js';
import { EngineBackend, type ChatModel } from './engine-backend.js';
import { bindEngineMetrics } from './engine-metrics.js';
import { LoadingBackend } from './loading-backend.js';
import { silentLogger, type Logger } from './logger.js';
import { bindDeviceFailureMetric, bindGrammarCompileMetrics, bindStepDurationMetric } from './ops-metrics.js';
import { startHttpServer, type HttpServer, type HttpServerOptions } from './server.js';

export interface ServerOptions {
  /** The chat/completions model: its id in requests and its engine; null serves embeddings only. */
  chat: { id: string; engine: EngineOptions } | null;
  /** The /v1/embeddings model; null serves none. */
  embedding: EmbeddingModelOptions | null;
  /** The /v1/rerank and /v1/score cross-encoder; absent or null serves none. */
  rerank?: EmbeddingModelOptions | null;
  /** Listening address, limits, auth, CORS, backpressure. */
  http: Omit<HttpServerOptions, 'backend' | 'metrics' | 'logger'>;
  /** Default: silent. */
  logger?: Logger;
  /**
   * Fetches model files not local yet (Hugging Face Hub ids) once the server
   * listens, so /health answers 503 meanwhile: each returns the local path that
   * replaces that model's modelDir.
   */
  locate?: { chat?: () => Promise<string>; embedding?: () => Promise<string> };
}

export interface RunningServer {
  port: number;
  server: HttpServer;
  metrics: ServerMetrics;
  chat: ChatModel | null;
  embedding: LoadedEmbeddingModel | null;
  rerank: LoadedRerankModel | null;
  /** Closes the models; after server.close() (or a drain and close) for a clean stop. */
  closeModels(): Promise<void>;
  /** Closes the HTTP server, then the models. */
  close(): Promise<void>;
}

/** The server listened, but a model failed to load (the message says which and why). */
export class ModelLoadError extends Error {}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? silentLogger;
  let { chat, embedding: embeddingOptions } = options;
  const backend = new LoadingBackend();
  const metrics = createMetrics({
    modelName: chat?.id ?? embeddingOptions?.servedName ?? path.basename(path.resolve(embeddingOptions?.modelDir ?? 'serval')),
    // The token histograms are made before the model is read: bucket up to the longest context it can get.
    maxModelLen: chat?.engine.maxModelLen ?? DEFAULT_MAX_MODEL_LEN_CAP,
  });
  // A non-zero `priority` is refused (400) unless the engine schedules by it, before the request queues.
  const limits = { ...(options.http.limits ?? DEFAULT_LIMITS), priorityScheduling: chat?.engine.schedulingPolicy === 'priority' };
  const server = await startHttpServer({ ...options.http, limits, backend, metrics, logger });
  logger.info({ host: options.http.host, port: server.port }, 'listening (loading model)');

  let model: ChatModel | null = null;
  let embedding: LoadedEmbeddingModel | null = null;
  let embeddingLoad: Promise<LoadedEmbeddingModel> | null = null;
  const rerankOptions = options.rerank ?? null;
  const rerankLoad = rerankOptions === null ? null : loadRerankModel(rerankOptions);
  rerankLoad?.catch(() => undefined);
  let rerank: LoadedRerankModel | null = null;
  try {
    const { locate } = options;
    if (chat !== null && locate?.chat !== undefined) chat = { ...chat, engine: { ...chat.engine, modelDir: await locate.chat() } };
    if (embeddingOptions !== null && locate?.embedding !== undefined) embeddingOptions = { ...embeddingOptions, modelDir: await locate.embedding() };
    // The encoder loads while the chat engine starts.
    embeddingLoad = embeddingOptions === null ? null : loadEmbeddingModel(embeddingOptions);
    // Awaited below; marked handled now so a fast failure is not an unhandled rejection meanwhile.
    embeddingLoad?.catch(() => undefined);
    if (chat !== null) {
      const config = resolveEngineConfig(chat.engine);
      const loadStart = performance.now();
      model = await loadChatModel(config, chat.id);
      bindEngineMetrics(model.engine, metrics);
      bindDeviceFailureMetric(metrics.registry, model.engine);
      bindGrammarCompileMetrics(metrics.registry, model.engine);
      bindStepDurationMetric(metrics.registry, model.engine);
      const maxModelLen = model.engine.maxModelLen;
      const { format, architecture, parameters, weightTypes } = model.summary;
      const kvBudgetTokens = kvBudget(config, maxModelLen);
      const loadSeconds = Number(((performance.now() - loadStart) / 1000).toFixed(2));
      logger.info(
        { model: model.id, dir: config.modelDir, format, architecture, parameters, weightTypes, maxModelLen, kvBudgetTokens, workers: config.devices.length, loadSeconds },
        'chat model loaded',
      );
      if (config.maxModelLen !== null && maxModelLen < config.maxModelLen) {
        logger.warn({ requested: config.maxModelLen, maxModelLen }, "--max-model-len exceeds the model's max_position_embeddings: using the model's");
      }
    }
    embedding = embeddingLoad === null ? null : await embeddingLoad;
    if (embedding !== null) {
      const m = embedding.backend.model;
      logger.info({ model: m.id, dir: embeddingOptions?.modelDir, source: embedding.info.source, dimensions: m.dimensions, maxSeqLength: m.maxSeqLength }, 'embedding model loaded');
    }
    rerank = rerankLoad === null ? null : await rerankLoad;
    if (rerank !== null) logger.info({ model: rerank.backend.model.id, dir: rerankOptions?.modelDir, maxSeqLength: rerank.backend.model.maxSeqLength }, 'rerank model loaded');
    backend.set(new CombinedBackend(model === null ? null : new EngineBackend(model, metrics), embedding?.backend ?? null, rerank?.backend ?? null));
    logger.info({ models: backend.models().map((m) => m.id) }, 'ready');
  } catch (error) {
    logger.error({ err: error }, 'failed to load the model');
    await server.close();
    await model?.engine.close();
    await embeddingLoad?.then((e) => e.close(), () => undefined);
    await rerankLoad?.then((r) => r.close(), () => undefined);
    throw new ModelLoadError(`failed to load the model: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }

  const closeModels = async (): Promise<void> => {
    await model?.engine.close();
    await embedding?.close();
    await rerank?.close();
  };
  return {
    port: server.port,
    server,
    metrics,
    chat: model,
    embedding,
    rerank,
    closeModels,
    async close() {
      await server.close();
      await closeModels();
    },
  };
}
