// `serval serve`: the flags become the starter's options; the server listens
// at once (health says 503 while loading), loads the models, then serves
// until SIGTERM/SIGINT.

import path from 'node:path';
import { pino } from 'pino';
import { PrettyLog } from './pretty-log.js';
import { parseDevices } from '../engine/config.js';
import { ModelLoadError, startServer, type RunningServer } from '../front/start-server.js';
import { ensureDefaultModels } from '../model/testmodels/default-model.js';
import { embeddingModelDir, embeddingModelOptions, needsDefaultModels } from './serve-embeddings.js';
import { parseServeOptions, serveHelp, UsageError, type ServeOptions } from './serve-options.js';
import { prepareHttpOps, StopWatch, stopServer } from './serve-ops.js';

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
  const pretty = (options.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json')) === 'pretty';
  const logger = pretty ? pino({ level: options.logLevel }, new PrettyLog(process.stdout, process.stdout.isTTY)) : pino({ level: options.logLevel });
  // The built-in models are generated on first use (a few seconds, once per cache).
  const defaults = needsDefaultModels(options) ? await ensureDefaultModels() : null;
  // --model none: embeddings only.
  const modelDir = options.model === 'none' ? null : (options.model ?? defaults!.chatModelDir);
  const embeddingDir = embeddingModelDir(options, defaults);
  const devices = parseDevices(options.device, options.workers);
  const stop = new StopWatch();
  let served: RunningServer;
  try {
    served = await startServer({
      chat:
        modelDir === null
          ? null
          : {
              id: options.servedModelName ?? path.basename(path.resolve(modelDir)),
              engine: {
                modelDir,
                devices,
                intraOpThreads: options.threads ?? undefined,
                maxBatchSize: options.maxBatchSize,
                maxBatchTokens: options.maxBatchTokens,
                maxModelLen: options.maxModelLen,
                kvCacheTokens: options.kvCacheTokens,
                quantize: options.quantize,
                pipelineDepth: options.pipelineDepth === 2 ? 2 : options.pipelineDepth === 1 ? 1 : undefined,
              },
            },
      // The encoder shares the first device.
      embedding: embeddingDir === null ? null : embeddingModelOptions(options, embeddingDir, devices[0]),
      http: { host: options.host, port: options.port, maxBodyBytes: options.maxBodyBytes, limits: { maxN: options.maxN }, ...ops },
      logger,
    });
  } catch (error) {
    if (!(error instanceof ModelLoadError)) throw error;
    stop.dispose();
    process.stderr.write(`serval serve: ${error.message}\n`);
    return 1;
  }
  if (served.chat !== null) stop.watchEngine(served.chat.engine);
  return stopServer(await stop.stopped, served.server, {
    shutdownTimeoutMs: options.shutdownTimeout * 1000,
    force: stop.force,
    logger,
    closeAll: served.closeModels,
  });
}
