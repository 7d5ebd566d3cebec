// One generation request's lifetime: a single AbortSignal the backend sees,
// which fires when the client goes away, when --request-timeout expires, or
// when shutdown gives up waiting. In the last two cases the request must
// still end with a clear error, so the reason is kept and `guardEvents`
// turns it into a terminal 'error' event without waiting for the backend
// (which may be stuck — that is often why the deadline passed).

import { ApiError } from '../protocol/errors.js';
import type { GenerationEvent } from './backend.js';

export class RequestLifetime {
  /** Set when the server (not the client) ended the request. */
  reason: ApiError | null = null;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners: Array<(reason: ApiError) => void> = [];

  /**
   * `deadline.remainingMs` counts from now (the request may have arrived
   * earlier); `deadline.limitMs` is the configured timeout the error names.
   */
  constructor(client: AbortSignal, deadline: { remainingMs: number; limitMs: number } | null) {
    if (client.aborted) this.controller.abort();
    else client.addEventListener('abort', () => this.controller.abort(), { once: true });
    if (deadline !== null) {
      this.timer = setTimeout(() => this.cancel(ApiError.requestTimeout(deadline.limitMs / 1000)), Math.max(1, deadline.remainingMs));
      this.timer.unref();
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Ends the request with `reason` (first call wins). */
  cancel(reason: ApiError): void {
    if (this.reason !== null || this.controller.signal.aborted) return;
    this.reason = reason;
    this.dispose();
    this.controller.abort(reason);
    for (const listener of this.listeners.splice(0)) listener(reason);
  }

  onCancel(listener: (reason: ApiError) => void): void {
    this.listeners.push(listener);
  }

  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * Passes events through until the lifetime is cancelled; then yields one
 * 'error' event with the reason at once and closes the backend's iterator
 * in the background (its AbortSignal already fired).
 */
export function guardEvents(events: AsyncIterable<GenerationEvent>, lifetime: RequestLifetime): AsyncIterableIterator<GenerationEvent> {
  const inner = events[Symbol.asyncIterator]();
  let closed = false;
  // One listener for the whole request, waking whichever next() is waiting:
  // racing each event against one long-lived promise would pile a reaction
  // on it per event.
  let wakeOnCancel: (() => void) | null = null;
  lifetime.onCancel(() => wakeOnCancel?.());
  const untilCancelled = (pending: Promise<IteratorResult<GenerationEvent>>): Promise<IteratorResult<GenerationEvent> | null> =>
    new Promise((resolve, reject) => {
      wakeOnCancel = () => resolve(null);
      pending.then(resolve, reject);
    });
  const closeInner = (): void => {
    if (closed) return;
    closed = true;
    void Promise.resolve()
      .then(() => inner.return?.())
      .catch(() => undefined);
  };
  const iterator: AsyncIterableIterator<GenerationEvent> = {
    next: async () => {
      if (closed) return { value: undefined, done: true };
      const stopped = (reason: ApiError): IteratorResult<GenerationEvent> => {
        closeInner();
        return { value: { type: 'error', error: reason }, done: false };
      };
      if (lifetime.reason !== null) return stopped(lifetime.reason);
      const pending = inner.next();
      // If the cancellation wins, the backend's late answer must not become an unhandled rejection.
      pending.catch(() => undefined);
      try {
        const result = await untilCancelled(pending);
        wakeOnCancel = null;
        // null: woken by cancel(), which sets the reason first.
        if (lifetime.reason !== null) return stopped(lifetime.reason);
        if (result === null) throw new Error('guardEvents: woken without a cancellation reason');
        return result;
      } catch (error) {
        wakeOnCancel = null;
        // The backend threw because its signal fired: report why, not how it failed.
        if (lifetime.reason !== null) return stopped(lifetime.reason);
        throw error;
      }
    },
    return: async () => {
      closeInner();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
