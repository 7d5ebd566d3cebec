// One HTTP request/response pair over a transport's ResponseChannel, with
// the rules that keep it correct made impossible to forget:
//  - the abort listener is attached at construction; after an abort the
//    channel is never touched again and the AbortSignal fires so the backend
//    can cancel;
//  - exactly one response is sent, whatever races (timeouts, errors, aborts);
//  - body chunks are copied (uWS reuses their memory after the callback) and
//    reading stops at the byte limit;
//  - streamed writes report backpressure and can wait for the socket to drain;
//    a client that lets nothing drain for the stall bound gets its stream
//    ended clearly (error event, [DONE], close) instead of holding its
//    sequence forever or being cut without a word.

import { ApiError } from '../protocol/errors.js';
import type { RequestRecord } from './request-log.js';
import { SSE_DONE, sseError } from './sse.js';
import type { Headers, ResponseChannel } from './transport/transport.js';

export type { Headers } from './transport/transport.js';

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

  private stallTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly channel: ResponseChannel,
    /** Called exactly once, when the response ended or the client aborted. */
    private readonly onDone: (ex: Exchange) => void,
    /** What the request did, for its log line. */
    readonly record: RequestRecord,
    /** HEAD request: send status and headers (with the would-be Content-Length) but no body. */
    private readonly headOnly = false,
    /** Headers added to every response (e.g. CORS, X-Request-Id). */
    private readonly commonHeaders: Headers = {},
    /** The error body's shape: OpenAI's by default, Anthropic's on the Messages API routes. */
    private readonly errorBody: (err: ApiError) => unknown = (err) => err.toBody(),
    /** A stream whose socket does not drain for this long is ended by the server; null = never. */
    private readonly stallMs: number | null = null,
  ) {
    channel.onAborted(() => {
      this.aborted = true;
      this.record.outcome = 'aborted';
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
   * Reads the whole body. Must be called synchronously inside the transport's
   * request handler (uWS requires its data listener to be attached there).
   * Rejects with a 413 ApiError — after already answering 413 and closing the
   * connection — as soon as the body exceeds `maxBytes`; rejects with an
   * abort error if the client goes away.
   */
  readBody(maxBytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let size = 0;
      let over = false;
      this.signal.addEventListener('abort', () => reject(new Error('client aborted')), { once: true });
      this.channel.onBody((chunk, isLast) => {
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
          resolve(Buffer.from(chunk));
          return;
        }
        parts.push(Buffer.from(chunk));
        if (isLast) resolve(Buffer.concat(parts, size));
      });
    });
  }

  sendJson(status: number, body: string, headers: Headers = {}, closeConnection = false): void {
    this.sendBody(status, [JSON_HEADERS, this.commonHeaders, headers], body, closeConnection);
  }

  sendText(status: number, contentType: string, body: string, headers: Headers = {}): void {
    this.sendBody(status, [{ 'Content-Type': contentType }, this.commonHeaders, headers], body, false);
  }

  /** A bodiless response (204 to a CORS preflight). */
  sendNoContent(headers: Headers): void {
    if (this.aborted || this.done) return;
    this.status = 204;
    this.channel.sendEmpty(204, [this.commonHeaders, headers]);
    this.finish();
  }

  private sendBody(status: number, headers: readonly Headers[], body: string, closeConnection: boolean): void {
    if (this.aborted || this.done) return;
    this.status = status;
    if (this.headOnly) this.channel.sendHead(status, headers, Buffer.byteLength(body));
    else this.channel.send(status, headers, body, closeConnection);
    this.finish();
  }

  sendError(err: ApiError, closeConnection = false): void {
    if (this.aborted || this.done) return;
    this.record.error = err;
    this.sendJson(err.status, JSON.stringify(this.errorBody(err)), err.headers, closeConnection);
  }

  /** Ends a started stream with an error event and [DONE] (what OpenAI clients expect of a failed stream). */
  /** `frames` default to OpenAI's error event and [DONE]; an API with its own stream shape passes its own. */
  endStreamWithError(err: ApiError, closeConnection = false, frames: string = sseError(err) + SSE_DONE): void {
    if (this.aborted || this.done || !this.streaming) return;
    this.record.error = err;
    this.endStream(frames, closeConnection);
  }

  /** Sends the 200 status and SSE headers plus `first` (the first frames) at once. */
  beginStream(first: string): boolean {
    if (this.aborted || this.done) return false;
    this.status = 200;
    this.streaming = true;
    this.channel.onWritable(() => this.resumeWriter());
    return this.channel.beginStream(200, [SSE_HEADERS, this.commonHeaders], first);
  }

  /** Chunked write. false = backpressure built up: await waitWritable() before producing more. */
  write(chunk: string): boolean {
    if (this.aborted || this.done) return false;
    return this.channel.write(chunk);
  }

  /**
   * Resolves when the socket drained, the client aborted, or — after the
   * stall bound without a drain — the server ended the stream itself
   * (`finished` is then true and the signal has fired, so the backend stops).
   */
  waitWritable(): Promise<void> {
    if (this.aborted || this.done) return Promise.resolve();
    if (this.stallMs !== null && this.streaming) this.stallTimer = setTimeout(() => this.stalled(), this.stallMs);
    return new Promise((resolve) => {
      this.writableWaiter = resolve;
    });
  }

  /** Ends a streamed response (zero-length chunk; the connection stays alive unless `closeConnection`). */
  endStream(last = '', closeConnection = false): void {
    if (this.aborted || this.done || !this.streaming) return;
    this.channel.endStream(last, closeConnection);
    this.finish();
  }

  private stalled(): void {
    this.record.outcome = 'stalled';
    // Queued behind what the client has not read: it sees the reason if it ever reads on.
    // Closing frees the connection even if it never does.
    this.endStreamWithError(ApiError.streamStalled((this.stallMs ?? 0) / 1000), true);
    this.controller.abort();
    this.resumeWriter();
  }

  private resumeWriter(): void {
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    const w = this.writableWaiter;
    this.writableWaiter = null;
    w?.();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.onDone(this);
  }
}
