// `serval serve`: start listening at once (health says 503 while loading),
// load the model and its engine, then serve until SIGTERM/SIGINT.

import path from 'node:path';
import { pino } from 'pino';
import { DEFAULT_MAX_MODEL_LEN_CAP, parseDevices, resolveEngineConfig } from '../engine/config.js';
import { loadChatModel } from '../front/chat-model.js';
import { EngineBackend, type ChatModel } from '../front/engine-backend.js';
import { CombinedBackend } from '../front/embeddings/combined-backend.js';
import type { LoadedEmbeddingModel } from '../front/embeddings/load-embedding-model.js';
import { LoadingBackend } from '../front/loading-backend.js';
import { bindEngineMetrics } from '../front/engine-metrics.js';
import { createMetrics } from '../metrics/registry.js';
import { startHttpServer } from '../front/server.js';
import { ensureDefaultModels } from '../model/testmodels/default-model.js';
import { embeddingModelDir, needsDefaultModels, startEmbeddingModel } from './serve-embeddings.js';
import { parseServeOptions, serveHelp, UsageError, type ServeOptions } from './serve-options.js';
import { prepareHttpOps, StopWatch, stopServer } from './serve-ops.js';
import { bindDeviceFailureMetric } from '../front/ops-metrics.js';

export async function runServe(argv: string[]): Promise<number> {
  let options: ServeOptions | 'help';
  try {
    options = parseServeOptions(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`serval serve: ${error.message}\n\n${serveHelp()}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${serveHelp()}\n`);
    return 0;
  }
  const ops = await prepareHttpOps(options);
  if ('usageError' in ops) {
    process.stderr.write(`serval serve: ${ops.usageError}\n`);
    return 2;
  }
  const logger = pino({ level: options.logLevel });
  // The built-in models are generated on first use (a few seconds, once per cache).
  const defaults = needsDefaultModels(options) ? await ensureDefaultModels() : null;
  // --model none: embeddings only.
  const modelDir = options.model === 'none' ? null : (options.model ?? defaults!.chatModelDir);
  const modelId = modelDir === null ? null : (options.servedModelName ?? path.basename(path.resolve(modelDir)));
  const embeddingDir = embeddingModelDir(options, defaults);
  const backend = new LoadingBackend();
  const metrics = createMetrics({
    modelName: modelId ?? options.embeddingModelName ?? path.basename(path.resolve(embeddingDir ?? 'serval')),
    // The token histograms are made before the model is read: bucket up to the longest context it can get.
    maxModelLen: options.maxModelLen ?? DEFAULT_MAX_MODEL_LEN_CAP,
  });
  const server = await startHttpServer({
    metrics,
    host: options.host,
    port: options.port,
    backend,
    maxBodyBytes: options.maxBodyBytes,
    logger,
    limits: { maxN: options.maxN },
    ...ops,
  });
  logger.info({ host: options.host, port: server.port }, 'listening (loading model)');

  let model: ChatModel | null = null;
  let embedding: LoadedEmbeddingModel | null = null;
  let embeddingLoad: Promise<LoadedEmbeddingModel> | null = null;
  const stop = new StopWatch();
  try {
    const devices = parseDevices(options.device, options.workers);
    // The encoder loads while the chat engine starts.
    embeddingLoad = embeddingDir === null ? null : startEmbeddingModel(options, embeddingDir, devices[0]);
    // Awaited below; marked handled now so a fast failure is not an unhandled rejection meanwhile.
    embeddingLoad?.catch(() => undefined);
    if (modelDir !== null && modelId !== null) {
      const config = resolveEngineConfig({
        modelDir,
        devices,
        intraOpThreads: options.threads ?? undefined,
        maxBatchSize: options.maxBatchSize,
        maxBatchTokens: options.maxBatchTokens,
        maxModelLen: options.maxModelLen,
        kvCacheTokens: options.kvCacheTokens,
        quantize: options.quantize,
        pipelineDepth: options.pipelineDepth === 2 ? 2 : options.pipelineDepth === 1 ? 1 : undefined,
      });
      model = await loadChatModel(config, modelId);
      bindEngineMetrics(model.engine, metrics);
      stop.watchEngine(model.engine);
      bindDeviceFailureMetric(metrics.registry, model.engine);
      logger.info({ model: model.id, dir: modelDir, workers: devices.length, maxModelLen: model.engine.maxModelLen }, 'chat model loaded');
      if (options.maxModelLen !== null && model.engine.maxModelLen < options.maxModelLen) {
        logger.warn({ requested: options.maxModelLen, maxModelLen: model.engine.maxModelLen }, "--max-model-len exceeds the model's max_position_embeddings: using the model's");
      }
    }
    embedding = embeddingLoad === null ? null : await embeddingLoad;
    if (embedding !== null) {
      const m = embedding.backend.model;
      logger.info({ model: m.id, dir: embeddingDir, source: embedding.info.source, dimensions: m.dimensions, maxSeqLength: m.maxSeqLength }, 'embedding model loaded');
    }
    backend.set(new CombinedBackend(model === null ? null : new EngineBackend(model, metrics), embedding?.backend ?? null));
    logger.info({ models: backend.models().map((m) => m.id) }, 'ready');
  } catch (error) {
    logger.error({ err: error }, 'failed to load the model');
    process.stderr.write(`serval serve: failed to load the model: ${error instanceof Error ? error.message : String(error)}\n`);
    await server.close();
    await model?.engine.close();
    await embeddingLoad?.then((e) => e.close(), () => undefined);
    return 1;
  }

  const shutdownTimeoutMs = options.shutdownTimeout * 1000;
  const closeAll = async (): Promise<void> => {
    await model?.engine.close();
    await embedding?.close();
  };
  return stopServer(await stop.stopped, server, { shutdownTimeoutMs, force: stop.force, logger, closeAll });
}
