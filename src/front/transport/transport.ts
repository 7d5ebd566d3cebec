// The seam between the HTTP server logic (routing, the Exchange) and the
// socket library under it. Two implementations: uWebSockets.js (uws.ts),
// where a build for this Node loads, and node:http (node-http.ts) everywhere;
// select.ts picks one at startup. The server never sees either library.

import type { ApiError } from '../../protocol/errors.js';

export type Headers = Readonly<Record<string, string>>;

/** What the server reads of a request; valid during the handler call only (uWS reuses it afterwards). */
export interface RequestHead {
  /** Upper case. */
  readonly method: string;
  /** The request target's path, without the query string, not percent-decoded. */
  readonly path: string;
  /** The header's value, '' when absent; `name` in lower case. */
  header(name: string): string;
  /**
   * Set when the request was parsed but must not be served (ambiguous framing,
   * an unsupported Transfer-Encoding or HTTP version, too many headers): the
   * server answers this error and closes the connection.
   */
  readonly malformed: ApiError | null;
}

/**
 * The response side of one request. The Exchange calls these in a valid
 * order (at most one of send/sendHead/sendEmpty, or beginStream, write…,
 * endStream) and never after an abort; implementations do not re-check.
 */
export interface ResponseChannel {
  /** The client went away (or the server closed every connection) before the response ended. Called at most once. */
  onAborted(listener: () => void): void;
  /**
   * Must be attached during the handler call. `chunk` is valid only during the
   * listener call (uWS reuses its memory): copy what you keep. The last call
   * has `isLast` (an empty body: one empty last chunk).
   */
  onBody(listener: (chunk: Uint8Array, isLast: boolean) => void): void;
  /** A complete response with a Content-Length; `close` closes the connection once it is sent (the rest of the request is not read). */
  send(status: number, headers: readonly Headers[], body: string, close: boolean): void;
  /** The answer to HEAD: the headers and the Content-Length the body would have, no body. */
  sendHead(status: number, headers: readonly Headers[], contentLength: number): void;
  /** A bodiless response without Content-Length (204). */
  sendEmpty(status: number, headers: readonly Headers[]): void;
  /** Status, headers and the first bytes of a chunked response, sent at once. false = backpressure: wait for onWritable. */
  beginStream(status: number, headers: readonly Headers[], first: string): boolean;
  /** A chunk of the streamed response, sent at once (no Nagle, no buffering of frames). false = backpressure. */
  write(chunk: string): boolean;
  /** Runs whenever the socket drained after a write reported backpressure. */
  onWritable(listener: () => void): void;
  /** Ends a streamed response with `last`; the connection stays open for the next request unless `close`. */
  endStream(last: string, close: boolean): void;
}

export type RequestHandler = (req: RequestHead, res: ResponseChannel) => void;

/** A request the transport's own parser refused and answered (status, then close) before any handler saw it. */
export type ClientErrorListener = (status: number, reason: string) => void;

/** A listening server. */
export interface Listener {
  readonly port: number;
  /** Stops accepting connections; open ones stay, and their next requests still reach the handler (which answers 503 while draining). */
  stopListening(): void;
  /** Closes every connection at once; resolves once responses in progress have seen their abort listener. */
  closeConnections(): Promise<void>;
}

export type TransportName = 'uws' | 'node';

export interface HttpTransport {
  readonly name: TransportName;
  /**
   * Listens exclusively (no SO_REUSEPORT): a second server on a port in use
   * fails instead of silently sharing its connections. Port 0 picks a free one.
   */
  listen(host: string, port: number, handler: RequestHandler, onClientError?: ClientErrorListener): Promise<Listener>;
}

export function listenError(host: string, port: number, cause?: string): Error {
  return new Error(`could not listen on ${host}:${port}${cause === undefined ? '' : ` (${cause})`}`);
}

/**
 * The uWS idle timeout, which the node:http transport copies: headers must
 * arrive within it, and a kept-alive connection idle this long is closed.
 */
export const IDLE_TIMEOUT_MS = 10_000;
