// A real Serval server (generated tiny model, real engine) whose HTTP options
// can be set — the e2e harness fixes them; operations tests need to vary them.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveEngineConfig, type EngineOptions } from '../../src/engine/config.js';
import { loadChatModel } from '../../src/front/chat-model.js';
import { EngineBackend, type ChatModel } from '../../src/front/engine-backend.js';
import { LoadingBackend } from '../../src/front/loading-backend.js';
import { startHttpServer, type HttpServer, type HttpServerOptions } from '../../src/front/server.js';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { testTransport } from '../support/transport.js';

export const MODEL_ID = 'serval-test';

export interface OpsServer {
  base: string;
  server: HttpServer;
  model: ChatModel;
  close(): Promise<void>;
}

export async function startOpsServer(engine: Partial<EngineOptions>, http: Partial<HttpServerOptions>): Promise<OpsServer> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'serval-ops-'));
  const modelDir = path.join(root, 'tiny');
  await writeTestModel('tiny', modelDir);
  const backend = new LoadingBackend();
  const model = await loadChatModel(resolveEngineConfig({ maxBatchSize: 16, ...engine, modelDir }), MODEL_ID);
  backend.set(new EngineBackend(model));
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, backend, transport: testTransport(), ...http });
  return {
    base: `http://127.0.0.1:${server.port}`,
    server,
    model,
    async close() {
      await server.close();
      await model.engine.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
