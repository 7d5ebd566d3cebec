// One file of a snapshot into the cache, as @huggingface/hub's
// downloadFileToCacheDir lays it out (stream into `blobs/<etag>.incomplete`,
// rename to `blobs/<etag>` once whole, link `snapshots/<sha>/<path>` to it),
// with what that function lacks: a download cut short resumes where the
// `.incomplete` file ends (the blob is content-addressed, so its bytes are a
// prefix of the same file) through the library's blob `slice` — a Range
// request, or the xet protocol for xet-stored files — and the file is checked
// against the size the repo lists before it takes its final name. Progress
// comes from watching the `.incomplete` file grow.

import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { downloadFile } from '@huggingface/hub';
import { blobPath, fileSize } from './cache.js';
import { checkedFetch, HubError, HubHttpError } from './errors.js';
import type { DownloadProgress } from './progress.js';

/** A file as the repo's tree listing gives it. */
export interface RepoFile {
  path: string;
  size: number;
  /** The blob name huggingface_hub uses: LFS sha256, else xet hash, else git oid. */
  etag: string;
}

export interface FileTarget {
  repo: string;
  sha: string;
  repoDir: string;
  snapshot: string;
  endpoint: string;
  token: string | null;
  progress: DownloadProgress;
  /** Stops the download (the `.incomplete` file stays, to resume). */
  signal?: AbortSignal;
}

export const MAX_ATTEMPTS = 4;
const POLL_MS = 250;

/** Ensures the snapshot holds `file`; returns whether anything was downloaded (false: already cached). */
export async function ensureFile(target: FileTarget, file: RepoFile): Promise<boolean> {
  const pointer = path.join(target.snapshot, file.path);
  const pointed = await fileSize(pointer);
  if (pointed === file.size) return false;
  const blob = blobPath(target.repoDir, file.etag);
  // A wrong-sized entry was not written by a complete download: start over.
  if (pointed !== null) await Promise.all([rm(pointer, { force: true }), rm(blob, { force: true })]);
  let downloaded = false;
  if ((await fileSize(blob)) !== file.size) {
    await rm(blob, { force: true });
    await downloadBlob(target, file, blob);
    downloaded = true;
  }
  await linkBlob(blob, pointer);
  return downloaded;
}

async function downloadBlob(target: FileTarget, file: RepoFile, blob: string): Promise<void> {
  const incomplete = `${blob}.incomplete`;
  await mkdir(path.dirname(blob), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    target.progress.start(file.path, file.size, (await fileSize(incomplete)) ?? 0);
    const watch = setInterval(() => {
      stat(incomplete).then(
        (s) => target.progress.update(file.path, s.size),
        () => undefined,
      );
    }, POLL_MS);
    try {
      await fetchInto(target, file, incomplete);
      await rename(incomplete, blob);
      target.progress.done(file.path, file.size);
      return;
    } catch (error) {
      if (target.signal?.aborted) throw new HubError(`downloading ${file.path} of ${target.repo} was stopped`);
      if (error instanceof HubHttpError && !retriable(error)) throw error;
      if (error instanceof HubError) throw error;
      const reason = describe(error);
      if (attempt >= MAX_ATTEMPTS) throw new HubError(`downloading ${file.path} of ${target.repo} failed ${attempt} times, last: ${reason}`);
      target.progress.retry(file.path, attempt, reason);
      await sleep(250 * 2 ** (attempt - 1), undefined, { signal: target.signal });
    } finally {
      clearInterval(watch);
    }
  }
}

/** Appends the rest of the file to `incomplete` (creating it when absent); throws unless it ends whole. */
async function fetchInto(target: FileTarget, file: RepoFile, incomplete: string): Promise<void> {
  let have = (await fileSize(incomplete)) ?? 0;
  if (have > file.size) {
    await rm(incomplete, { force: true });
    have = 0;
  }
  if (have < file.size) {
    const remote = await downloadFile({
      repo: target.repo,
      path: file.path,
      revision: target.sha,
      hubUrl: target.endpoint,
      fetch: checkedFetch(target.signal),
      ...(target.token === null ? {} : { accessToken: target.token }),
    });
    if (remote === null) throw new HubError(`${target.repo}@${target.sha.slice(0, 12)} has no ${file.path}, though it lists it`);
    if (remote.size !== file.size) throw new HubError(`${target.repo}: ${file.path} is ${remote.size} bytes to download but listed as ${file.size}`);
    const body = remote.slice(have).stream() as ReadableStream<Uint8Array>;
    await pipeline(Readable.fromWeb(body), createWriteStream(incomplete, { flags: have > 0 ? 'a' : 'w' }));
  }
  const size = (await fileSize(incomplete)) ?? 0;
  if (size !== file.size) {
    // Longer than listed cannot be a prefix: drop it. Shorter: keep it for the next attempt to resume.
    if (size > file.size) await rm(incomplete, { force: true });
    throw new Error(`received ${size} of ${file.size} bytes`);
  }
}

/** Links the snapshot path to the blob, relatively as huggingface_hub does; copies where links fail. */
async function linkBlob(blob: string, pointer: string): Promise<void> {
  await mkdir(path.dirname(pointer), { recursive: true });
  await rm(pointer, { force: true });
  try {
    await symlink(path.relative(path.dirname(pointer), blob), pointer);
  } catch {
    await copyFile(blob, pointer);
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
