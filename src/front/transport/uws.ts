// The uWebSockets.js transport, and the only module that touches it. The
// addon is loaded straight from the package's binaries/ folder: the package's
// own entry point falls back to a slow JavaScript imitation (with a warning on
// stdout) when no build matches this Node, and here that case must be visible
// so that select.ts can choose node:http instead. Swapping the package (e.g.
// for upstream uNetworking/uWebSockets.js) means changing this file only.

import { createRequire } from 'node:module';
import type * as Uws from '@trufflesuite/uws-js-unofficial';
import type { HttpRequest, HttpResponse } from '@trufflesuite/uws-js-unofficial';
import { statusLine } from '../../protocol/errors.js';
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
  app.any('/*', (res: HttpResponse, req: HttpRequest) => handler(new UwsRequestHead(req), new UwsChannel(res)));
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

  constructor(private readonly req: HttpRequest) {
    this.method = req.getMethod().toUpperCase();
    this.path = req.getUrl();
  }

  header(name: string): string {
    return this.req.getHeader(name);
  }
}

/** Every write is corked: writes happen after awaits, outside the uWS callback. */
class UwsChannel implements ResponseChannel {
  constructor(private readonly res: HttpResponse) {}

  onAborted(listener: () => void): void {
    this.res.onAborted(listener);
  }

  onBody(listener: (chunk: Uint8Array, isLast: boolean) => void): void {
    // A view only: uWS neuters the ArrayBuffer when the callback returns.
    this.res.onData((chunk, isLast) => listener(new Uint8Array(chunk), isLast));
  }

  send(status: number, headers: readonly Headers[], body: string, close: boolean): void {
    this.res.cork(() => {
      this.head(status, headers);
      this.res.end(body, close);
    });
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
    return ok;
  }

  write(chunk: string): boolean {
    let ok = true;
    this.res.cork(() => {
      ok = this.res.write(chunk);
    });
    return ok;
  }

  onWritable(listener: () => void): void {
    this.res.onWritable(() => {
      listener();
      // uWS already buffered everything we wrote; nothing to retry.
      return true;
    });
  }

  endStream(last: string): void {
    this.res.cork(() => {
      this.res.end(last);
    });
  }

  private head(status: number, headers: readonly Headers[]): void {
    this.res.writeStatus(statusLine(status));
    for (const group of headers) for (const key in group) this.res.writeHeader(key, group[key]);
  }
}
