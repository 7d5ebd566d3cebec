// Shared by the embeddings tests: the built-in encoder written to a temp
// folder, served over real HTTP, plus the TypeScript reference as the oracle.

import '../support/thread-loaders.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import type { EmbeddingModelOptions } from '../../src/front/embeddings/encoder-serving.js';
import type { LoadedEmbeddingModel } from '../../src/front/embeddings/load-embedding-model.js';
import type { HttpServer } from '../../src/front/server.js';
import { startServer } from '../../src/front/start-server.js';
import { loadEncoderFolder } from '../../src/model/folder.js';
import { l2Normalize, poolHidden, ReferenceEncoder } from '../../src/model/reference/bert-reference.js';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import type { SentenceTransformerConfig } from '../../src/model/types.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { testTransport } from '../support/transport.js';

export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes the built-in tiny encoder (sentence-transformers layout) into `dir`. */
export async function writeEncoder(dir: string): Promise<string> {
  await writeTestModel('encoder', dir);
  return dir;
}

/** The oracle: reference forward + sentence-transformers pooling + normalisation, over token ids. */
export class ReferenceEmbedder {
  private constructor(
    readonly encoder: ReferenceEncoder,
    readonly sentence: SentenceTransformerConfig,
    readonly tokenizer: TextTokenizer,
  ) {}

  static async load(dir: string): Promise<ReferenceEmbedder> {
    const folder = await loadEncoderFolder(dir);
    if (folder.weights === null) throw new Error('reference needs safetensors weights');
    const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath: folder.tokenizerJsonPath, tokenizerConfig: folder.tokenizerConfig });
    return new ReferenceEmbedder(new ReferenceEncoder(folder.config, folder.weights), folder.sentence, tokenizer);
  }

  ids(text: string): Promise<number[]> {
    return this.tokenizer.encode(text, { addSpecialTokens: true });
  }

  embedIds(ids: number[]): Float32Array {
    const states = this.encoder.forward({ inputIds: ids });
    const pooled = poolHidden(states, ids.map(() => 1), this.sentence.pooling);
    return this.sentence.normalize ? l2Normalize(pooled) : pooled;
  }

  async embed(text: string): Promise<Float32Array> {
    return this.embedIds(await this.ids(text));
  }
}

export interface EmbeddingServer {
  base: string;
  client: OpenAI;
  server: HttpServer;
  model: LoadedEmbeddingModel;
  close(): Promise<void>;
}

/** A real HTTP server serving only the embedding model at `dir`, started as `serval serve --model none` starts one. */
export async function startEmbeddingServer(dir: string, extra: Partial<EmbeddingModelOptions> = {}): Promise<EmbeddingServer> {
  const served = await startServer({
    chat: null,
    embedding: { modelDir: dir, intraOpThreads: 1, spinning: false, ...extra },
    http: { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 22, transport: testTransport() },
  });
  const base = `http://127.0.0.1:${served.port}`;
  return {
    base,
    client: new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 }),
    server: served.server,
    model: served.embedding!,
    close: () => served.close(),
  };
}

export { maxAbsDiff } from '../support/compare.js';

export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Deterministic sentences of 1..maxWords words from a small vocabulary. */
export function sentences(count: number, maxWords: number, seed = 1): string[] {
  const words = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'serval', 'cat', 'runs', 'fast', 'model', 'server', 'token', 'embedding'];
  let x = seed;
  const next = (): number => (x = (x * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: count }, () => {
    const n = 1 + (next() % maxWords);
    return Array.from({ length: n }, () => words[next() % words.length]).join(' ');
  });
}
