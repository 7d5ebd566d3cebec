// A Hugging Face Hub on 127.0.0.1 for tests, speaking the endpoints
// @huggingface/hub (and Python's huggingface_hub) call, with the Hub's status
// codes and X-Error-Code headers:
//   GET  /api/models/ORG/NAME/revision/REV      model info with `sha`
//   GET  /api/models/ORG/NAME/tree/REV           file listing (oid, size, lfs)
//   POST /api/models/ORG/NAME/paths-info/REV     the same for named paths
//   GET|HEAD /ORG/NAME/resolve/REV/PATH          the file (X-Repo-Commit, ETag,
//        X-Linked-Etag/-Size, Range); LFS files redirect to /lfs/ORG/NAME/SHA256 as the
//        Hub redirects to its CDN.
// Faults on demand: drop the connection mid-file, slow a file down.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';

export interface FakeRepo {
  files: Map<string, Buffer>;
  /** Branches and tags → commit sha; `main` is always there. */
  refs: Map<string, string>;
  sha: string;
  /** Files need `Authorization: Bearer <token>` (the repo's info and listing stay public, as on the Hub). */
  gated: boolean;
}

export interface FakeHubFaults {
  /** The next full GET of this file sends `afterBytes` bytes, then the socket is destroyed (once). */
  dropOnce?: { file: string; afterBytes: number };
  /** Every GET of this file is sent in chunks of `chunkBytes` every `intervalMs`. */
  slow?: { file: string; chunkBytes: number; intervalMs: number };
}

export interface FakeHub {
  url: string;
  repos: Map<string, FakeRepo>;
  faults: FakeHubFaults;
  /** Every request so far: `METHOD path[ Range]`, e.g. `GET /lfs/o/n/<sha256> bytes=100-`. */
  requests: string[];
  /** Full-body GETs of a repo's file (downloads, not probes). */
  downloads(repo: string, file: string): number;
  close(): Promise<void>;
}

export const GOOD_TOKEN = 'hf_fakehubtoken0123456789';

const LFS_RE = /\.(safetensors|gguf|bin|onnx)$/;

/** A repo from a folder on disk (e.g. one `make-model` wrote). */
export function repoFromDir(dir: string, opts: { gated?: boolean; sha?: string } = {}): FakeRepo {
  const files = new Map<string, Buffer>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(dir, rel))) {
      const child = rel === '' ? name : `${rel}/${name}`;
      if (statSync(path.join(dir, child)).isDirectory()) walk(child);
      else files.set(child, readFileSync(path.join(dir, child)));
    }
  };
  walk('');
  return repoFromFiles(files, opts);
}

export function repoFromFiles(files: Map<string, Buffer>, opts: { gated?: boolean; sha?: string } = {}): FakeRepo {
  const sha = opts.sha ?? createHash('sha1').update([...files.keys()].sort().join('\n')).digest('hex');
  return { files, refs: new Map([['main', sha]]), sha, gated: opts.gated ?? false };
}

// Hashed once per content: the listing is asked for on every start.
const hashes = new WeakMap<Buffer, { oid: string; sha256: string }>();
function hashed(b: Buffer): { oid: string; sha256: string } {
  let h = hashes.get(b);
  if (h === undefined) {
    h = { oid: createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex'), sha256: createHash('sha256').update(b).digest('hex') };
    hashes.set(b, h);
  }
  return h;
}
const gitOid = (b: Buffer): string => hashed(b).oid;
const sha256 = (b: Buffer): string => hashed(b).sha256;

function entry(file: string, content: Buffer): Record<string, unknown> {
  const base = { type: 'file', oid: gitOid(content), size: content.length, path: file };
  return LFS_RE.test(file) ? { ...base, lfs: { oid: sha256(content), size: content.length, pointerSize: 134 } } : base;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, errorCode?: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...(errorCode === undefined ? {} : { 'x-error-code': errorCode }) });
  res.end(JSON.stringify(body));
}

export async function startFakeHub(repos: Map<string, FakeRepo>, faults: FakeHubFaults = {}): Promise<FakeHub> {
  const requests: string[] = [];
  const downloads = new Map<string, number>();
  const sockets = new Set<Socket>();
  const byLfs = new Map<string, { key: string; content: Buffer }>();
  for (const [id, repo] of repos) for (const [file, content] of repo.files) if (LFS_RE.test(file)) byLfs.set(`${id}/${sha256(content)}`, { key: `${id}/${file}`, content });

  /** `key` is `ORG/NAME/PATH`; faults name the PATH. */
  const sendFile = (req: http.IncomingMessage, res: http.ServerResponse, key: string, content: Buffer, headers: Record<string, string>): void => {
    const file = key.split('/').slice(2).join('/');
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] !== '' ? Math.min(Number(range[2]), content.length - 1) : content.length - 1;
    const body = content.subarray(start, end + 1);
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      ...(range ? { 'content-range': `bytes ${start}-${end}/${content.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const full = body.length === content.length;
    if (full) downloads.set(key, (downloads.get(key) ?? 0) + 1);
    if (full && faults.dropOnce?.file === file) {
      const cut = faults.dropOnce.afterBytes;
      faults.dropOnce = undefined;
      res.write(body.subarray(0, cut), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    const slow = faults.slow;
    if (slow?.file === file && body.length > 1) {
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return void clearInterval(timer);
        res.write(body.subarray(at, at + slow.chunkBytes));
        at += slow.chunkBytes;
        if (at >= body.length) {
          clearInterval(timer);
          res.end();
        }
      }, slow.intervalMs);
      return;
    }
    res.end(body);
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, bodyText: string): void => {
    const url = new URL(req.url ?? '/', 'http://hub');
    const parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
    requests.push(`${req.method} ${url.pathname}${req.headers.range === undefined ? '' : ` ${req.headers.range}`}`);

    if (parts[0] === 'lfs' && parts.length === 4) {
      const blob = byLfs.get(parts.slice(1).join('/'));
      if (blob === undefined) return sendJson(res, 404, { error: 'Entry not found' }, 'EntryNotFound');
      return sendFile(req, res, blob.key, blob.content, { etag: `"${parts[3]}"` });
    }
    const api = parts[0] === 'api' && parts[1] === 'models';
    const [org, name, action, ...rest] = api ? parts.slice(2) : parts;
    const repoId = `${org}/${name}`;
    const repo = repos.get(repoId);
    // Like the Hub: an unknown repo is 401 for anonymous callers, 404 for authenticated ones.
    const auth = req.headers.authorization;
    if (repo === undefined) return sendJson(res, auth ? 404 : 401, { error: 'Repository not found' }, 'RepoNotFound');
    // Revisions: a branch/tag name, or (for the tree and files) a sha; refs like `refs/pr/1` arrive encoded as one part.
    const revision = rest.length > 0 ? rest[0] : '';
    const sha = repo.refs.get(revision) ?? (revision === repo.sha ? repo.sha : undefined);
    if (sha === undefined) return sendJson(res, 404, { error: `Invalid rev id: ${revision}` }, 'RevisionNotFound');
    const fileAllowed = (): boolean => {
      if (!repo.gated) return true;
      if (auth === `Bearer ${GOOD_TOKEN}`) return true;
      const status = auth === undefined ? 401 : 403;
      sendJson(res, status, { error: `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.` }, 'GatedRepo');
      return false;
    };

    if (api && action === 'revision' && req.method === 'GET') {
      return sendJson(res, 200, {
        _id: `id-${name}`,
        id: repoId,
        sha,
        private: false,
        gated: repo.gated ? 'manual' : false,
        downloads: 0,
        likes: 0,
        lastModified: '2026-01-01T00:00:00.000Z',
        siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
      });
    }
    if (api && action === 'tree' && req.method === 'GET') {
      const dirs = new Set<string>();
      for (const file of repo.files.keys()) for (let i = file.indexOf('/'); i >= 0; i = file.indexOf('/', i + 1)) dirs.add(file.slice(0, i));
      return sendJson(res, 200, [
        ...[...dirs].map((d) => ({ type: 'directory', oid: gitOid(Buffer.from(d)), size: 0, path: d })),
        ...[...repo.files].map(([file, content]) => entry(file, content)),
      ]);
    }
    if (api && action === 'paths-info' && req.method === 'POST') {
      if (!fileAllowed()) return;
      const asked = (JSON.parse(bodyText) as { paths: string[] }).paths;
      const lastCommit = { id: sha, title: 'upload', date: '2026-01-01T00:00:00.000Z' };
      return sendJson(res, 200, asked.filter((p) => repo.files.has(p)).map((p) => ({ ...entry(p, repo.files.get(p)!), lastCommit })));
    }
    if (!api && action === 'resolve' && (req.method === 'GET' || req.method === 'HEAD')) {
      if (!fileAllowed()) return;
      const file = rest.slice(1).join('/');
      const content = repo.files.get(file);
      if (content === undefined) return sendJson(res, 404, { error: 'Entry not found' }, 'EntryNotFound');
      const common = { 'x-repo-commit': sha, etag: `"${gitOid(content)}"` };
      if (LFS_RE.test(file)) {
        const oid = sha256(content);
        res.writeHead(302, { ...common, location: `/lfs/${repoId}/${oid}`, 'x-linked-etag': `"${oid}"`, 'x-linked-size': String(content.length) });
        return void res.end();
      }
      return sendFile(req, res, `${repoId}/${file}`, content, common);
    }
    sendJson(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handle(req, res, body));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    repos,
    faults,
    requests,
    downloads: (repo, file) => downloads.get(`${repo}/${file}`) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A URL on a port nothing listens on (connection refused). */
export async function closedPort(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
