// The hostile clients bench:soak mixes into its steady load (--hostile): an
// embeddings flood (requests of 2,048 texts of ~800 characters), clients that
// send a new JSON schema with every request (a grammar compile each), one
// client that keeps sending 64-prompt completions, and a canary — a 4-token
// chat every 500 ms — whose time to first token is what the others must not
// ruin. 429s are expected answers here (admission doing its job), not errors.

import http from 'node:http';
import { percentile } from './workload.js';

export interface HostileOptions {
  port: number;
  deadline: number;
  chatModel: string;
  embeddingModel: string;
  floodClients: number;
  schemaClients: number;
}

export interface HostileReport {
  /** status → count, per kind of client. */
  statuses: Record<string, Record<string, number>>;
  canaryTtftMs: { p50: number; p99: number; max: number; samples: number };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** POSTs a JSON body; resolves with the status and when the first body byte arrived. */
function send(agent: http.Agent, port: number, route: string, body: string): Promise<{ status: number; firstMs: number }> {
  return new Promise((resolve) => {
    const start = performance.now();
    let firstMs = -1;
    const req = http.request(
      { host: '127.0.0.1', port, path: route, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.on('data', (chunk: Buffer) => {
          if (firstMs < 0 && chunk.includes('"content":"')) firstMs = performance.now() - start;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, firstMs }));
        res.on('error', () => resolve({ status: -1, firstMs }));
      },
    );
    req.on('error', () => resolve({ status: -1, firstMs }));
    req.end(body);
  });
}

export async function runHostileClients(options: HostileOptions): Promise<HostileReport> {
  const { port, deadline } = options;
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.floodClients + options.schemaClients + 4 });
  const statuses: Record<string, Record<string, number>> = { embeddingFlood: {}, distinctSchemas: {}, manyPrompts: {}, canary: {} };
  const count = (kind: string, status: number): void => {
    statuses[kind][status] = (statuses[kind][status] ?? 0) + 1;
  };
  const text = (i: number): string => `text ${i} about the serval, a wild cat of the savanna with long legs and large ears. `.repeat(10).slice(0, 800);
  const flood = async (c: number): Promise<void> => {
    for (let k = 0; performance.now() < deadline; k++) {
      const input = Array.from({ length: 2048 }, (_, i) => text(c * 1_000_000 + k * 2048 + i));
      const { status } = await send(agent, port, '/v1/embeddings', JSON.stringify({ model: options.embeddingModel, input, truncate_prompt_tokens: -1 }));
      count('embeddingFlood', status);
      if (status === 429) await sleep(500);
    }
  };
  const schemas = async (c: number): Promise<void> => {
    for (let k = 0; performance.now() < deadline; k++) {
      const tag = `c${c}_${k}`;
      const schema = { type: 'object', properties: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`${tag}_${i}`, { type: i % 2 ? 'string' : 'integer' }])), required: [`${tag}_0`] };
      const body = { model: options.chatModel, messages: [{ role: 'user', content: 'json please' }], max_tokens: 16, stream: true, response_format: { type: 'json_schema', json_schema: { name: tag, schema } } };
      const { status } = await send(agent, port, '/v1/chat/completions', JSON.stringify(body));
      count('distinctSchemas', status);
      if (status === 429) await sleep(500);
    }
  };
  const manyPrompts = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const prompt = Array.from({ length: 64 }, (_, i) => `Prompt ${i}: the serval`);
      const { status } = await send(agent, port, '/v1/completions', JSON.stringify({ model: options.chatModel, prompt, max_tokens: 64, ignore_eos: true }));
      count('manyPrompts', status);
    }
  };
  const ttfts: number[] = [];
  const canary = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const body = { model: options.chatModel, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true };
      const { status, firstMs } = await send(agent, port, '/v1/chat/completions', JSON.stringify(body));
      count('canary', status);
      if (status === 200 && firstMs >= 0) ttfts.push(firstMs);
      await sleep(500);
    }
  };
  await Promise.all([
    ...Array.from({ length: options.floodClients }, (_, c) => flood(c)),
    ...Array.from({ length: options.schemaClients }, (_, c) => schemas(c)),
    manyPrompts(),
    canary(),
  ]);
  agent.destroy();
  return {
    statuses,
    canaryTtftMs: { p50: Math.round(percentile(ttfts, 50)), p99: Math.round(percentile(ttfts, 99)), max: Math.round(Math.max(...ttfts)), samples: ttfts.length },
  };
}
