// The HTTP-level hostile clients bench:soak mixes into its steady load
// (--hostile), beside bench/soak-hostile.ts's: a client cycling through
// malformed requests (each must get its status line, not a silent close), a
// slow reader of a streamed chat with logprobs (must get the whole stream, or
// an error event and [DONE]: never a silent cut), and a client that shuts its
// write side after each request (must still get the whole answer).

import net from 'node:net';
import { rawRequest } from '../test/support/raw-socket.js';

export interface HostileHttpOptions {
  port: number;
  deadline: number;
  chatModel: string;
  /** Slow reader's pace. */
  readBytesPerS: number;
}

export interface HostileHttpReport {
  /** case → status (or 'none': closed or timed out without a status line) → count. */
  malformed: Record<string, Record<string, number>>;
  /** complete: [DONE]; clearlyEnded: an error event then [DONE]; cutSilently: neither; plus non-200 statuses. */
  slowReader: { outcomes: Record<string, number>; streamBytes: number[]; seconds: number[] };
  /** answered: 200 with the whole body; noResponse: no status line; plus other statuses. */
  halfClose: Record<string, number>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const chatBody = (extra: object): string => JSON.stringify({ model: '', messages: [{ role: 'user', content: 'tell me about the serval' }], ...extra });
const post = (body: string): string => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** A handful of test/front/hostile-http.test.ts's cases. */
function malformedCases(chatModel: string): Array<[string, string]> {
  const chat = chatBody({ model: chatModel, max_tokens: 4 });
  const length = Buffer.byteLength(chat);
  const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
  const headers = Array.from({ length: 120 }, (_, i) => `X-H${i}: v\r\n`).join('');
  return [
    ['conflicting Content-Length', `${head}Content-Length: ${length}\r\nContent-Length: ${length + 5}\r\n\r\n${chat}`],
    ['Transfer-Encoding: gzip, chunked', `${head}Transfer-Encoding: gzip, chunked\r\n\r\n${length.toString(16)}\r\n${chat}\r\n0\r\n\r\n`],
    ['no Host', 'GET /health HTTP/1.1\r\n\r\n'],
    ['bare LF', 'GET /health HTTP/1.1\nHost: x\n\n'],
    ['120 headers', `GET /health HTTP/1.1\r\nHost: x\r\n${headers}\r\n`],
    ['lowercase method', 'get /health HTTP/1.1\r\nHost: x\r\n\r\n'],
  ];
}

/** Reads one streamed response at `bytesPerS` (pausing the socket between chunks) until the server closes. */
function slowRead(port: number, request: string, bytesPerS: number, capMs: number): Promise<{ data: string; ms: number }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const started = performance.now();
    let data = '';
    const done = (): void => {
      clearTimeout(cap);
      socket.destroy();
      resolve({ data, ms: performance.now() - started });
    };
    const cap = setTimeout(done, capMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      socket.pause();
      setTimeout(() => socket.resume(), (chunk.length / bytesPerS) * 1000);
    });
    socket.on('close', done);
    socket.on('error', done);
    socket.on('connect', () => socket.write(request));
  });
}

export async function runHostileHttpClients(options: HostileHttpOptions): Promise<HostileHttpReport> {
  const { port, deadline, chatModel } = options;
  const report: HostileHttpReport = { malformed: {}, slowReader: { outcomes: {}, streamBytes: [], seconds: [] }, halfClose: {} };
  const bump = (into: Record<string, number>, key: string): void => {
    into[key] = (into[key] ?? 0) + 1;
  };
  const malformed = async (): Promise<void> => {
    const cases = malformedCases(chatModel);
    for (let k = 0; performance.now() < deadline; k++) {
      const [name, request] = cases[k % cases.length];
      // 15 s: long enough to see the 9–10 s silent close the issue describes.
      const reply = await rawRequest(port, request, { waitMs: 15_000 });
      bump((report.malformed[name] ??= {}), reply.status === 0 ? 'none' : String(reply.status));
      await sleep(200);
    }
  };
  const slowReader = async (): Promise<void> => {
    const request = post(chatBody({ model: chatModel, n: 2, max_tokens: 200, ignore_eos: true, logprobs: true, top_logprobs: 5, stream: true }));
    while (performance.now() < deadline) {
      const { data, ms } = await slowRead(port, request, options.readBytesPerS, 300_000);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      const done = data.includes('data: [DONE]');
      const outcome = status !== 200 ? `status ${status}` : !done ? 'cutSilently' : data.includes('"error":{') ? 'clearlyEnded' : 'complete';
      bump(report.slowReader.outcomes, outcome);
      report.slowReader.streamBytes.push(data.length);
      report.slowReader.seconds.push(Number((ms / 1000).toFixed(1)));
    }
  };
  const halfClose = async (): Promise<void> => {
    const request = post(chatBody({ model: chatModel, max_tokens: 16, ignore_eos: true }));
    while (performance.now() < deadline) {
      const reply = await rawRequest(port, request, { halfClose: true, waitMs: 120_000 });
      const body = reply.data.slice(reply.data.indexOf('\r\n\r\n') + 4);
      const whole = reply.status === 200 && reply.closed && body.includes('"chat.completion"') && body.trimEnd().endsWith('}');
      bump(report.halfClose, reply.status === 0 ? 'noResponse' : whole ? 'answered' : reply.status === 200 ? 'truncated' : `status ${reply.status}`);
      await sleep(1000);
    }
  };
  await Promise.all([malformed(), slowReader(), halfClose()]);
  return report;
}
