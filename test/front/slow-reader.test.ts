// Slow readers: a client that keeps reading, however slowly, gets its whole
// stream (uWS's own 10 s idle cut no longer applies while the server waits
// on a write); a client that reads nothing for the stall bound gets a clear
// end — an error event, [DONE], the connection closed — with a log line,
// and metrics that count a server-side end, not a 499.

import net from 'node:net';
import t from 'tap';
import type { Logger } from '../../src/front/logger.js';
import { CHAT_MODEL } from './fake-backend.js';
import { startHarness, type Harness } from './harness.js';

const PIECES = 400;
/** 400 × 32 KiB: more than loopback's socket buffers hold, so the server must wait on the client. */
const PIECE = 'y'.repeat(32 * 1024);
const body = JSON.stringify({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true });
const request = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

function bigStream(h: Harness): void {
  h.backend.script = () => [
    ...Array.from({ length: PIECES }, () => ({ type: 'delta' as const, choiceIndex: 0, text: PIECE })),
    { type: 'finish', choiceIndex: 0, finishReason: 'stop' },
    { type: 'usage', promptTokens: 1, completionTokens: PIECES },
  ];
}

/** Sends the request, reads nothing for `pauseMs`, then reads everything until the server closes or the stream ends. */
async function pausedReader(port: number, pauseMs: number): Promise<{ text: string; closedByServer: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.pause();
  socket.write(request);
  await new Promise((r) => setTimeout(r, pauseMs));
  const chunks: string[] = [];
  let tail = '';
  socket.setEncoding('latin1');
  const closedByServer = await new Promise<boolean>((resolve) => {
    socket.on('data', (chunk: string) => {
      chunks.push(chunk);
      tail = (tail + chunk).slice(-64);
      if (tail.endsWith('data: [DONE]\n\n\r\n0\r\n\r\n')) setTimeout(() => resolve(socket.readableEnded), 200);
    });
    socket.on('end', () => resolve(true));
    socket.resume();
  });
  socket.destroy();
  return { text: chunks.join(''), closedByServer };
}

const metric = async (h: Harness, pattern: RegExp): Promise<number> => {
  const text = await (await fetch(`${h.base}/metrics`)).text();
  const match = text.split('\n').find((line) => pattern.test(line));
  return match === undefined ? 0 : Number(match.split(' ').at(-1));
};

t.test('a reader that stops reading gets an error event, [DONE] and a close after the stall bound', async (t) => {
  const warnings: Array<Record<string, unknown>> = [];
  const logger: Logger = { debug() {}, info() {}, error() {}, warn: (obj) => void warnings.push(obj as Record<string, unknown>) };
  const h = await startHarness({ streamStallTimeoutMs: 300, logger });
  t.teardown(() => h.server.close());
  bigStream(h);
  const { text, closedByServer } = await pausedReader(h.server.port, 1500);
  const delivered = text.split(PIECE).length - 1;
  t.ok(delivered < PIECES, `cut short (${delivered} of ${PIECES} pieces)`);
  t.match(text, /data: \{"error":\{"message":"The client read nothing of this stream for 0\.3 s; the server ended it\.","type":"timeout_error","param":null,"code":"stream_stalled"\}\}\n\ndata: \[DONE\]\n\n\r\n0\r\n\r\n$/, 'error event, [DONE], end of the chunked body');
  t.ok(closedByServer, 'the server closed the connection');
  t.equal(h.backend.signals[0]?.aborted, true, 'the generation was cancelled');
  t.match(warnings.find((w) => w.outcome === 'stalled'), { route: '/v1/chat/completions', status: 200, outcome: 'stalled', error: { code: 'stream_stalled' } }, 'logged');
  t.equal(await metric(h, /^serval:http_streams_stalled_total /), 1, 'counted as stalled');
  t.equal(await metric(h, /^http_requests_total\{.*status="499"/), 0, 'not counted as a client close');
});

t.test('a reader that pauses longer than uWS idle timeout (10 s), under the bound, gets the whole stream', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.server.close());
  bigStream(h);
  const { text } = await pausedReader(h.server.port, 11_000);
  t.equal(text.split(PIECE).length - 1, PIECES, 'every piece delivered');
  t.match(text, /data: \[DONE\]\n\n\r\n0\r\n\r\n$/);
  t.notMatch(text, /"error"/);
});
