// The node:http transport: the same contract as uws.ts on Node's own HTTP
// server, for Node versions without a uWebSockets.js build. What uWS does by
// itself is set explicitly here: Nagle off (every SSE frame leaves at once),
// a 10 s limit for headers and for idle kept-alive connections, exclusive
// listening, and draining that keeps open connections (see stopListening).
// It is also the strict transport: llhttp (strict unless insecureHTTPParser)
// refuses ambiguous framing and malformed heads, and every refusal gets a
// status line with a JSON error before the close (see clientError below).

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { ApiError, statusLine } from '../../protocol/errors.js';
import { checkFraming, MAX_REQUEST_HEADERS, originForm, tooManyHeaders, unsupportedVersion } from './framing.js';
import {
  IDLE_TIMEOUT_MS,
  listenError,
  type ClientErrorListener,
  type Headers,
  type HttpTransport,
  type Listener,
  type RequestHandler,
  type RequestHead,
  type ResponseChannel,
} from './transport.js';

const NO_BYTES = new Uint8Array(0);

export const nodeHttpTransport: HttpTransport = {
  name: 'node',
  listen,
};

/** llhttp's error codes → the status a client gets (anything else: 400). */
const PARSE_ERROR_STATUS: Readonly<Record<string, number>> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_INVALID_METHOD: 501,
  HPE_INVALID_VERSION: 505,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

function parseErrorStatus(error: NodeJS.ErrnoException & { rawPacket?: Buffer }): number {
  const status = PARSE_ERROR_STATUS[error.code ?? ''] ?? 400;
  // llhttp reports a request line ending in a bare LF as a bad version: only another version is a 505.
  if (status === 505 && /^[^\r\n]* HTTP\/1\.[01]\r?\n/.test(error.rawPacket?.toString('latin1') ?? '')) return 400;
  return status;
}

function listen(host: string, port: number, handler: RequestHandler, onClientError?: ClientErrorListener): Promise<Listener> {
  const server = http.createServer({
    noDelay: true,
    // The body timeout is the server's own (408 with a JSON error); node's would answer a bare 408.
    requestTimeout: 0,
    headersTimeout: IDLE_TIMEOUT_MS,
    keepAliveTimeout: IDLE_TIMEOUT_MS,
    // How often node checks headersTimeout (default 30 s, which would make it 10–40 s).
    connectionsCheckingInterval: 1000,
    // Checked in NodeRequestHead, so that the 400 has the JSON error body (and is logged).
    requireHostHeader: false,
  });
  // One more than the limit, so that rawHeaders shows an excess (node would silently drop it).
  server.maxHeadersCount = MAX_REQUEST_HEADERS + 1;
  // A client may shut its write side once the request is sent (HTTP/1.1 allows it): answer it
  // anyway (see probeAfterFin for telling that from a client that left).
  (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  /** Each socket's response in progress: a parse error in its body (a bad chunk) may still be answered until its head is out. */
  const current = new WeakMap<net.Socket, ServerResponse>();
  const onRequest = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void => {
    current.set(req.socket, res);
    res.once('close', () => current.delete(req.socket));
    probeAfterFin(req.socket, res);
    handler(new NodeRequestHead(req), new NodeChannel(res, expectsContinue));
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, false));
  // With a listener, node leaves the 100 to us: sent once the server starts reading the body,
  // so a request refused on its head (413, 401, 404…) never gets one.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, true));
  server.on('clientError', (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: net.Socket) => {
    const status = parseErrorStatus(error);
    const reason = `${error.code ?? 'parse error'}: ${error.message}`;
    if (error.code === 'ECONNRESET' || !socket.writable || current.get(socket)?.headersSent === true) {
      socket.destroy();
      return;
    }
    onClientError?.(status, reason);
    const body = JSON.stringify(ApiError.malformedHttp(status, `Malformed HTTP request (${reason.slice(0, 120)}).`, 'malformed_request').toBody());
    socket.end(`HTTP/1.1 ${statusLine(status)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    // Read and drop the rest until the client closes, so the close is not a reset that loses the answer.
    socket.resume();
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    // Later errors (a failed accept, e.g. EMFILE) are dropped like uWS drops them: the server keeps accepting.
    server.on('error', (error: NodeJS.ErrnoException) => reject(listenError(host, port, error.code ?? error.message)));
    // exclusive: no handle shared with cluster workers; node never sets SO_REUSEPORT unless asked.
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address() as net.AddressInfo;
      let listening = true;
      resolve({
        port: address.port,
        stopListening: () => {
          if (!listening) return;
          listening = false;
          // http.Server.close() would also drop idle kept-alive connections; like uWS, keep them:
          // a request arriving on one gets the draining 503 with Connection: close instead of a reset.
          net.Server.prototype.close.call(server);
        },
        closeConnections: async () => {
          listening = false;
          server.close();
          // A response's 'close' (its abort) follows its socket's 'close' in the same tick.
          const closed = [...sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
          for (const socket of sockets) socket.destroy();
          await Promise.all(closed);
        },
      });
    });
  });
}

/**
 * When a FIN'd connection with an unanswered request is probed (ms after the
 * FIN): soon, since a client that left is only noticed at the probe after the
 * one its reset answers, then every 250 ms while a half-closed client waits.
 */
const FIN_PROBE_DELAYS_MS = [0, 10, 30, 100];
const FIN_PROBE_EVERY_MS = 250;

/**
 * A FIN is either a half-close (the client still reads: answer it) or a
 * client that left (cancel its work). Only a write tells them apart: a closed
 * peer answers it with a reset, which the next write reports, and the
 * response's 'close' then aborts the request. Until the response starts, the
 * probe is an interim `100 Continue`, which clients must skip (RFC 9110
 * §15.2); a started stream probes itself with its next frame.
 */
function probeAfterFin(socket: net.Socket, res: ServerResponse): void {
  let timer: NodeJS.Timeout | null = null;
  const onEnd = (): void => {
    let count = 0;
    const probe = (): void => {
      timer = null;
      if (res.headersSent || res.writableEnded || res.destroyed) return;
      res.writeContinue();
      const next = count < FIN_PROBE_DELAYS_MS.length - 1 ? FIN_PROBE_DELAYS_MS[count + 1] - FIN_PROBE_DELAYS_MS[count] : FIN_PROBE_EVERY_MS;
      count++;
      timer = setTimeout(probe, next);
    };
    probe();
  };
  socket.once('end', onEnd);
  res.once('close', () => {
    socket.off('end', onEnd);
    if (timer !== null) clearTimeout(timer);
  });
}

class NodeRequestHead implements RequestHead {
  readonly method: string;
  readonly path: string;
  readonly malformed: ApiError | null;

  constructor(private readonly req: IncomingMessage) {
    this.method = req.method ?? 'GET';
    const url = originForm(req.url ?? '/');
    const query = url.indexOf('?');
    this.path = query < 0 ? url : url.slice(0, query);
    this.malformed = this.check();
  }

  /** What llhttp lets through but Serval refuses: HTTP/2.0 over this parser, > MAX headers, a coding other than chunked. */
  private check(): ApiError | null {
    if (this.req.httpVersionMajor !== 1) return unsupportedVersion(this.req.httpVersion);
    if (this.req.httpVersionMinor === 1 && this.req.headers.host === undefined) {
      return ApiError.malformedHttp(400, 'An HTTP/1.1 request must have a Host header.', 'missing_host');
    }
    if (this.req.rawHeaders.length / 2 > MAX_REQUEST_HEADERS) return tooManyHeaders();
    const te = this.req.headers['transfer-encoding'];
    // Repeated or combined with Content-Length, llhttp has refused it already.
    return te === undefined ? null : checkFraming({ contentLength: [], transferEncoding: [te] });
  }

  header(name: string): string {
    const value = this.req.headers[name];
    return typeof value === 'string' ? value : '';
  }
}

class NodeChannel implements ResponseChannel {
  constructor(
    private readonly res: ServerResponse,
    /** The client sent `Expect: 100-continue` and waits for the 100 before sending its body. */
    private expectsContinue: boolean,
  ) {}

  onAborted(listener: () => void): void {
    // 'close' also follows a completed response; only one that was not ended is an abort.
    this.res.once('close', () => {
      if (!this.res.writableEnded) listener();
    });
  }

  onBody(listener: (chunk: Uint8Array, isLast: boolean) => void): void {
    const req = this.res.req;
    if (this.expectsContinue) {
      this.expectsContinue = false;
      this.res.writeContinue();
    }
    req.on('data', (chunk: Buffer) => listener(chunk, false));
    req.once('end', () => listener(NO_BYTES, true));
  }

  send(status: number, headers: readonly Headers[], body: string, close: boolean): void {
    this.head(status, headers);
    if (close) {
      // Node then ends the socket once the response is out instead of waiting for the rest of the body.
      this.res.setHeader('Connection', 'close');
    }
    this.res.end(body);
  }

  sendHead(status: number, headers: readonly Headers[], contentLength: number): void {
    this.head(status, headers);
    this.res.setHeader('Content-Length', contentLength);
    this.res.end();
  }

  sendEmpty(status: number, headers: readonly Headers[]): void {
    this.head(status, headers);
    this.res.end();
  }

  beginStream(status: number, headers: readonly Headers[], first: string): boolean {
    this.head(status, headers);
    // Headers and the first frames in one packet.
    return this.res.write(first);
  }

  write(chunk: string): boolean {
    return this.res.write(chunk);
  }

  onWritable(listener: () => void): void {
    this.res.on('drain', listener);
  }

  endStream(last: string, close: boolean): void {
    if (close) {
      // The headers went out keep-alive: end the socket once the response is out, or drop it if the client never reads it.
      const socket = this.res.socket;
      this.res.once('finish', () => socket?.end());
      const timer = setTimeout(() => this.res.destroy(), IDLE_TIMEOUT_MS);
      this.res.once('close', () => clearTimeout(timer));
    }
    this.res.end(last);
  }

  private head(status: number, headers: readonly Headers[]): void {
    this.res.statusCode = status;
    // Answered without the 100: the client may or may not send its body now; close rather than guess.
    if (this.expectsContinue) this.res.setHeader('Connection', 'close');
    for (const group of headers) for (const key in group) this.res.setHeader(key, group[key]);
  }
}
