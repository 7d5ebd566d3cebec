// Starts a Serval server from resolved options, the one way `serval serve` and
// the tests both use: the HTTP server listens at once (/health says 503 while
// loading), the embedding model loads while the chat model's engine starts,
// then the server serves them. Resolves once ready; a load failure closes
// what had started and rejects with a ModelLoadError.

import path from 'node:path';
import { DEFAULT_MAX_MODEL_LEN_CAP, resolveEngineConfig, type EngineOptions } from '../engine/config.js';
import { createMetrics, type ServerMetrics } from '../metrics/registry.js';
import { loadChatModel } from './chat-model.js';
import { CombinedBackend } from './embeddings/combined-backend.js';
import { loadEmbeddingModel, type EmbeddingModelOptions, type LoadedEmbeddingModel } from './embeddings/load-embedding-model.js';
import { EngineBackend, type ChatModel } from './engine-backend.js';
import { bindEngineMetrics } from './engine-metrics.js';
import { LoadingBackend } from './loading-backend.js';
import { silentLogger, type Logger } from './logger.js';
import { bindDeviceFailureMetric, bindGrammarCompileMetrics } from './ops-metrics.js';
import { startHttpServer, type HttpServer, type HttpServerOptions } from './server.js';

export interface ServerOptions {
  /** The chat/completions model: its id in requests and its engine; null serves embeddings only. */
  chat: { id: string; engine: EngineOptions } | null;
  /** The /v1/embeddings model; null serves none. */
  embedding: EmbeddingModelOptions | null;
  /** Listening address, limits, auth, CORS, backpressure. */
  http: Omit<HttpServerOptions, 'backend' | 'metrics' | 'logger'>;
  /** Default: silent. */
  logger?: Logger;
}

export interface RunningServer {
  port: number;
  server: HttpServer;
  metrics: ServerMetrics;
  chat: ChatModel | null;
  embedding: LoadedEmbeddingModel | null;
  /** Closes the models; after server.close() (or a drain and close) for a clean stop. */
  closeModels(): Promise<void>;
  /** Closes the HTTP server, then the models. */
  close(): Promise<void>;
}

/** The server listened, but a model failed to load (the message says which and why). */
export class ModelLoadError extends Error {}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? silentLogger;
  const { chat, embedding: embeddingOptions } = options;
  const backend = new LoadingBackend();
  const metrics = createMetrics({
    modelName: chat?.id ?? embeddingOptions?.servedName ?? path.basename(path.resolve(embeddingOptions?.modelDir ?? 'serval')),
    // The token histograms are made before the model is read: bucket up to the longest context it can get.
    maxModelLen: chat?.engine.maxModelLen ?? DEFAULT_MAX_MODEL_LEN_CAP,
  });
  const server = await startHttpServer({ ...options.http, backend, metrics, logger });
  logger.info({ host: options.http.host, port: server.port }, 'listening (loading model)');

  let model: ChatModel | null = null;
  let embedding: LoadedEmbeddingModel | null = null;
  // The encoder loads while the chat engine starts.
  const embeddingLoad = embeddingOptions === null ? null : loadEmbeddingModel(embeddingOptions);
  // Awaited below; marked handled now so a fast failure is not an unhandled rejection meanwhile.
  embeddingLoad?.catch(() => undefined);
  try {
    if (chat !== null) {
      const config = resolveEngineConfig(chat.engine);
      model = await loadChatModel(config, chat.id);
      bindEngineMetrics(model.engine, metrics);
      bindDeviceFailureMetric(metrics.registry, model.engine);
      bindGrammarCompileMetrics(metrics.registry, model.engine);
      const maxModelLen = model.engine.maxModelLen;
      logger.info({ model: model.id, dir: config.modelDir, workers: config.devices.length, maxModelLen }, 'chat model loaded');
      if (config.maxModelLen !== null && maxModelLen < config.maxModelLen) {
        logger.warn({ requested: config.maxModelLen, maxModelLen }, "--max-model-len exceeds the model's max_position_embeddings: using the model's");
      }
    }
    embedding = embeddingLoad === null ? null : await embeddingLoad;
    if (embedding !== null) {
      const m = embedding.backend.model;
      logger.info({ model: m.id, dir: embeddingOptions?.modelDir, source: embedding.info.source, dimensions: m.dimensions, maxSeqLength: m.maxSeqLength }, 'embedding model loaded');
    }
    backend.set(new CombinedBackend(model === null ? null : new EngineBackend(model, metrics), embedding?.backend ?? null));
    logger.info({ models: backend.models().map((m) => m.id) }, 'ready');
  } catch (error) {
    logger.error({ err: error }, 'failed to load the model');
    await server.close();
    await model?.engine.close();
    await embeddingLoad?.then((e) => e.close(), () => undefined);
    throw new ModelLoadError(`failed to load the model: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }

  const closeModels = async (): Promise<void> => {
    await model?.engine.close();
    await embedding?.close();
  };
  return {
    port: server.port,
    server,
    metrics,
    chat: model,
    embedding,
    closeModels,
    async close() {
      await server.close();
      await closeModels();
    },
  };
}
