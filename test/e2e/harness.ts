// A real Serval server for end-to-end tests: generated model, real engine
// (scheduler actor + device worker + onnxruntime), real HTTP on a free port.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { resolveEngineConfig, type EngineOptions } from '../../src/engine/config.js';
import { loadChatModel } from '../../src/front/chat-model.js';
import { EngineBackend, type ChatModel } from '../../src/front/engine-backend.js';
import { bindEngineMetrics } from '../../src/front/engine-metrics.js';
import { LoadingBackend } from '../../src/front/loading-backend.js';
import { startHttpServer, type HttpServer } from '../../src/front/server.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { testTransport } from '../support/transport.js';

export const MODEL_ID = 'serval-test';

export interface RealServer {
  base: string;
  client: OpenAI;
  server: HttpServer;
  model: ChatModel;
  modelDir: string;
  close(): Promise<void>;
}

export async function startRealServer(engine: Partial<EngineOptions> = {}, preset: 'tiny' | 'small' = 'tiny'): Promise<RealServer> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'serval-e2e-'));
  const modelDir = path.join(root, preset);
  await writeTestModel(preset, modelDir);
  const metrics = createMetrics({ modelName: MODEL_ID });
  const backend = new LoadingBackend();
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, backend, metrics, maxBodyBytes: 1 << 20, transport: testTransport() });
  const model = await loadChatModel(resolveEngineConfig({ maxBatchSize: 16, ...engine, modelDir }), MODEL_ID);
  bindEngineMetrics(model.engine, metrics);
  backend.set(new EngineBackend(model, metrics));
  const base = `http://127.0.0.1:${server.port}`;
  return {
    base,
    client: new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 }),
    server,
    model,
    modelDir,
    async close() {
      await server.close();
      await model.engine.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Reads a Prometheus sample value (first series whose name and labels match). */
export function metricValue(text: string, name: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) return Number(line.split(' ').at(-1));
  }
  return NaN;
}
