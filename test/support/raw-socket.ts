// A raw HTTP/1.1 exchange over node:net for tests that send what no HTTP
// client library would: the bytes as given, then everything the server sends
// until it closes the connection or `waitMs` passes.

import net from 'node:net';

export interface RawReply {
  /** The first final (non-1xx) status line ('' when none came). */
  statusLine: string;
  status: number;
  /** ms from the write to the first byte of the reply (null when none came). */
  firstByteMs: number | null;
  /** Whether the server closed the connection within waitMs. */
  closed: boolean;
  /** Everything received. */
  data: string;
}

export interface RawOptions {
  waitMs?: number;
  /** Shut the write side after sending (a half-close). */
  halfClose?: boolean;
  /** Resolve as soon as this appears in the data. */
  until?: string;
}

export function rawRequest(port: number, request: string | Buffer, opts: RawOptions = {}): Promise<RawReply> {
  const waitMs = opts.waitMs ?? 2000;
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const started = performance.now();
    let firstByteMs: number | null = null;
    let data = '';
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      // Interim 1xx responses come first; a client skips them.
      const statusLine = /^HTTP\/1\.[01] [2-5]\d\d[^\r]*/m.exec(data)?.[0] ?? '';
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      resolve({ statusLine, status, firstByteMs, closed, data });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      firstByteMs ??= performance.now() - started;
      data += chunk;
      if (opts.until !== undefined && data.includes(opts.until)) finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      if (opts.halfClose === true) socket.end(request);
      else socket.write(request);
    });
  });
}
