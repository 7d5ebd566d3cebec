// Graceful shutdown of the real CLI process: SIGTERM with 16 streams in
// flight lets all 16 finish, refuses new connections while draining, and
// exits 0; streams that outlive --shutdown-timeout end with an error event
// and [DONE], and the process still exits 0. A second signal cuts the wait
// short; a dead scheduler actor makes the server exit 1.

import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { StopWatch, stopServer } from '../../src/cli/serve-ops.js';
import type { Engine } from '../../src/engine/client/engine.js';
import type { HttpServer } from '../../src/front/server.js';
import { selectTransport } from '../../src/front/transport/select.js';
import { testTransport } from '../support/transport.js';
import { startChildServer } from './child-server.js';
import { streamCompletion, type SseResult } from './helpers.js';

const root = await mkdtemp(path.join(os.tmpdir(), 'serval-shutdown-'));
t.teardown(() => rm(root, { recursive: true, force: true }));
const modelDir = path.join(root, 'tiny');
await writeTestModel('tiny', modelDir);
const SERVE_ARGS = ['--model', modelDir, '--served-model-name', 'serval-test', '--threads', '1'];

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

async function startStreams(base: string, count: number, maxTokens: number): Promise<Promise<SseResult>[]> {
  let started = 0;
  let all!: () => void;
  const allStarted = new Promise<void>((resolve) => (all = resolve));
  const streams = Array.from({ length: count }, (_, i) =>
    streamCompletion(base, { prompt: `Stream number ${i} says`, max_tokens: maxTokens, ignore_eos: true, stream_options: { include_usage: true } }, () => {
      if (++started === count) all();
    }),
  );
  await allStarted;
  return streams;
}

t.test('SIGTERM with 16 streams in flight: all finish, new connections refused, exit 0', async (t) => {
  const server = await startChildServer([...SERVE_ARGS, '--shutdown-timeout', '60']);
  t.teardown(() => server.child.kill('SIGKILL'));
  const maxTokens = 400;
  const streams = await startStreams(server.base, 16, maxTokens);
  let finishedEarly = 0;
  for (const s of streams) void s.then(() => finishedEarly++);
  server.child.kill('SIGTERM');
  let refused = false;
  for (let i = 0; i < 100 && !refused; i++) {
    refused = !(await connects(server.port));
    if (!refused) await new Promise((r) => setTimeout(r, 10));
  }
  t.ok(refused, 'a new connection is refused after SIGTERM');
  t.ok(finishedEarly < 16, `the drain was still running when the connection was refused (${finishedEarly} of 16 done)`);
  const results = await Promise.all(streams);
  for (const [i, r] of results.entries()) {
    t.equal(r.error, null, `stream ${i} had no error`);
    t.equal(r.finishReason, 'length', `stream ${i} finished`);
    t.equal(r.done, true, `stream ${i} ended with [DONE]`);
    t.equal((r.frames.at(-1)?.usage as { completion_tokens?: number } | undefined)?.completion_tokens, maxTokens, `stream ${i} got every token`);
  }
  const { code, signal } = await server.exited;
  t.equal(signal, null);
  t.equal(code, 0, 'exit code 0');
  const drained = server.logs.find((l) => l.msg === 'drained');
  t.equal(drained?.cancelled, 0, 'nothing had to be cancelled');
  const transportLines = server.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('HTTP transport: '));
  t.equal(transportLines.length, 1, 'one log line names the HTTP transport');
  t.equal(transportLines[0]?.transport, selectTransport(testTransport()).transport.name, `--http-transport ${testTransport()} reached the server`);
  t.match(transportLines[0]?.reason, /^(requested|auto: .+)$/, 'and says why');
});

t.test('streams outliving --shutdown-timeout end with an error event; exit 0', async (t) => {
  const server = await startChildServer([...SERVE_ARGS, '--shutdown-timeout', '0.3', '--max-model-len', '1024']);
  t.teardown(() => server.child.kill('SIGKILL'));
  const streams = await startStreams(server.base, 4, 1000);
  const sent = performance.now();
  server.child.kill('SIGTERM');
  const results = await Promise.all(streams);
  const elapsed = performance.now() - sent;
  for (const r of results) {
    t.equal(r.error?.type, 'service_unavailable');
    t.equal(r.error?.code, 'server_shutting_down');
    t.equal(r.done, true, 'the stream still ends with [DONE]');
  }
  t.ok(elapsed < 5000, `cut short soon after the timeout (${elapsed.toFixed(0)} ms)`);
  const { code } = await server.exited;
  t.equal(code, 0);
  t.equal(server.logs.find((l) => l.msg === 'drained')?.cancelled, 4);
});

t.test('a second signal skips the rest of the drain', async (t) => {
  const server = await startChildServer([...SERVE_ARGS, '--shutdown-timeout', '120']);
  t.teardown(() => server.child.kill('SIGKILL'));
  const streams = await startStreams(server.base, 2, 1000);
  server.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 100));
  const sent = performance.now();
  server.child.kill('SIGINT');
  const results = await Promise.all(streams);
  t.ok(performance.now() - sent < 5000, 'streams ended soon after the second signal');
  for (const r of results) t.equal(r.error?.code, 'server_shutting_down');
  t.equal((await server.exited).code, 0);
});

t.test('stop policy: a dead scheduler actor exits 1 with a clear log line', async (t) => {
  const lines: Array<{ obj: object; msg?: string }> = [];
  const log = (obj: object, msg?: string): void => void lines.push({ obj, msg });
  const logger = { debug: log, info: log, warn: log, error: log };
  let deathListener: ((error: Error) => void) | null = null;
  const engine = { onActorDeath: (listener: (error: Error) => void) => (deathListener = listener) } as unknown as Engine;
  const watch = new StopWatch();
  t.teardown(() => watch.dispose());
  watch.watchEngine(engine);
  deathListener!(new Error('scheduler actor exited with code 70'));
  const reason = await watch.stopped;
  t.equal(reason.kind, 'actor-died');
  let drained = false;
  let closed = 0;
  const server = { drain: async () => ((drained = true), { inFlightAtStart: 0, cancelled: 0 }), close: async () => void closed++, inFlight: 0 } as unknown as HttpServer;
  const code = await stopServer(reason, server, { shutdownTimeoutMs: 1000, force: new AbortController().signal, logger, closeAll: async () => void closed++, forceExit: () => t.fail('watchdog fired') });
  t.equal(code, 1, 'exit code 1');
  t.equal(drained, false, 'no graceful drain: requests already failed');
  t.equal(closed, 2, 'server and engines closed');
  t.ok(lines.some((l) => /scheduler actor died.*exiting with code 1/.test(l.msg ?? '')), 'the log says what happened and what comes next');
});
