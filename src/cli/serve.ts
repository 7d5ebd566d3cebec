// `serval serve`: the flags become the starter's options; the server listens
// at once (health says 503 while loading), loads the models, then serves
// until SIGTERM/SIGINT.

import { pino } from 'pino';
import { PrettyLog } from './pretty-log.js';
import { parseDevices } from '../engine/config.js';
import { ModelLoadError, startServer, type RunningServer } from '../front/start-server.js';
import { ensureDefaultModels } from '../model/testmodels/default-model.js';
import { embeddingModelDir, embeddingModelOptions, needsDefaultModels } from './serve-embeddings.js';
import { modelArg, type ModelArg } from './serve-hub.js';
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
  // Hub ids are fetched once the server listens (see locate below); a signal meanwhile stops the download.
  const fetching = new AbortController();
  let chatArg: ModelArg | null;
  let embeddingArg: ModelArg | null;
  try {
    chatArg = modelDir === null ? null : modelArg(modelDir, 'decoder', options.ggufFile, logger, fetching.signal);
    embeddingArg = embeddingDir === null ? null : modelArg(embeddingDir, 'encoder', null, logger, fetching.signal);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`serval serve: ${error.message}\n`);
    return 2;
  }
  const devices = parseDevices(options.device, options.workers);
  const stop = new StopWatch();
  void stop.stopped.then(() => fetching.abort());
  let served: RunningServer;
  try {
    served = await startServer({
      chat:
        chatArg === null
          ? null
          : {
              id: options.servedModelName ?? chatArg.id,
              engine: {
                modelDir: chatArg.dir,
                devices,
                intraOpThreads: options.threads ?? undefined,
                maxBatchSize: options.maxBatchSize,
                maxBatchTokens: options.maxBatchTokens,
                maxPrefillTokensWithDecode: options.maxPrefillWithDecode ?? undefined,
                maxModelLen: options.maxModelLen,
                kvCacheTokens: options.kvCacheTokens,
                quantize: options.quantize,
                pipelineDepth: options.pipelineDepth === 2 ? 2 : options.pipelineDepth === 1 ? 1 : undefined,
                prefixCaching: options.prefixCaching,
                schedulingPolicy: options.schedulingPolicy,
                spinning: options.spinning === null ? undefined : options.spinning === 'on',
                maxQueuedGrammarCompiles: options.grammarCompileQueue,
              },
            },
      // The encoder shares the first device.
      embedding:
        embeddingArg === null ? null : { ...embeddingModelOptions(options, embeddingArg.dir, devices[0]), servedName: options.embeddingModelName ?? embeddingArg.id },
      locate: { chat: chatArg?.locate ?? undefined, embedding: embeddingArg?.locate ?? undefined },
      rerank: options.rerankModel === null ? null : { ...embeddingModelOptions(options, options.rerankModel, devices[0]), servedName: options.rerankModelName },
      http: { host: options.host, port: options.port, maxBodyBytes: options.maxBodyBytes, limits: { maxN: options.maxN, maxPrompts: options.maxPrompts }, ...ops },
      logger,
    });
  } catch (error) {
    if (!(error instanceof ModelLoadError)) throw error;
    stop.dispose();
    if (fetching.signal.aborted) {
      // Stopped on purpose while downloading: a clean stop; the partial file resumes next time.
      process.stderr.write('serval serve: stopped while fetching the model\n');
      return 0;
    }
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
