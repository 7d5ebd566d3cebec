// `serval serve` glue for models named by a Hugging Face Hub id: the id the
// model is served as, and the download that runs once the server listens
// (progress on a terminal, log lines otherwise; where the files came from).

import path from 'node:path';
import type { Logger } from '../front/logger.js';
import { fetchHubModel } from '../model/hub/fetch-model.js';
import { logProgress, terminalProgress } from '../model/hub/progress.js';
import type { ModelRole } from '../model/hub/select-files.js';
import { hubSettings } from '../model/hub/settings.js';
import { hubSpecOf } from '../model/hub/spec.js';
import { UsageError } from './serve-options.js';

export interface ModelArg {
  /** The id the model is served as unless renamed: the hub id as given, or the file/folder name. */
  id: string;
  /** The local folder or file; for a hub id, a stand-in until `locate` has run. */
  dir: string;
  /** Downloads (or finds in the cache) a hub model and returns its local path; null for local paths. */
  locate: (() => Promise<string>) | null;
}

/**
 * What --model / --embedding-model `arg` names; `ggufFile` is --gguf-file
 * (chat model only); `signal` stops a download (a signal during startup).
 */
export function modelArg(arg: string, role: ModelRole, ggufFile: string | null, logger: Logger, signal: AbortSignal): ModelArg {
  const spec = hubSpecOf(arg);
  if (spec === null) {
    if (ggufFile !== null) throw new UsageError(`--gguf-file needs --model to name a Hugging Face repo, but '${arg}' is a local path`);
    // A GGUF file is served under its name without the extension, as llama.cpp and Ollama users know it.
    return { id: path.basename(path.resolve(arg)).replace(/\.gguf$/i, ''), dir: arg, locate: null };
  }
  if (ggufFile !== null && spec.quant !== null) throw new UsageError(`give either ':${spec.quant}' in --model or --gguf-file, not both`);
  const locate = async (): Promise<string> => {
    const settings = hubSettings();
    const progress = process.stderr.isTTY ? terminalProgress(process.stderr) : logProgress(logger);
    const model = await fetchHubModel(spec, { role, ggufFile, settings, progress, signal });
    const from = { model: spec.given, revision: model.revision, sha: model.sha, path: model.path, cache: settings.cacheDir };
    if (model.source === 'download') {
      logger.info({ ...from, files: model.downloadedFiles, bytes: model.downloadedBytes }, 'model files downloaded from the Hugging Face Hub');
    } else {
      logger.info({ ...from, offline: model.offlineReason }, 'model files found in the Hugging Face cache');
    }
    return model.path;
  };
  return { id: spec.given, dir: spec.given, locate };
}
