// The node:http transport: the same contract as uws.ts on Node's own HTTP
// server, for Node versions without a uWebSockets.js build. What uWS does by
// itself is set explicitly here: Nagle off (every SSE frame leaves at once),
// a 10 s limit for headers and for idle kept-alive connections, exclusive
// listening, and draining that keeps open connections (see stopListening).

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { IDLE_TIMEOUT_MS, listenError, type Headers, type HttpTransport, type Listener, type RequestHandler, type RequestHead, type ResponseChannel } from './transport.js';

const NO_BYTES = new Uint8Array(0);

export const nodeHttpTransport: HttpTransport = {
  name: 'node',
  listen,
};

function listen(host: string, port: number, handler: RequestHandler): Promise<Listener> {
  const server = http.createServer({
    noDelay: true,
    // The body timeout is the server's own (408 with a JSON error); node's would answer a bare 408.
    requestTimeout: 0,
    headersTimeout: IDLE_TIMEOUT_MS,
    keepAliveTimeout: IDLE_TIMEOUT_MS,
    // How often node checks headersTimeout (default 30 s, which would make it 10–40 s).
    connectionsCheckingInterval: 1000,
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => handler(new NodeRequestHead(req), new NodeChannel(res)));
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

class NodeRequestHead implements RequestHead {
  readonly method: string;
  readonly path: string;

  constructor(private readonly req: IncomingMessage) {
    this.method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    this.path = query < 0 ? url : url.slice(0, query);
  }

  header(name: string): string {
    const value = this.req.headers[name];
    return typeof value === 'string' ? value : '';
  }
}

class NodeChannel implements ResponseChannel {
  constructor(private readonly res: ServerResponse) {}

  onAborted(listener: () => void): void {
    // 'close' also follows a completed response; only one that was not ended is an abort.
    this.res.once('close', () => {
      if (!this.res.writableEnded) listener();
    });
  }

  onBody(listener: (chunk: Uint8Array, isLast: boolean) => void): void {
    const req = this.res.req;
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

  endStream(last: string): void {
    this.res.end(last);
  }

  private head(status: number, headers: readonly Headers[]): void {
    this.res.statusCode = status;
    for (const group of headers) for (const key in group) this.res.setHeader(key, group[key]);
  }
}
