// One file of a snapshot into the cache, through @huggingface/hub's
// downloadFileToCacheDir: it streams into `blobs/<etag>.incomplete` and renames
// to `blobs/<etag>` only when the body ended, then links the snapshot path.
// Here: progress (by watching the .incomplete file grow), a size check
// against the repo listing, and retries when the connection drops — each
// attempt restarts the file (the library truncates the .incomplete file), so
// nothing partial is ever taken for complete.

import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { downloadFileToCacheDir } from '@huggingface/hub';
import { blobPath, fileSize } from './cache.js';
import { checkedFetch, HubError, HubHttpError } from './errors.js';
import type { DownloadProgress } from './progress.js';

/** A file as the repo's tree listing gives it. */
export interface RepoFile {
  path: string;
  size: number;
  /** The blob name the library uses: LFS sha256, else xet hash, else git oid. */
  etag: string;
}

export interface FileTarget {
  repo: string;
  sha: string;
  repoDir: string;
  snapshot: string;
  endpoint: string;
  cacheDir: string;
  token: string | null;
  progress: DownloadProgress;
}

export const MAX_ATTEMPTS = 4;
const POLL_MS = 250;

/** Whether the snapshot already holds `file` complete (links followed); a wrong-sized one is removed. */
async function cached(target: FileTarget, file: RepoFile): Promise<boolean> {
  const pointer = path.join(target.snapshot, file.path);
  const size = await fileSize(pointer);
  if (size === file.size) return true;
  if (size !== null) await discard(target, file);
  return false;
}

async function discard(target: FileTarget, file: RepoFile): Promise<void> {
  await rm(path.join(target.snapshot, file.path), { force: true });
  await rm(blobPath(target.repoDir, file.etag), { force: true });
}

/** Ensures the snapshot holds `file`; returns whether it was downloaded (false: already cached). */
export async function ensureFile(target: FileTarget, file: RepoFile): Promise<boolean> {
  if (await cached(target, file)) return false;
  const incomplete = `${blobPath(target.repoDir, file.etag)}.incomplete`;
  for (let attempt = 1; ; attempt++) {
    target.progress.start(file.path, file.size);
    const watch = setInterval(() => {
      stat(incomplete).then(
        (s) => target.progress.update(file.path, s.size),
        () => undefined,
      );
    }, POLL_MS);
    try {
      await quietly(() =>
        downloadFileToCacheDir({
          repo: target.repo,
          path: file.path,
          revision: target.sha,
          hubUrl: target.endpoint,
          cacheDir: target.cacheDir,
          fetch: checkedFetch(),
          ...(target.token === null ? {} : { accessToken: target.token }),
        }),
      );
      const size = await fileSize(path.join(target.snapshot, file.path));
      if (size !== file.size) {
        await discard(target, file);
        throw new Error(`received ${size ?? 0} bytes, the repo lists ${file.size}`);
      }
      target.progress.done(file.path, size);
      return true;
    } catch (error) {
      if (error instanceof HubHttpError && !retriable(error)) throw error;
      const reason = describe(error);
      if (attempt >= MAX_ATTEMPTS) throw new HubError(`downloading ${file.path} of ${target.repo} failed ${attempt} times, last: ${reason}`);
      target.progress.retry(file.path, attempt, reason);
      await sleep(250 * 2 ** (attempt - 1));
    } finally {
      clearInterval(watch);
    }
  }
}

function retriable(error: HubHttpError): boolean {
  return error.status >= 500 || error.status === 429 || error.status === 408;
}

/** The message of an error (and of its cause: undici says `terminated`, its cause `other side closed`). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
}

let quietDepth = 0;
let savedDebug: typeof console.debug = console.debug;

/**
 * Runs `fn` with console.debug muted: the library prints "Downloading X to Y"
 * with it, a plain line on stdout amid the JSON log lines (and under the
 * progress bar). Serval itself never uses console.debug.
 */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  if (quietDepth++ === 0) {
    savedDebug = console.debug;
    console.debug = () => {};
  }
  try {
    return await fn();
  } finally {
    if (--quietDepth === 0) console.debug = savedDebug;
  }
}
