// Embeddings throughput: 256 inputs of mixed length through the HTTP server
// (a `serval serve --model none` child process) against the raw ORT forward
// of the same batches in this process (same graph, same session options, no
// HTTP, no tokenisation). Target: HTTP ≥ 0.9 × raw.
//
//   node dist/bench/embeddings.js [--preset minilm|tiny] [--inputs 256] [--rounds 3] [--threads 2] [--window-ms 2]
//
// Presets: `tiny` is the built-in encoder (H 64, 2 layers, max 128 tokens);
// `minilm` has all-MiniLM-L6-v2's shape (H 384, 6 layers, 12 heads, FFN 1536)
// with random weights, the built-in WordPiece vocabulary and max 128 tokens
// (~3 s of forward per 256 inputs on 2 quiet cores).
// Modes: one request carrying all inputs; every input as its own concurrent
// request (cross-request batching); 32 concurrent requests of 8 inputs.

import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EmbeddingBatcher } from '../src/front/embeddings/batcher.js';
import { EMBEDDING_DEFAULTS } from '../src/front/embeddings/encoder-serving.js';
import { loadEncoderFolder } from '../src/model/folder.js';
import { writeSafetensors, type TensorToWrite } from '../src/model/safetensors.js';
import { ENCODER_PRESET } from '../src/model/testmodels/presets.js';
import { randomEncoderWeights } from '../src/model/testmodels/random-weights.js';
import { buildEncoderTokenizerConfig, buildEncoderTokenizerJson } from '../src/model/testmodels/tokenizer-files.js';
import { encoderConfigJson, writeTestModel } from '../src/model/testmodels/write-model.js';
import type { EncoderConfig } from '../src/model/types.js';
import { TextTokenizer } from '../src/tokenizer/tokenizer.js';
import { loadEncoder } from '../src/worker/encoder/load-encoder.js';
import type { EncoderBatch } from '../src/worker/encoder/types.js';

const { values: args } = parseArgs({
  options: {
    preset: { type: 'string', default: 'minilm' },
    inputs: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    'window-ms': { type: 'string', default: String(EMBEDDING_DEFAULTS.batchWindowMs) },
  },
});
const preset = args.preset === 'tiny' ? 'tiny' : 'minilm';
const inputCount = Number(args.inputs);
const rounds = Number(args.rounds);
const threads = Number(args.threads);
const windowMs = Number(args['window-ms']);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const MINILM: EncoderConfig = { ...ENCODER_PRESET, hiddenSize: 384, numLayers: 6, numHeads: 12, intermediateSize: 1536, maxPositionEmbeddings: 512 };

async function writeMiniLm(dir: string, maxSeqLength: number): Promise<void> {
  await writeTestModel('encoder', dir); // tokenizer, modules, pooling (mean) + Normalize
  const c = MINILM;
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(encoderConfigJson(c, 'F32')));
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(buildEncoderTokenizerJson(c.vocabSize, maxSeqLength)));
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(buildEncoderTokenizerConfig(maxSeqLength)));
  await writeFile(path.join(dir, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: maxSeqLength, do_lower_case: false }));
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, t] of randomEncoderWeights(c, 7)) tensors.set(name, { dtype: 'F32', shape: t.shape, data: t.data });
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
}

/** Mixed-length English-ish inputs: 1 … ~0.9 × max tokens. */
function mixedInputs(count: number, maxWords: number): string[] {
  const words = 'the quick brown fox jumps over lazy dog serval cat runs fast model server token embedding search query answer document'.split(' ');
  let x = 12345;
  const next = (): number => (x = (x * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: count }, () => Array.from({ length: 1 + (next() % maxWords) }, () => words[next() % words.length]).join(' '));
}

/** The batches the server's batcher forms for one request carrying all inputs. */
async function batchesOf(sequences: number[][]): Promise<EncoderBatch[]> {
  const batches: EncoderBatch[] = [];
  const batcher = new EmbeddingBatcher(
    async (batch) => {
      batches.push(batch);
      return { embeddings: new Float32Array(batch.offsets.length - 1), dimensions: 1 };
    },
    { windowMs: 0, maxBatchInputs: EMBEDDING_DEFAULTS.maxBatchInputs, maxBatchTokens: EMBEDDING_DEFAULTS.maxBatchTokens, maxInFlight: 1 },
  );
  await batcher.submit(sequences);
  return batches;
}

interface Server {
  base: string;
  stop(): Promise<void>;
}

function startServer(dir: string): Promise<Server> {
  const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const child = spawn(
    process.execPath,
    [cli, 'serve', '--port', '0', '--model', 'none', '--embedding-model', dir, '--embedding-model-name', 'bench-embed',
      '--embedding-threads', String(threads), '--embedding-batch-window-ms', String(windowMs), '--log-level', 'info'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  process.once('exit', () => child.kill('SIGTERM')); // never leave the server behind
  let out = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
    child.stdout!.on('data', async (chunk: Buffer) => {
      const before = out;
      out += chunk.toString();
      if (/"msg":"ready"/.test(out) && !/"msg":"ready"/.test(before)) {
        const port = /"port":(\d+),"msg":"HTTP server listening"/.exec(out)![1];
        resolve({
          base: `http://127.0.0.1:${port}`,
          stop: () =>
            new Promise<void>((done) => {
              child.removeAllListeners('exit');
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    });
  });
}

// node:http with keep-alive: a lighter client than fetch, so the client's own
// per-request CPU (it shares the machine with the server) skews less.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One retry: the server may close an idle keep-alive socket just as the client reuses it. */
async function embed(base: string, input: string | string[]): Promise<number> {
  try {
    return await embedOnce(base, input);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
    return embedOnce(base, input);
  }
}

function embedOnce(base: string, input: string | string[]): Promise<number> {
  const url = new URL(`${base}/v1/embeddings`);
  const body = JSON.stringify({ model: 'bench-embed', input, encoding_format: 'base64' });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: unknown[]; error?: { message: string } };
          if (res.statusCode !== 200 || !json.data) reject(new Error(`HTTP ${res.statusCode}: ${json.error?.message}`));
          else resolve(json.data.length);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'serval-bench-emb-'));
  const dir = path.join(root, preset);
  await mkdir(dir, { recursive: true });
  const maxSeq = 128;
  if (preset === 'tiny') await writeTestModel('encoder', dir);
  else await writeMiniLm(dir, maxSeq);
  const folder = await loadEncoderFolder(dir);
  const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath: folder.tokenizerJsonPath, tokenizerConfig: folder.tokenizerConfig });
  // Lengths spread over 1 … max_seq_length tokens; inputs that come out too long lose words until they fit.
  const inputs = mixedInputs(inputCount, maxSeq - 2);
  const sequences: number[][] = [];
  for (let i = 0; i < inputs.length; i++) {
    for (;;) {
      const ids = await tokenizer.encode(inputs[i], { addSpecialTokens: true });
      if (ids.length <= maxSeq) {
        sequences.push(ids);
        break;
      }
      inputs[i] = inputs[i].split(' ').slice(0, -Math.ceil((ids.length - maxSeq) / 2) - 1).join(' ');
    }
  }
  const tokens = sequences.reduce((a, s) => a + s.length, 0);
  const batches = await batchesOf(sequences);
  const padded = batches.reduce((a, b) => a + (b.offsets.length - 1) * Math.max(...Array.from({ length: b.offsets.length - 1 }, (_, r) => b.offsets[r + 1] - b.offsets[r])), 0);

  const raw = await loadEncoder({ modelDir: dir, executionProvider: 'cpu', intraOpThreads: threads, spinning: false, task: 'embedding' }); // as the server's encoder workers
  const server = await startServer(dir);
  try {
    // Warm-up: sessions, tokenizer, HTTP connections.
    for (const b of batches) await raw.runner.run(b);
    await embed(server.base, inputs);
    const results: Record<string, number[]> = { raw: [], one: [], single: [], eight: [] };
    for (let r = 0; r < rounds; r++) {
      // Interleaved so machine noise hits every mode alike.
      results.raw.push(await timed(async () => {
        for (const b of batches) await raw.runner.run(b);
      }));
      results.one.push(await timed(() => embed(server.base, inputs)));
      results.single.push(await timed(() => Promise.all(inputs.map((text) => embed(server.base, text)))));
      results.eight.push(await timed(() => Promise.all(Array.from({ length: Math.ceil(inputs.length / 8) }, (_, i) => embed(server.base, inputs.slice(i * 8, i * 8 + 8))))));
      process.stderr.write(`round ${r + 1}/${rounds}: ${Object.entries(results).map(([k, v]) => `${k} ${v[r].toFixed(0)} ms`).join(', ')}\n`);
    }
    const rate = (ms: number): number => (inputs.length / ms) * 1000;
    const rawRate = rate(median(results.raw));
    console.log(`preset ${preset}: ${inputs.length} inputs, ${tokens} tokens (${padded} padded in ${batches.length} batches of ≤ ${EMBEDDING_DEFAULTS.maxBatchInputs}), threads ${threads}, window ${windowMs} ms, load ${loadavg()[0].toFixed(2)}`);
    console.log('mode                                   median ms   embeddings/s   vs raw');
    const row = (name: string, ms: number): void =>
      console.log(`${name.padEnd(38)} ${ms.toFixed(1).padStart(9)}   ${rate(ms).toFixed(0).padStart(12)}   ${(rate(ms) / rawRate).toFixed(2).padStart(6)}`);
    row('raw ORT forward (same batches)', median(results.raw));
    row('HTTP, 1 request x 256 inputs', median(results.one));
    row('HTTP, 256 concurrent 1-input requests', median(results.single));
    row('HTTP, 32 concurrent 8-input requests', median(results.eight));
  } finally {
    agent.destroy();
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
