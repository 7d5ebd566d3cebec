// One HTTP request/response pair over uWS, with the rules uWS imposes made
// impossible to forget:
//  - onAborted is attached at construction; after an abort `res` is never
//    touched again and the AbortSignal fires so the backend can cancel;
//  - every write is corked (writes happen after awaits, outside the handler);
//  - body chunks are copied (uWS neuters the ArrayBuffer after the callback)
//    and reading stops at the byte limit;
//  - streamed writes report backpressure and can wait for onWritable.

import { ApiError, statusLine } from '../protocol/errors.js';
import type { HttpResponse } from './uws.js';

export type Headers = Readonly<Record<string, string>>;

const JSON_HEADERS: Headers = { 'Content-Type': 'application/json' };
const SSE_HEADERS: Headers = { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' };

export class Exchange {
  /** Set once the client went away; from then on every method is a no-op. */
  aborted = false;
  /** The status sent (0 until the status line is written). */
  status = 0;
  private done = false;
  private streaming = false;
  private readonly controller = new AbortController();
  private writableWaiter: (() => void) | null = null;

  constructor(
    private readonly res: HttpResponse,
    /** Called exactly once, when the response ended or the client aborted. */
    private readonly onDone: (ex: Exchange) => void,
    /** HEAD request: send status and headers (with the would-be Content-Length) but no body. */
    private readonly headOnly = false,
    /** Headers added to every response (e.g. CORS). */
    private readonly commonHeaders: Headers = {},
  ) {
    res.onAborted(() => {
      this.aborted = true;
      this.controller.abort();
      this.resumeWriter();
      this.finish();
    });
  }

  /** Fires when the client disconnects before the response is complete. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get finished(): boolean {
    return this.done;
  }

  /**
   * Reads the whole body. Must be called synchronously inside the uWS route
   * handler (uWS requires onData to be attached there). Rejects with a 413
   * ApiError — after already answering 413 and closing the connection — as
   * soon as the body exceeds `maxBytes`; rejects with an abort error if the
   * client goes away.
   */
  readBody(maxBytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let size = 0;
      let over = false;
      this.signal.addEventListener('abort', () => reject(new Error('client aborted')), { once: true });
      this.res.onData((chunk, isLast) => {
        if (over || this.aborted) return;
        size += chunk.byteLength;
        if (size > maxBytes) {
          over = true;
          const err = ApiError.bodyTooLarge(maxBytes);
          // Close instead of draining an arbitrarily large body.
          this.sendError(err, true);
          reject(err);
          return;
        }
        // Copy: the consumer runs after this callback returns, when uWS has neutered `chunk`.
        if (isLast && parts.length === 0) {
          resolve(Buffer.from(new Uint8Array(chunk)));
          return;
        }
        parts.push(Buffer.from(new Uint8Array(chunk)));
        if (isLast) resolve(Buffer.concat(parts, size));
      });
    });
  }

  sendJson(status: number, body: string, headers: Headers = {}, closeConnection = false): void {
    if (this.aborted || this.done) return;
    this.status = status;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      writeHeaders(this.res, JSON_HEADERS);
      writeHeaders(this.res, this.commonHeaders);
      writeHeaders(this.res, headers);
      this.endWith(body, closeConnection);
    });
    this.finish();
  }

  sendText(status: number, contentType: string, body: string, headers: Headers = {}): void {
    if (this.aborted || this.done) return;
    this.status = status;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status)).writeHeader('Content-Type', contentType);
      writeHeaders(this.res, this.commonHeaders);
      writeHeaders(this.res, headers);
      this.endWith(body, false);
    });
    this.finish();
  }

  /** A bodiless response (204 to a CORS preflight). */
  sendNoContent(headers: Headers): void {
    if (this.aborted || this.done) return;
    this.status = 204;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(204));
      writeHeaders(this.res, this.commonHeaders);
      writeHeaders(this.res, headers);
      this.res.endWithoutBody();
    });
    this.finish();
  }

  private endWith(body: string, closeConnection: boolean): void {
    if (this.headOnly) {
      // endWithoutBody(length) leaves the response unfinished in this uWS build and an explicit
      // undefined becomes a garbage length: write the header ourselves and call it bare.
      this.res.writeHeader('Content-Length', String(Buffer.byteLength(body)));
      this.res.endWithoutBody();
    } else {
      this.res.end(body, closeConnection);
    }
  }

  sendError(err: ApiError, closeConnection = false): void {
    this.sendJson(err.status, JSON.stringify(err.toBody()), err.headers, closeConnection);
  }

  /** Writes the 200 status and SSE headers plus `first` (the first frames) in one corked write. */
  beginStream(first: string): boolean {
    if (this.aborted || this.done) return false;
    this.status = 200;
    this.streaming = true;
    this.res.onWritable(() => {
      this.resumeWriter();
      // uWS already buffered everything we wrote; nothing to retry.
      return true;
    });
    let ok = true;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(200));
      writeHeaders(this.res, SSE_HEADERS);
      writeHeaders(this.res, this.commonHeaders);
      ok = this.res.write(first);
    });
    return ok;
  }

  /** Chunked write. false = backpressure built up: await waitWritable() before producing more. */
  write(chunk: string): boolean {
    if (this.aborted || this.done) return false;
    let ok = true;
    this.res.cork(() => {
      ok = this.res.write(chunk);
    });
    return ok;
  }

  /** Resolves when the socket drained (or the client aborted). */
  waitWritable(): Promise<void> {
    if (this.aborted || this.done) return Promise.resolve();
    return new Promise((resolve) => {
      this.writableWaiter = resolve;
    });
  }

  /** Ends a streamed response (zero-length chunk; the connection stays alive). */
  endStream(last = ''): void {
    if (this.aborted || this.done || !this.streaming) return;
    this.res.cork(() => {
      this.res.end(last);
    });
    this.finish();
  }

  private resumeWriter(): void {
    const w = this.writableWaiter;
    this.writableWaiter = null;
    w?.();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.onDone(this);
  }
}

function writeHeaders(res: HttpResponse, headers: Headers): void {
  for (const key in headers) res.writeHeader(key, headers[key]);
}
