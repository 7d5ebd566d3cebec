// Where does an embeddings flood's memory go? Tokenizes 2,048 texts of ~820
// characters (the probe's request: 16 of these were 27 MB of bodies) with each
// tokenizer library, all at once vs in chunks, and prints RSS and heap before,
// right after, and after a GC and 3 s idle. Run each mode in a fresh process:
//
//   npm run build && node --expose-gc dist/bench/tokenize-memory.js --backend rust|js --mode all|chunked|sync-chunked [--requests 16]

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadEncoderFolder } from '../src/model/folder.js';
import { writeTestModel } from '../src/model/testmodels/write-model.js';
import { TextTokenizer } from '../src/tokenizer/tokenizer.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'rust' },
    mode: { type: 'string', default: 'all' },
    requests: { type: 'string', default: '1' },
    inputs: { type: 'string', default: '2048' },
    chunk: { type: 'string', default: '64' },
  },
});
const backend = values.backend as 'rust' | 'js';
const requests = Number(values.requests);
const inputs = Number(values.inputs);
const chunk = Number(values.chunk);

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MiB`;
const snapshot = (label: string): void => {
  const m = process.memoryUsage();
  console.log(`${label.padEnd(16)} rss ${mib(m.rss).padStart(9)}  heap ${mib(m.heapUsed).padStart(8)}  external ${mib(m.external).padStart(8)}`);
};

const dir = await mkdtemp(path.join(os.tmpdir(), 'serval-tokmem-'));
try {
  await writeTestModel('encoder', dir);
  const folder = await loadEncoderFolder(dir);
  const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath: folder.tokenizerJsonPath, tokenizerConfig: folder.tokenizerConfig, backend });
  const words = 'the quick brown fox jumps over a lazy dog while serval cats watch from tall grass near the river bank'.split(' ');
  const text = (i: number): string => Array.from({ length: 150 }, (_, k) => words[(i * 7 + k * 13) % words.length]).join(' ');
  const bodies = Array.from({ length: requests }, (_, r) => Array.from({ length: inputs }, (_, i) => text(r * inputs + i)));
  globalThis.gc?.();
  snapshot('before');
  let lag = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    lag = Math.max(lag, now - last - 10);
    last = now;
  }, 10);
  const start = performance.now();
  let tokens = 0;
  await Promise.all(
    bodies.map(async (texts) => {
      if (values.mode === 'all') {
        const ids = await Promise.all(texts.map((t) => tokenizer.encode(t, { addSpecialTokens: true })));
        for (const seq of ids) tokens += seq.length;
      } else {
        for (let i = 0; i < texts.length; i += chunk) {
          const ids = await Promise.all(texts.slice(i, i + chunk).map((t) => tokenizer.encode(t, { addSpecialTokens: true })));
          for (const seq of ids) tokens += seq.length;
          await new Promise((r) => setImmediate(r));
        }
      }
    }),
  );
  const ms = performance.now() - start;
  clearInterval(probe);
  snapshot('after');
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 3000));
  globalThis.gc?.();
  snapshot('gc + 3 s idle');
  console.log(`${backend} ${values.mode}: ${requests} x ${inputs} texts, ${tokens} tokens in ${ms.toFixed(0)} ms; worst event-loop lag ${lag.toFixed(0)} ms`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
