// The uWebSockets.js transport, and the only module that touches it. The
// addon is loaded straight from the package's binaries/ folder: the package's
// own entry point falls back to a slow JavaScript imitation (with a warning on
// stdout) when no build matches this Node, and here that case must be visible
// so that select.ts can choose node:http instead. Swapping the package (e.g.
// for upstream uNetworking/uWebSockets.js) means changing this file only.
//
// What this build's C++ parser does before any JavaScript runs, and so cannot
// be changed here: it drops without a status line (closing at once or after
// its 10 s timeout) requests with more than 48 headers, no Host, an
// absolute-form target, NUL, bare LF, folded headers, a path starting with
// '\', a lowercase or unknown method, HTTP/2.0 or 3; it closes silently on a
// bad chunk size, a valid chunk extension, or Content-Length with
// Transfer-Encoding; it accepts a chunk missing its CRLF; it sends
// `100 Continue` itself before the handler can refuse the body; and it closes
// the connection when the client half-closes. Repeated Content-Length and
// Transfer-Encoding values other than `chunked`, which it would accept, are
// refused below (framing.ts). README: "HTTP strictness".

import { createRequire } from 'node:module';
import type * as Uws from '@trufflesuite/uws-js-unofficial';
import type { HttpRequest, HttpResponse } from '@trufflesuite/uws-js-unofficial';
import { statusLine, type ApiError } from '../../protocol/errors.js';
import { checkFraming } from './framing.js';
import { listenError, type Headers, type HttpTransport, type Listener, type RequestHandler, type RequestHead, type ResponseChannel } from './transport.js';

const PACKAGE = '@trufflesuite/uws-js-unofficial';

/** The app plus `close()` (closes every socket; present in the binary, missing from the bundled .d.ts). */
type UwsApp = Uws.TemplatedApp & { close(): void };

/** uWS's LIBUS_LISTEN_EXCLUSIVE_PORT: no SO_REUSEPORT (uWS's default sets it). */
const EXCLUSIVE_PORT = 1;

/** The build for this platform and Node ABI, or an error saying why there is none. */
export function loadUws(): typeof Uws {
  const build = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  try {
    return createRequire(import.meta.url)(`${PACKAGE}/binaries/${build}`) as typeof Uws;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'MODULE_NOT_FOUND' ? 'has no build' : `failed to load its build (${(error as Error).message.split('\n')[0]})`;
    throw new Error(`${PACKAGE} ${why} for Node ${process.version} (ABI ${process.versions.modules}, ${process.platform}-${process.arch})`);
  }
}

export function uwsTransport(uws: typeof Uws): HttpTransport {
  return {
    name: 'uws',
    listen: (host, port, handler) => listen(uws, host, port, handler),
  };
}

function listen(uws: typeof Uws, host: string, port: number, handler: RequestHandler): Promise<Listener> {
  const app = uws.App() as UwsApp;
  app.any('/*', (res: HttpResponse, req: HttpRequest) => {
    const head = new UwsRequestHead(req);
    handler(head, new UwsChannel(res, head.malformed !== null));
  });
  return new Promise((resolve, reject) => {
    // The binary takes (host, port, options, cb); the bundled .d.ts lacks that overload.
    const listenWithOptions = app.listen as unknown as (host: string, port: number, options: number, cb: (socket: Uws.us_listen_socket | false) => void) => void;
    listenWithOptions.call(app, host, port, EXCLUSIVE_PORT, (socket) => {
      if (socket === false) {
        reject(listenError(host, port));
        return;
      }
      let listening = true;
      resolve({
        port: uws.us_socket_local_port(socket),
        stopListening: () => {
          if (!listening) return;
          listening = false;
          uws.us_listen_socket_close(socket);
        },
        closeConnections: async () => {
          // Force-closes every socket; in-flight responses see onAborted.
          app.close();
        },
      });
    });
  });
}

class UwsRequestHead implements RequestHead {
  readonly method: string;
  readonly path: string;
  readonly malformed: ApiError | null;

  constructor(private readonly req: HttpRequest) {
    this.method = req.getMethod().toUpperCase();
    this.path = req.getUrl();
    // getHeader returns the first line only: walk them all to see repeats.
    const contentLength: string[] = [];
    const transferEncoding: string[] = [];
    req.forEach((key, value) => {
      if (key === 'content-length') contentLength.push(value);
      else if (key === 'transfer-encoding') transferEncoding.push(value);
    });
    this.malformed = checkFraming({ contentLength, transferEncoding });
  }

  header(name: string): string {
    return this.req.getHeader(name);
  }
}

/**
 * uWS closes a connection that gets no writable event for its 10 s idle
 * timeout; a slow reader behind megabytes of kernel buffers (a writable
 * event needs half of them drained) gets none for longer while still
 * reading. While a write waits, re-arm that timeout this often (pause() then
 * resume() does: resume sets it afresh): the Exchange's stall bound decides.
 */
const REARM_MS = 4000;

/** Larger than uWS's cork buffer (16 KiB): see refuse(). */
const FLUSH_PADDING = '\r\n'.repeat(8400);

/** Every write is corked: writes happen after awaits, outside the uWS callback. */
class UwsChannel implements ResponseChannel {
  private rearm: NodeJS.Timeout | null = null;

  constructor(
    private readonly res: HttpResponse,
    /** Refused framing: the answer must end the connection before uWS parses what follows (see send). */
    private readonly closeAtOnce = false,
  ) {}

  onAborted(listener: () => void): void {
    this.res.onAborted(() => {
      this.stopRearming();
      listener();
    });
  }

  onBody(listener: (chunk: Uint8Array, isLast: boolean) => void): void {
    // A view only: uWS neuters the ArrayBuffer when the callback returns.
    this.res.onData((chunk, isLast) => listener(new Uint8Array(chunk), isLast));
  }

  send(status: number, headers: readonly Headers[], body: string, close: boolean): void {
    if (this.closeAtOnce) {
      this.refuse(status, headers, body);
      return;
    }
    this.res.cork(() => {
      this.head(status, headers);
      this.res.end(body, close);
    });
  }

  /**
   * uWS goes on parsing what follows in the same packet — a smuggled request —
   * even after end(body, true), and a response that ended may no longer be
   * closed; close() inside the handler does stop its parser, but drops what
   * is still corked (its 16 KiB cork buffer). So the answer is written without
   * ending it: writeStatus and writeHeader put their bytes out as given, the
   * last header carries the blank line and the body, and blank lines after
   * the body (which clients skip) make the write larger than the cork buffer,
   * which sends it at once; then close().
   */
  private refuse(status: number, headers: readonly Headers[], body: string): void {
    this.res.cork(() => {
      this.head(status, headers);
      this.res.writeHeader('Connection', 'close');
      this.res.writeHeader('Content-Length', `${Buffer.byteLength(body)}\r\n\r\n${body}${FLUSH_PADDING}`);
    });
    this.res.close();
  }

  sendHead(status: number, headers: readonly Headers[], contentLength: number): void {
    this.res.cork(() => {
      this.head(status, headers);
      // endWithoutBody(length) leaves the response unfinished in this uWS build and an explicit
      // undefined becomes a garbage length: write the header ourselves and call it bare.
      this.res.writeHeader('Content-Length', String(contentLength));
      this.res.endWithoutBody();
    });
  }

  sendEmpty(status: number, headers: readonly Headers[]): void {
    this.res.cork(() => {
      this.head(status, headers);
      this.res.endWithoutBody();
    });
  }

  beginStream(status: number, headers: readonly Headers[], first: string): boolean {
    let ok = true;
    this.res.cork(() => {
      this.head(status, headers);
      ok = this.res.write(first);
    });
    if (!ok) this.startRearming();
    return ok;
  }

  write(chunk: string): boolean {
    let ok = true;
    this.res.cork(() => {
      ok = this.res.write(chunk);
    });
    if (!ok) this.startRearming();
    return ok;
  }

  onWritable(listener: () => void): void {
    this.res.onWritable(() => {
      this.stopRearming();
      listener();
      // uWS already buffered everything we wrote; nothing to retry.
      return true;
    });
  }

  endStream(last: string, close: boolean): void {
    this.stopRearming();
    this.res.cork(() => {
      this.res.end(last, close);
    });
  }

  private startRearming(): void {
    this.rearm ??= setInterval(() => {
      this.res.pause();
      this.res.resume();
    }, REARM_MS);
  }

  private stopRearming(): void {
    if (this.rearm === null) return;
    clearInterval(this.rearm);
    this.rearm = null;
  }

  private head(status: number, headers: readonly Headers[]): void {
    this.res.writeStatus(statusLine(status));
    for (const group of headers) for (const key in group) this.res.writeHeader(key, group[key]);
  }
}
