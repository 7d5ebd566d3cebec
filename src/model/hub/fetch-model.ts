// A Hub repo id → a local path the loaders take unchanged: the snapshot
// folder (config, tokenizer, safetensors) or the chosen .gguf file. The Hub
// is asked which commit the revision is, and what files it has; only the
// files Serval needs are downloaded into the shared cache. Offline (or when
// the Hub cannot be reached) the cache alone answers.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { listFiles, modelInfo } from '@huggingface/hub';
import { cachedCommit, fileSize, isCommitSha, repoCacheDir, snapshotDir, snapshotFiles, writeRef } from './cache.js';
import { ensureFile, type FileTarget, type RepoFile } from './download-file.js';
import { checkedFetch, describeHubFailure, HubError, HubHttpError, networkFailure } from './errors.js';
import type { DownloadProgress } from './progress.js';
import { indexShards, selectFiles, type GgufChoice, type ModelRole, type Selection } from './select-files.js';
import type { HubSettings } from './settings.js';
import type { HubSpec } from './spec.js';

export interface HubFetchOptions {
  role: ModelRole;
  /** `--gguf-file NAME`; else the spec's `:QUANT`, if any. */
  ggufFile?: string | null;
  settings: HubSettings;
  progress: DownloadProgress;
  /** Stops asking the Hub and downloading (e.g. on SIGTERM during startup). */
  signal?: AbortSignal;
}

export interface HubModel {
  /** The snapshot folder, or the .gguf file to load (its first shard when split). */
  path: string;
  kind: 'folder' | 'gguf';
  repo: string;
  revision: string;
  sha: string;
  snapshot: string;
  /** 'cache': every file was already there; 'download': some were fetched now. */
  source: 'cache' | 'download';
  /** Why the Hub was not asked (HF_HUB_OFFLINE, unreachable), or null when it was. */
  offlineReason: string | null;
  downloadedFiles: number;
  downloadedBytes: number;
}

export async function fetchHubModel(spec: HubSpec, options: HubFetchOptions): Promise<HubModel> {
  const { settings } = options;
  const gguf: GgufChoice | null = options.ggufFile ? { file: options.ggufFile } : spec.quant !== null ? { quant: spec.quant } : null;
  const repoDir = repoCacheDir(settings.cacheDir, spec.repo);
  if (settings.offline) return fromCache(spec, options.role, gguf, settings, 'HF_HUB_OFFLINE is set');
  // A commit sha names immutable files: a complete snapshot needs no network at all.
  if (isCommitSha(spec.revision)) {
    const local = await fromCache(spec, options.role, gguf, settings, null).catch(() => null);
    if (local !== null) return local;
  }

  const fetch = checkedFetch(options.signal);
  const credentials = settings.token === null ? {} : { accessToken: settings.token };
  let sha: string;
  let files: Map<string, RepoFile>;
  try {
    const info = await modelInfo({ name: spec.repo, revision: spec.revision, hubUrl: settings.endpoint, additionalFields: ['sha'], fetch, ...credentials });
    if (typeof info.sha !== 'string' || !isCommitSha(info.sha)) throw new HubError(`${settings.endpoint} gave no commit sha for ${spec.repo}@${spec.revision}`);
    sha = info.sha;
    files = new Map();
    for await (const entry of listFiles({ repo: spec.repo, revision: sha, recursive: true, hubUrl: settings.endpoint, fetch, ...credentials })) {
      if (entry.type !== 'file') continue;
      const etag = entry.lfs?.oid ?? entry.xetHash ?? entry.oid;
      if (etag === undefined) throw new HubError(`${settings.endpoint} listed ${entry.path} of ${spec.repo} without an oid`);
      files.set(entry.path, { path: entry.path, size: entry.size, etag });
    }
  } catch (error) {
    if (options.signal?.aborted) throw new HubError(`asking ${settings.endpoint} about ${spec.repo} was stopped`);
    if (error instanceof HubHttpError) throw describeHubFailure(error, spec.repo, spec.revision, settings.endpoint, settings.token !== null);
    const down = networkFailure(error);
    if (down === null) throw error;
    return fromCache(spec, options.role, gguf, settings, `cannot reach ${settings.endpoint} (${down})`);
  }

  const snapshot = snapshotDir(repoDir, sha);
  const selection = selectFiles(spec.repo, [...files.keys()], options.role, gguf);
  await writeRef(repoDir, spec.revision, sha);
  const target: FileTarget = { repo: spec.repo, sha, repoDir, snapshot, endpoint: settings.endpoint, token: settings.token, progress: options.progress, signal: options.signal };
  let downloadedFiles = 0;
  let downloadedBytes = 0;
  const ensure = async (name: string): Promise<void> => {
    const file = files.get(name);
    if (file === undefined) throw new HubError(`${spec.repo}@${sha.slice(0, 12)} has no ${name}, which its safetensors index names`);
    try {
      if (await ensureFile(target, file)) {
        downloadedFiles++;
        downloadedBytes += file.size;
      }
    } catch (error) {
      if (error instanceof HubHttpError) throw describeHubFailure(error, spec.repo, spec.revision, settings.endpoint, settings.token !== null);
      throw error;
    }
  };
  for (const name of selection.files) await ensure(name);
  if (selection.kind === 'folder' && selection.index !== null) {
    for (const shard of await readShards(snapshot, selection.index)) await ensure(shard);
  }
  return {
    ...located(selection, snapshot),
    repo: spec.repo,
    revision: spec.revision,
    sha,
    snapshot,
    source: downloadedFiles > 0 ? 'download' : 'cache',
    offlineReason: null,
    downloadedFiles,
    downloadedBytes,
  };
}

function located(selection: Selection, snapshot: string): Pick<HubModel, 'path' | 'kind'> {
  return selection.kind === 'gguf' ? { kind: 'gguf', path: path.join(snapshot, selection.entry) } : { kind: 'folder', path: snapshot };
}

async function readShards(snapshot: string, index: string): Promise<string[]> {
  const file = path.join(snapshot, index);
  return indexShards(await readFile(file, 'utf8'), file);
}

/** The model from the cache alone; `reason` says why the Hub is not asked (null: not worth asking). */
async function fromCache(spec: HubSpec, role: ModelRole, gguf: GgufChoice | null, settings: HubSettings, reason: string | null): Promise<HubModel> {
  const repoDir = repoCacheDir(settings.cacheDir, spec.repo);
  const why = reason ?? 'offline';
  const sha = await cachedCommit(repoDir, spec.revision);
  const snapshot = sha === null ? null : snapshotDir(repoDir, sha);
  const present = snapshot === null ? [] : await snapshotFiles(snapshot);
  if (sha === null || snapshot === null || present.length === 0) {
    throw new HubError(`${why}, and the cache (${settings.cacheDir}) holds no snapshot of ${spec.repo}@${spec.revision}: run once with network access to download it`);
  }
  const incomplete = (detail: string): HubError =>
    new HubError(`${why}, and the cached snapshot ${sha.slice(0, 12)} of ${spec.repo} is incomplete (${detail}): run once with network access to finish the download`);
  let selection: Selection;
  try {
    selection = selectFiles(spec.repo, present, role, gguf);
  } catch (error) {
    if (error instanceof HubError) throw incomplete(error.message);
    throw error;
  }
  if (selection.kind === 'folder') {
    if (!present.includes('config.json') || !present.includes('tokenizer.json')) throw incomplete('config.json or tokenizer.json missing');
    if (selection.index !== null) {
      const missing = (await readShards(snapshot, selection.index)).filter((s) => !present.includes(s));
      if (missing.length > 0) throw incomplete(`missing ${missing.join(', ')}`);
    }
  }
  for (const file of selection.files) {
    if ((await fileSize(path.join(snapshot, file))) === null) throw incomplete(`missing ${file}`);
  }
  return { ...located(selection, snapshot), repo: spec.repo, revision: spec.revision, sha, snapshot, source: 'cache', offlineReason: reason, downloadedFiles: 0, downloadedBytes: 0 };
}
