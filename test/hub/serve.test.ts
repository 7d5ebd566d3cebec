// `serval serve --model ORG/NAME` end to end against a fake Hub on
// 127.0.0.1: the real CLI in a child process downloads into an empty HF_HOME
// while /health says 503, serves the model under the hub id, serves it again
// from the cache with HF_HUB_OFFLINE=1 and the hub gone; a start killed
// mid-download leaves nothing taken for complete; each failure exits 1 with
// its one-line message.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { fetchHubModel } from '../../src/model/hub/fetch-model.js';
import { silentProgress } from '../../src/model/hub/progress.js';
import { hubSettings } from '../../src/model/hub/settings.js';
import { parseHubSpec } from '../../src/model/hub/spec.js';
import { writeGgufFromFolder } from '../../src/model/testmodels/write-gguf.js';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { tempDir } from '../model/helpers.js';
import { closedPort, repoFromDir, repoFromFiles, startFakeHub, type FakeHub } from './fake-hub.js';
import { hubEnv, spawnServe, type ServeProcess } from './spawn-serve.js';

const root = tempDir(t, 'serval-hub-serve-');
const modelDir = path.join(root, 'tiny');
await writeTestModel('tiny', modelDir);
const encoderDir = path.join(root, 'embed');
await writeTestModel('encoder', encoderDir);
const WEIGHTS = 'model.safetensors';
const weights = readFileSync(path.join(modelDir, WEIGHTS));
const weightsBlob = createHash('sha256').update(weights).digest('hex');

function repos(): Map<string, ReturnType<typeof repoFromDir>> {
  const binOnly = new Map([
    ['config.json', readFileSync(path.join(modelDir, 'config.json'))],
    ['tokenizer.json', readFileSync(path.join(modelDir, 'tokenizer.json'))],
    ['pytorch_model.bin', Buffer.alloc(64, 1)],
  ]);
  return new Map([
    ['test-org/tiny', repoFromDir(modelDir)],
    ['test-org/embed', repoFromDir(encoderDir)],
    ['test-org/gated', repoFromDir(modelDir, { gated: true })],
    ['test-org/bin-only', repoFromFiles(binOnly)],
  ]);
}

const hub: FakeHub = await startFakeHub(repos());
t.teardown(() => hub.close());

async function getJson(base: string, route: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${route}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** A chat completion through the server; returns its text. */
async function chat(base: string, model: string): Promise<string> {
  const { status, json } = await getJson(base, '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 4, temperature: 0 });
  if (status !== 200) throw new Error(`chat: ${status} ${JSON.stringify(json)}`);
  return (json.choices as Array<{ message: { content: string } }>)[0].message.content;
}

function logged(server: ServeProcess, msg: string): Record<string, unknown> | undefined {
  return server.logs.find((l) => l.msg === msg);
}

/** The exit code and the last stderr line of a start that fails. */
async function failedStart(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; message: string }> {
  const server = spawnServe(args, env);
  const { code } = await server.exited;
  const lines = server.stderr().trim().split('\n');
  return { code, message: lines[lines.length - 1] };
}

t.test('--model test-org/tiny: downloads while /health is 503, serves under the hub id (--embedding-model too), then again offline from the cache', async (t) => {
  const home = tempDir(t);
  // Its own hub, stopped halfway.
  const hub = await startFakeHub(repos());
  t.teardown(() => hub.close());
  // Slow enough (~1.5 s) that the server is surely listening while the weights still arrive.
  hub.faults.slow = { file: WEIGHTS, chunkBytes: 16_384, intervalMs: Math.ceil(1500 / Math.ceil(weights.length / 16_384)) };
  // And the connection drops halfway through the tokenizer once: the start recovers.
  const tokenizer = readFileSync(path.join(modelDir, 'tokenizer.json'));
  hub.faults.dropOnce = { file: 'tokenizer.json', afterBytes: Math.floor(tokenizer.length / 2) };
  const server = spawnServe(['--model', 'test-org/tiny', '--embedding-model', 'test-org/embed'], hubEnv({ HF_HOME: home, HF_ENDPOINT: hub.url }));
  t.teardown(() => server.stop());
  const port = await server.listening;
  const base = `http://127.0.0.1:${port}`;
  const during = await fetch(`${base}/health`);
  t.equal(during.status, 503, '/health is 503 while the model downloads');
  await server.ready;
  t.equal(hub.downloads('test-org/tiny', WEIGHTS), 1);
  t.equal(hub.faults.dropOnce, undefined, 'the connection was dropped');
  t.match(logged(server, 'download failed; retrying'), { file: 'tokenizer.json', attempt: 1 });
  t.match(logged(server, 'resuming download'), { file: 'tokenizer.json', bytes: tokenizer.length }, 'and resumes the file');
  t.same(readFileSync(path.join(home, 'hub', 'models--test-org--tiny', 'snapshots', hub.repos.get('test-org/tiny')!.sha, 'tokenizer.json')), tokenizer, 'the retried file is byte-identical');
  t.equal((await fetch(`${base}/health`)).status, 200, '/health is 200 once loaded');
  const models = await getJson(base, '/v1/models');
  t.same(
    (models.json.data as Array<{ id: string }>).map((m) => m.id),
    ['test-org/tiny', 'test-org/embed'],
    '/v1/models reports the hub ids',
  );
  const embedded = await getJson(base, '/v1/embeddings', { model: 'test-org/embed', input: 'hello' });
  t.equal(embedded.status, 200, 'the encoder from the hub answers');
  const text = await chat(base, 'test-org/tiny');
  t.type(text, 'string');
  const sha = hub.repos.get('test-org/tiny')!.sha;
  const from = logged(server, 'model files downloaded from the Hugging Face Hub');
  t.match(from, { model: 'test-org/tiny', revision: 'main', sha, path: path.join(home, 'hub', 'models--test-org--tiny', 'snapshots', sha) }, 'the log says where the files came from');
  t.ok(server.logs.some((l) => l.msg === 'downloading' && l.file === WEIGHTS), 'plain log lines for the download (not a TTY)');
  t.notOk(server.logs.some((l) => 'notJson' in l), 'stdout holds only JSON log lines');
  t.equal(await server.stop(), 0);

  // The same cache, no network: HF_HUB_OFFLINE=1 and the hub stopped.
  const offlineHub = hub.url;
  await hub.close();
  const again = spawnServe(['--model', 'test-org/tiny'], hubEnv({ HF_HOME: home, HF_ENDPOINT: offlineHub, HF_HUB_OFFLINE: '1' }));
  t.teardown(() => again.stop());
  const againBase = `http://127.0.0.1:${await again.ready}`;
  t.match(logged(again, 'model files found in the Hugging Face cache'), { model: 'test-org/tiny', sha, offline: 'HF_HUB_OFFLINE is set' });
  t.equal(await chat(againBase, 'test-org/tiny'), text, 'the cached model answers as the downloaded one did (greedy)');
  t.equal(await again.stop(), 0);
});

t.test('a start stopped (SIGTERM) or killed mid-download leaves nothing a later start takes for complete, and the part resumes', async (t) => {
  const home = tempDir(t);
  const repoDir = path.join(home, 'hub', 'models--test-org--tiny');
  const incomplete = path.join(repoDir, 'blobs', `${weightsBlob}.incomplete`);
  hub.faults.slow = { file: WEIGHTS, chunkBytes: 8192, intervalMs: 100 };
  t.teardown(() => (hub.faults.slow = undefined));
  const env = hubEnv({ HF_HOME: home, HF_ENDPOINT: hub.url });
  // SIGTERM (Ctrl-C) during the download stops it at once: a clean stop, the part kept.
  const first = spawnServe(['--model', 'test-org/tiny'], env);
  t.teardown(() => first.stop());
  while (!existsSync(incomplete) || statSync(incomplete).size === 0) await sleep(20);
  first.child.kill('SIGTERM');
  t.equal((await first.exited).code, 0, 'SIGTERM while downloading: exit 0');
  t.match(first.stderr(), /serval serve: stopped while fetching the model\n$/);
  const afterTerm = statSync(incomplete).size;
  t.ok(afterTerm < weights.length, 'the download stopped with the process, unfinished');
  // SIGKILL: the next start resumes the part, then dies mid-file.
  const server = spawnServe(['--model', 'test-org/tiny'], env);
  t.teardown(() => server.stop());
  while (statSync(incomplete).size <= afterTerm) await sleep(20);
  server.child.kill('SIGKILL');
  await server.exited;
  t.ok(hub.requests.includes(`GET /lfs/test-org/tiny/${weightsBlob} bytes=${afterTerm}-${weights.length - 1}`), 'the second start resumed the first one\'s part');
  t.ok(statSync(incomplete).size < weights.length, 'the kill hit mid-file');
  const sha = hub.repos.get('test-org/tiny')!.sha;
  t.notOk(existsSync(path.join(repoDir, 'blobs', weightsBlob)), 'no blob under the final name');
  t.notOk(existsSync(path.join(repoDir, 'snapshots', sha, WEIGHTS)), 'no snapshot entry for it');
  const offline = await failedStart(['--model', 'test-org/tiny'], { ...env, HF_HUB_OFFLINE: '1' });
  t.equal(offline.code, 1);
  t.match(offline.message, /^serval serve: failed to load the model: HF_HUB_OFFLINE is set, and the cached snapshot \w{12} of test-org\/tiny is incomplete \(.*model\.safetensors.*\): run once with network access to finish the download$/);
  hub.faults.slow = undefined;
  // The next fetch with the network (what the next start runs) downloads it whole.
  const partial = statSync(incomplete).size;
  const before = hub.requests.length;
  const again = await fetchHubModel(parseHubSpec('test-org/tiny')!, { role: 'decoder', settings: hubSettings(env), progress: silentProgress });
  t.equal(again.downloadedFiles, 1, 'only the interrupted file is fetched again');
  t.ok(hub.requests.slice(before).includes(`GET /lfs/test-org/tiny/${weightsBlob} bytes=${partial}-${weights.length - 1}`), 'from where the killed start stopped');
  t.same(readFileSync(path.join(repoDir, 'snapshots', sha, WEIGHTS)), weights, 'byte-identical');
  t.same(readdirSync(path.join(repoDir, 'blobs')).filter((b) => b.endsWith('.incomplete')), []);
});

t.test('failures exit 1 with one line saying what is wrong', async (t) => {
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => hubEnv({ HF_HOME: tempDir(t), HF_ENDPOINT: hub.url, ...extra });
  const prefix = 'serval serve: failed to load the model: ';
  const down = await closedPort();
  const cases: Array<[string, string[], NodeJS.ProcessEnv, RegExp]> = [
    ['unknown repo', ['--model', 'test-org/nope'], env(), /test-org\/nope not found on http:\/\/127\.0\.0\.1:\d+ \(HTTP 401\); a private repo needs HF_TOKEN$/],
    ['unknown revision', ['--model', 'test-org/tiny@v9'], env(), /revision 'v9' not found in test-org\/tiny \(HTTP 404\): give a branch, tag or commit sha that exists$/],
    ['gated without a token', ['--model', 'test-org/gated'], env(), /test-org\/gated is a gated repository \(HTTP 401\): accept its terms on http:\/\/127\.0\.0\.1:\d+\/test-org\/gated and set HF_TOKEN to an access token of that account$/],
    ['no supported weights', ['--model', 'test-org/bin-only'], env(), /test-org\/bin-only has no weights Serval can load \(.*\); the repo has: config\.json, tokenizer\.json, pytorch_model\.bin$/],
    ['network down, empty cache', ['--model', 'test-org/tiny'], env({ HF_ENDPOINT: down }), /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\), and the cache \(.*\) holds no snapshot of test-org\/tiny@main: run once with network access to download it$/],
  ];
  // Started together: each fails before any model loads.
  const [usage, ...results] = await Promise.all([failedStart(['--model', root, '--gguf-file', 'x.gguf'], env()), ...cases.map(([, args, e]) => failedStart(args, e))]);
  cases.forEach(([name, , , pattern], i) => {
    const { code, message } = results[i];
    t.equal(code, 1, `${name}: exit code 1`);
    t.ok(message.startsWith(prefix), `${name}: one message line`);
    t.match(message.slice(prefix.length), pattern, name);
  });
  t.equal(usage.code, 2);
  t.match(usage.message, /--gguf-file needs --model to name a Hugging Face repo, but '.*' is a local path/);
});

t.test('--model test-org/tiny-GGUF:Q4_0 downloads only that quantisation and serves it as the local .gguf would be', async (t) => {
  const home = tempDir(t);
  const ggufDir = tempDir(t, 'serval-hub-gguf-');
  const files = new Map<string, Buffer>();
  for (const type of ['F32', 'Q4_0'] as const) {
    const file = path.join(ggufDir, `tiny-${type}.gguf`);
    await writeGgufFromFolder(modelDir, file, type);
    files.set(`tiny-${type}.gguf`, readFileSync(file));
  }
  const ggufHub = await startFakeHub(new Map([['test-org/tiny-GGUF', repoFromFiles(files)]]));
  t.teardown(() => ggufHub.close());
  const server = spawnServe(['--model', 'test-org/tiny-GGUF:Q4_0'], hubEnv({ HF_HOME: home, HF_ENDPOINT: ggufHub.url }));
  t.teardown(() => server.stop());
  const base = `http://127.0.0.1:${await server.ready}`;
  t.equal(ggufHub.downloads('test-org/tiny-GGUF', 'tiny-Q4_0.gguf'), 1, 'the chosen file was downloaded');
  t.equal(ggufHub.downloads('test-org/tiny-GGUF', 'tiny-F32.gguf'), 0, 'the other quantisation was not');
  const models = await getJson(base, '/v1/models');
  t.same((models.json.data as Array<{ id: string }>).map((m) => m.id), ['test-org/tiny-GGUF:Q4_0'], 'served under the id as given');
  const fromHub = await chat(base, 'test-org/tiny-GGUF:Q4_0');
  t.equal(await server.stop(), 0);

  // The same file served from disk gives the same greedy answer.
  const local = spawnServe(['--model', path.join(ggufDir, 'tiny-Q4_0.gguf')], hubEnv({ HF_HOME: home, HF_HUB_OFFLINE: '1' }));
  t.teardown(() => local.stop());
  const localBase = `http://127.0.0.1:${await local.ready}`;
  t.equal(await chat(localBase, 'tiny-Q4_0'), fromHub, 'same greedy text as the local .gguf');
  t.equal(await local.stop(), 0);
});
