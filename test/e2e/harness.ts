// A real Serval server for end-to-end tests, started as `serval serve` starts
// one: generated model, real engine (scheduler actor + device worker +
// onnxruntime), real HTTP on a free port.

import '../support/thread-loaders.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import type { EngineOptions } from '../../src/engine/config.js';
import type { ChatModel } from '../../src/front/engine-backend.js';
import type { HttpServer, HttpServerOptions } from '../../src/front/server.js';
import { startServer } from '../../src/front/start-server.js';
import type { DecoderPresetName } from '../../src/model/testmodels/presets.js';
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

/**
 * Serves a freshly generated `preset` model as MODEL_ID; `engine` and `http`
 * override the defaults (16 slots, 1 MiB bodies).
 */
export async function startRealServer(
  engine: Partial<EngineOptions> = {},
  preset: DecoderPresetName = 'tiny',
  http: Partial<HttpServerOptions> = {},
): Promise<RealServer> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'serval-e2e-'));
  const modelDir = path.join(root, preset);
  await writeTestModel(preset, modelDir);
  const served = await startServer({
    chat: { id: MODEL_ID, engine: { maxBatchSize: 16, ...engine, modelDir } },
    embedding: null,
    http: { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 20, transport: testTransport(), ...http },
  }).catch(async (error: unknown) => {
    await rm(root, { recursive: true, force: true });
    throw error;
  });
  const base = `http://127.0.0.1:${served.port}`;
  return {
    base,
    client: new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 }),
    server: served.server,
    model: served.chat!,
    modelDir,
    async close() {
      await served.close();
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
