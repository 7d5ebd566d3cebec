// Starts the real HTTP server on an ephemeral port over a FakeBackend.

import { startHttpServer, type HttpServer, type HttpServerOptions } from '../../src/front/server.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { testTransport } from '../support/transport.js';
import { CHAT_MODEL, FakeBackend } from './fake-backend.js';

export interface Harness {
  server: HttpServer;
  backend: FakeBackend;
  base: string;
}

export async function startHarness(extra: Partial<HttpServerOptions> = {}): Promise<Harness> {
  const backend = new FakeBackend();
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    backend,
    maxBodyBytes: 64 * 1024,
    metrics: createMetrics({ modelName: CHAT_MODEL }),
    transport: testTransport(),
    ...extra,
  });
  return { server, backend, base: `http://127.0.0.1:${server.port}` };
}
