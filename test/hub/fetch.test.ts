// Fetching from a (fake, local) Hub into the Hugging Face cache in-process:
// the cache layout huggingface_hub uses, only the needed files, recovery
// from a dropped connection, gated repos with a token, GGUF selection, and
// the cache alone when offline.

import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { snapshotFiles } from '../../src/model/hub/cache.js';
import { fetchHubModel, type HubFetchOptions } from '../../src/model/hub/fetch-model.js';
import { HubError } from '../../src/model/hub/errors.js';
import { formatBytes, logProgress, silentProgress, terminalProgress, type DownloadProgress } from '../../src/model/hub/progress.js';
import { parseHubSpec, type HubSpec } from '../../src/model/hub/spec.js';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { tempDir } from '../model/helpers.js';
import { closedPort, GOOD_TOKEN, repoFromDir, repoFromFiles, startFakeHub, type FakeHub } from './fake-hub.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

function spec(id: string): HubSpec {
  const s = parseHubSpec(id);
  if (s === null) throw new Error(`not a hub id: ${id}`);
  return s;
}

/** Records progress calls. */
function recorder(): DownloadProgress & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    start: (file, total) => events.push(`start ${file} ${total}`),
    update: () => undefined,
    done: (file, bytes) => events.push(`done ${file} ${bytes}`),
    retry: (file, attempt) => events.push(`retry ${file} ${attempt}`),
  };
}

const root = tempDir(t, 'serval-hub-');
const modelDir = path.join(root, 'model');
// Sharded so the index path (index first, then the shards it names) is exercised.
await writeTestModel('tiny', modelDir, { shardBytes: 200_000 });
const tiny = repoFromDir(modelDir);
tiny.files.set('README.md', Buffer.from('# tiny\n'));
tiny.files.set('pytorch_model.bin', Buffer.alloc(1000, 7));
const ggufFiles = new Map<string, Buffer>([
  ['tiny-Q4_K_M.gguf', Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(3000, 1)])],
  ['tiny-Q8_0.gguf', Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(5000, 2)])],
  ['mmproj-tiny-F16.gguf', Buffer.alloc(100, 3)],
  ['README.md', Buffer.from('# gguf\n')],
]);
const hub: FakeHub = await startFakeHub(
  new Map([
    ['test-org/tiny', tiny],
    ['test-org/gated', repoFromDir(modelDir, { gated: true, sha: 'a'.repeat(40) })],
    ['test-org/tiny-GGUF', repoFromFiles(ggufFiles)],
  ]),
);
t.teardown(() => hub.close());
const shards = [...tiny.files.keys()].filter((f) => f.endsWith('.safetensors')).sort();

function options(cacheDir: string, extra: Partial<HubFetchOptions> & { token?: string; offline?: boolean; endpoint?: string } = {}): HubFetchOptions {
  return {
    role: 'decoder',
    settings: { endpoint: extra.endpoint ?? hub.url, token: extra.token ?? null, offline: extra.offline ?? false, cacheDir },
    progress: extra.progress ?? silentProgress,
    ggufFile: extra.ggufFile ?? null,
  };
}

t.test('downloads the needed files into the huggingface_hub cache layout, then serves them from the cache', async (t) => {
  t.ok(shards.length >= 2, 'the test model is sharded');
  const cache = tempDir(t);
  const progress = recorder();
  const got = await fetchHubModel(spec('test-org/tiny'), options(cache, { progress }));
  const repoDir = path.join(cache, 'models--test-org--tiny');
  t.equal(readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8'), tiny.sha, 'refs/main holds the commit sha');
  t.equal(got.sha, tiny.sha);
  t.equal(got.path, path.join(repoDir, 'snapshots', tiny.sha));
  t.equal(got.kind, 'folder');
  t.equal(got.source, 'download');
  const wanted = [...tiny.files.keys()].filter((f) => f !== 'README.md' && f !== 'pytorch_model.bin').sort();
  t.same(readdirSync(got.path).sort(), wanted, 'config, tokenizer files, index and shards; no README or .bin');
  t.equal(got.downloadedFiles, wanted.length);
  for (const file of wanted) {
    const content = tiny.files.get(file)!;
    const link = path.join(got.path, file);
    t.ok(lstatSync(link).isSymbolicLink(), `${file} is a link`);
    const etag = file.endsWith('.safetensors') ? sha256(content) : gitOid(content);
    t.equal(readlinkSync(link), path.join('..', '..', 'blobs', etag), `${file} → ../../blobs/<etag> (relative, as huggingface_hub links)`);
    t.same(readFileSync(link), content, `${file} is byte-identical`);
  }
  t.same(
    readdirSync(path.join(repoDir, 'blobs')).filter((b) => b.endsWith('.incomplete')),
    [],
    'no .incomplete blob left',
  );
  t.same(progress.events.filter((e) => e.startsWith('done')).length, wanted.length, 'progress reports every file');

  const before = hub.requests.length;
  const again = await fetchHubModel(spec('test-org/tiny'), options(cache));
  t.equal(again.source, 'cache');
  t.equal(again.downloadedFiles, 0);
  t.notOk(hub.requests.slice(before).some((r) => r.includes('/resolve/') || r.startsWith('GET /lfs/')), 'no file fetched again');

  // Offline: no request at all.
  const offlineBefore = hub.requests.length;
  const offline = await fetchHubModel(spec('test-org/tiny'), options(cache, { offline: true }));
  t.equal(offline.path, got.path);
  t.equal(offline.offlineReason, 'HF_HUB_OFFLINE is set');
  t.equal(hub.requests.length, offlineBefore, 'HF_HUB_OFFLINE: the hub is not asked');
  // A pinned commit sha is immutable: found in the cache without asking either.
  await fetchHubModel(spec(`test-org/tiny@${tiny.sha}`), options(cache));
  t.equal(hub.requests.length, offlineBefore, 'a cached commit sha needs no request');
});

t.test('a connection dropped mid-file: the download resumes where it stopped and ends byte-identical', async (t) => {
  const cache = tempDir(t);
  const file = shards[0];
  const content = tiny.files.get(file)!;
  const cut = Math.floor(content.length / 2);
  hub.faults.dropOnce = { file, afterBytes: cut };
  const before = hub.requests.length;
  const progress = recorder();
  const got = await fetchHubModel(spec('test-org/tiny'), options(cache, { progress }));
  t.equal(hub.faults.dropOnce, undefined, 'the fault fired');
  t.same(progress.events.filter((e) => e.startsWith('retry')), [`retry ${file} 1`]);
  const blobUrl = `/lfs/test-org/tiny/${sha256(content)}`;
  const gets = hub.requests.slice(before).filter((r) => r.startsWith(`GET ${blobUrl}`) && r !== `GET ${blobUrl} bytes=0-0`);
  t.equal(gets.length, 2, 'the cut request and one more');
  const resumedAt = Number(/ bytes=(\d+)-/.exec(gets[1])?.[1]);
  t.ok(resumedAt > 0 && resumedAt <= cut, `the second asks for the rest only (from byte ${resumedAt} of ${content.length})`);
  t.same(readFileSync(path.join(got.path, file)), content, 'byte-identical');
  t.same(readdirSync(path.join(cache, 'models--test-org--tiny', 'blobs')).filter((b) => b.endsWith('.incomplete')), []);
});

t.test('gated repo: refused without a token, downloaded with HF_TOKEN', async (t) => {
  const cache = tempDir(t);
  const err = await fetchHubModel(spec('test-org/gated'), options(cache)).catch((e: unknown) => e);
  t.type(err, HubError);
  t.match((err as Error).message, /^test-org\/gated is a gated repository \(HTTP 401\): accept its terms on http:\/\/127\.0\.0\.1:\d+\/test-org\/gated and set HF_TOKEN/);
  const wrong = await fetchHubModel(spec('test-org/gated'), options(cache, { token: 'hf_wrong' })).catch((e: unknown) => e);
  t.match((wrong as Error).message, /gated repository and the token in HF_TOKEN has no access to it \(HTTP 403\)/);
  const got = await fetchHubModel(spec('test-org/gated'), options(cache, { token: GOOD_TOKEN }));
  t.equal(got.source, 'download');
  t.same(readFileSync(path.join(got.path, 'config.json')), readFileSync(path.join(modelDir, 'config.json')));
});

t.test('GGUF repo: ORG/REPO:QUANT and --gguf-file download that one file and return its path', async (t) => {
  const cache = tempDir(t);
  const before = hub.requests.length;
  const got = await fetchHubModel(spec('test-org/tiny-GGUF:Q4_K_M'), options(cache));
  t.equal(got.kind, 'gguf');
  t.equal(got.path, path.join(cache, 'models--test-org--tiny-GGUF', 'snapshots', got.sha, 'tiny-Q4_K_M.gguf'));
  t.same(readFileSync(got.path), ggufFiles.get('tiny-Q4_K_M.gguf'));
  t.same(readdirSync(path.dirname(got.path)), ['tiny-Q4_K_M.gguf'], 'only the chosen file');
  const fetched = hub.requests.slice(before).filter((r) => r.startsWith('GET /lfs/') || r.includes('/resolve/'));
  t.ok(fetched.length > 0 && fetched.every((r) => r.includes('tiny-Q4_K_M.gguf') || r.includes(sha256(ggufFiles.get('tiny-Q4_K_M.gguf')!))), 'no other file requested');

  const named = await fetchHubModel(spec('test-org/tiny-GGUF'), options(cache, { ggufFile: 'tiny-Q8_0.gguf' }));
  t.same(readFileSync(named.path), ggufFiles.get('tiny-Q8_0.gguf'));
  t.equal(realpathSync(named.path), path.join(cache, 'models--test-org--tiny-GGUF', 'blobs', sha256(ggufFiles.get('tiny-Q8_0.gguf')!)));

  const err = await fetchHubModel(spec('test-org/tiny-GGUF:Q2_K'), options(cache)).catch((e: unknown) => e);
  t.equal((err as Error).message, 'test-org/tiny-GGUF has no Q2_K GGUF file; available quantisations: Q8_0, Q4_K_M');
});

t.test('Hub unreachable: the cache answers, or the error says it is empty for that id', async (t) => {
  const cache = tempDir(t);
  const down = await closedPort();
  const err = await fetchHubModel(spec('test-org/tiny'), options(cache, { endpoint: down })).catch((e: unknown) => e);
  t.type(err, HubError);
  t.match((err as Error).message, /^cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\), and the cache \(.*\) holds no snapshot of test-org\/tiny@main: run once with network access/);
  await fetchHubModel(spec('test-org/tiny'), options(cache));
  const cached = await fetchHubModel(spec('test-org/tiny'), options(cache, { endpoint: down }));
  t.equal(cached.source, 'cache');
  t.equal(cached.offlineReason, `cannot reach ${down} (ECONNREFUSED)`);
});

t.test('an encoder repo (--embedding-model): the sentence-transformers files come along', async (t) => {
  const dir = path.join(tempDir(t), 'embed');
  await writeTestModel('encoder', dir);
  const repo = repoFromDir(dir);
  const own = await startFakeHub(new Map([['test-org/embed', repo]]));
  t.teardown(() => own.close());
  const cache = tempDir(t);
  const got = await fetchHubModel(spec('test-org/embed'), { ...options(cache, { endpoint: own.url }), role: 'encoder' });
  t.same(await snapshotFiles(got.path), [...repo.files.keys()].sort(), 'every file of the sentence-transformers folder');
  t.ok(repo.files.has('modules.json') && [...repo.files.keys()].some((f) => /^\d+_Pooling\/config\.json$/.test(f)), 'modules.json and the pooling config are among them');
});

t.test('progress: log lines at start, every interval and at the end; a redrawn line on a terminal', async (t) => {
  let now = 0;
  const lines: Array<[object, string]> = [];
  const log = { info: (o: object, m: string) => lines.push([o, m]), warn: (o: object, m: string) => lines.push([o, m]) };
  const p = logProgress(log, 10_000, () => now);
  p.start('model.safetensors', 1_000_000);
  now = 5_000;
  p.update('model.safetensors', 250_000);
  now = 10_000;
  p.update('model.safetensors', 500_000);
  now = 20_000;
  p.done('model.safetensors', 1_000_000);
  t.same(lines, [
    [{ file: 'model.safetensors', bytes: 1_000_000 }, 'downloading'],
    [{ file: 'model.safetensors', done: 500_000, total: 1_000_000, bytesPerSecond: 50_000, etaSeconds: 10 }, 'download progress'],
    [{ file: 'model.safetensors', bytes: 1_000_000, seconds: 20 }, 'downloaded'],
  ]);
  let written = '';
  const out = { write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
  now = 0;
  const bar = terminalProgress(out, () => now);
  bar.start('a.gguf', 2_000_000);
  now = 2_000;
  bar.update('a.gguf', 1_000_000);
  t.match(written, /\r\x1b\[Ka\.gguf \[#{10}\.{10}\] 1\.0 MB \/ 2\.0 MB 50% 500\.0 kB\/s ETA 00:02$/);
  now = 4_000;
  bar.done('a.gguf', 2_000_000);
  t.match(written, /2\.0 MB \/ 2\.0 MB 100% 500\.0 kB\/s in 00:04\n$/);
  t.equal(formatBytes(417.17), '417 B', 'whole bytes below 1 kB');
  t.equal(formatBytes(1_234_567_890), '1.2 GB');
});
