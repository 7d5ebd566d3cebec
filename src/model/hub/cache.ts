// The Hugging Face cache layout, shared with Python's huggingface_hub:
//   <cache>/models--ORG--NAME/refs/<revision>        the commit sha a branch/tag pointed to
//   <cache>/models--ORG--NAME/snapshots/<sha>/<path> a link to the blob (a copy where links fail)
//   <cache>/models--ORG--NAME/blobs/<etag>           the content; `<etag>.incomplete` while downloading
// @huggingface/hub writes blobs and snapshot links; refs are written here.

import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

const COMMIT_RE = /^[0-9a-f]{40}$/;

export function isCommitSha(revision: string): boolean {
  return COMMIT_RE.test(revision);
}

export function repoCacheDir(cacheDir: string, repo: string): string {
  return path.join(cacheDir, `models--${repo.split('/').join('--')}`);
}

export function snapshotDir(repoDir: string, sha: string): string {
  return path.join(repoDir, 'snapshots', sha);
}

export function blobPath(repoDir: string, etag: string): string {
  return path.join(repoDir, 'blobs', etag);
}

/** The commit a revision resolves to in the cache (a sha resolves to itself), or null when unknown. */
export async function cachedCommit(repoDir: string, revision: string): Promise<string | null> {
  if (isCommitSha(revision)) return revision;
  try {
    const sha = (await readFile(path.join(repoDir, 'refs', revision), 'utf8')).trim();
    return isCommitSha(sha) ? sha : null;
  } catch {
    return null;
  }
}

/** Records what `revision` points to, as huggingface_hub does (nothing for a sha). */
export async function writeRef(repoDir: string, revision: string, sha: string): Promise<void> {
  if (revision === sha) return;
  const file = path.join(repoDir, 'refs', revision);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, sha);
}

/** The size of the file a snapshot path leads to (links followed), or null when there is none. */
export async function fileSize(file: string): Promise<number | null> {
  try {
    const s = await stat(file);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

/** Every file of a snapshot (links followed, dangling ones left out), as repo paths with '/'. */
export async function snapshotFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(child);
      else if ((await fileSize(path.join(dir, child))) !== null) out.push(child);
    }
  };
  await walk('');
  return out.sort();
}
