// What Serval's Hub path costs over a bare download: one large file from the
// fake Hub on 127.0.0.1, (a) streamed to disk with fetch alone, (b) through
// fetchHubModel into an empty cache (metadata calls, @huggingface/hub's
// probe and stream, progress polling, size check), then (c) the same id again
// with everything cached (metadata only) and (d) offline (no request).
// Alternated, best of N each. Usage: node dist/bench/hub-download.js [MB] [rounds]

import { randomFillSync } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { fetchHubModel } from '../src/model/hub/fetch-model.js';
import { silentProgress } from '../src/model/hub/progress.js';
import { parseHubSpec } from '../src/model/hub/spec.js';
import { repoFromFiles, startFakeHub } from '../test/hub/fake-hub.js';

const mb = Number(process.argv[2] ?? 128);
const rounds = Number(process.argv[3] ?? 3);
const FILE = 'big-Q8_0.gguf';
const content = randomFillSync(Buffer.alloc(mb * 1_000_000));
const repo = repoFromFiles(new Map([[FILE, content]]));
const hub = await startFakeHub(new Map([['bench/big-GGUF', repo]]));
const spec = parseHubSpec('bench/big-GGUF:Q8_0')!;
const root = mkdtempSync(path.join(os.tmpdir(), 'serval-bench-hub-'));

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const best = { plain: Infinity, hub: Infinity, cached: Infinity, offline: Infinity };
for (let r = 0; r < rounds; r++) {
  const dir = mkdtempSync(path.join(root, 'r'));
  const settings = { endpoint: hub.url, token: null, offline: false, cacheDir: path.join(dir, 'hub') };
  best.plain = Math.min(
    best.plain,
    await timed(async () => {
      const res = await fetch(`${hub.url}/bench/big-GGUF/resolve/main/${FILE}`);
      await pipeline(Readable.fromWeb(res.body as ReadableStream), createWriteStream(path.join(dir, 'plain.bin')));
    }),
  );
  best.hub = Math.min(best.hub, await timed(() => fetchHubModel(spec, { role: 'decoder', settings, progress: silentProgress })));
  best.cached = Math.min(best.cached, await timed(() => fetchHubModel(spec, { role: 'decoder', settings, progress: silentProgress })));
  best.offline = Math.min(best.offline, await timed(() => fetchHubModel(spec, { role: 'decoder', settings: { ...settings, offline: true }, progress: silentProgress })));
  rmSync(dir, { recursive: true, force: true });
}
const rate = (ms: number): string => `${((mb * 1000) / ms).toFixed(0)} MB/s`;
console.log(`${mb} MB file, best of ${rounds}:`);
console.log(`  fetch → file            ${best.plain.toFixed(0)} ms  ${rate(best.plain)}`);
console.log(`  fetchHubModel (empty)   ${best.hub.toFixed(0)} ms  ${rate(best.hub)}  (${(best.hub / best.plain).toFixed(2)}x the bare download)`);
console.log(`  fetchHubModel (cached)  ${best.cached.toFixed(1)} ms  (metadata: revision + tree)`);
console.log(`  fetchHubModel (offline) ${best.offline.toFixed(1)} ms  (no request)`);
await hub.close();
rmSync(root, { recursive: true, force: true });
