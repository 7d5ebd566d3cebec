// Front-side admission control, the one source of truth for backpressure: a
// generic cost permit. A request weighs what it costs — chat/completions its
// sequences (prompts × n) against --max-concurrency, embeddings their tokens
// against --embedding-token-budget, rerank/score pairs their tokens against a
// budget of the same size — and at most `maxConcurrency`
// units are held at a time; up to `maxQueue` further requests wait here,
// first come first served (by `priority` first, lower value first, under
// --scheduling-policy priority), before any work (tokenization included); beyond
// that a request is refused at once with 429 + Retry-After, so an overloaded
// server answers in microseconds instead of timing out later. A permit gives
// units back as its work ends (a finished choice, an estimate that proved too
// high), so waiters start as soon as there is room.

import { ApiError } from '../protocol/errors.js';
import type { GenerationEvent } from './backend.js';

export interface AdmissionLimits {
  /** Sequences generating at once (≥ 1). */
  maxConcurrency: number;
  /** Requests waiting for a turn (0 = refuse whenever the concurrency is used up). */
  maxQueue: number;
  /** What a unit is, for the 429 message (default 'sequences generating'). */
  unit?: string;
  /**
   * Most units one request holds (default maxConcurrency: a larger request runs alone). Chat and
   * completions use a quarter of the budget, at least 16 (the default max n): the rest of a larger
   * request's sequences run on credit, and the scheduler shares the slots between requests, so one
   * request neither holds the whole budget nor blocks the head of the queue until it all frees.
   */
  maxWeight?: number;
}

export interface Permit {
  /** Idempotent: gives the permit's weight back and admits waiters. */
  release(): void;
  /** Gives back all but `weight` units now (no-op if it holds no more); release() returns the rest. */
  shrink(weight: number): void;
  /** Gives back up to `units` units now (a finished choice gives back one). */
  giveBack(units: number): void;
}

interface Waiter {
  weight: number;
  priority: number;
  admit: () => void;
}

/** Retry-After bounds (seconds). */
const MIN_RETRY_S = 1;
const MAX_RETRY_S = 60;

export class Admission {
  private readonly limits: AdmissionLimits;
  private readonly waiting: Waiter[] = [];
  private running = 0;
  /** Moving average of how long a permit is held (ms): the basis of Retry-After. */
  private holdMs = 1000;

  constructor(limits: AdmissionLimits) {
    if (!Number.isInteger(limits.maxConcurrency) || limits.maxConcurrency < 1) throw new Error(`maxConcurrency must be ≥ 1, got ${limits.maxConcurrency}`);
    if (!Number.isInteger(limits.maxQueue) || limits.maxQueue < 0) throw new Error(`maxQueue must be ≥ 0, got ${limits.maxQueue}`);
    this.limits = limits;
  }

  /** Sequences currently admitted. */
  get active(): number {
    return this.running;
  }

  /** Requests waiting for a turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with a permit when the request may run. Throws a 429 ApiError
   * synchronously when the queue is full; rejects with `signal.reason` if the
   * signal fires while the request waits (it leaves the queue). A waiter
   * queues behind every waiter of its `priority` or a lower value (the
   * scheduler's order, so a queued urgent request is not stuck behind the rest).
   */
  enter(choices: number, signal: AbortSignal, priority = 0): Promise<Permit> {
    // A request larger than its share (by default the whole budget) still runs, on credit.
    const weight = Math.min(Math.max(1, choices), this.limits.maxWeight ?? Infinity, this.limits.maxConcurrency);
    if (this.waiting.length === 0 && this.running + weight <= this.limits.maxConcurrency) {
      this.running += weight;
      return Promise.resolve(this.permit(weight));
    }
    if (this.waiting.length >= this.limits.maxQueue) {
      throw ApiError.tooManyRequests(
        `The server is at capacity (${this.limits.maxConcurrency} ${this.limits.unit ?? 'sequences generating'}, ${this.waiting.length} requests queued). Retry later.`,
        this.retryAfterSeconds(),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        weight,
        priority,
        admit: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(this.permit(weight));
        },
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason);
        // The head may have been blocking smaller requests behind it.
        this.admitWaiters();
      };
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      let at = this.waiting.length;
      while (at > 0 && this.waiting[at - 1].priority > priority) at--;
      this.waiting.splice(at, 0, waiter);
    });
  }

  private permit(weight: number): Permit {
    const start = performance.now();
    let held = weight;
    return {
      release: () => {
        if (held === 0) return;
        this.running -= held;
        held = 0;
        this.holdMs = 0.9 * this.holdMs + 0.1 * (performance.now() - start);
        this.admitWaiters();
      },
      shrink: (to) => {
        const keep = Math.max(0, Math.floor(to));
        if (held === 0 || keep >= held) return;
        this.running -= held - keep;
        held = keep;
        this.admitWaiters();
      },
      giveBack(units) {
        this.shrink(held - units);
      },
    };
  }

  /** FIFO: the head waits until it fits, so a large request is never starved by small ones. */
  private admitWaiters(): void {
    while (this.waiting.length > 0 && this.running + this.waiting[0].weight <= this.limits.maxConcurrency) {
      const next = this.waiting.shift() as Waiter;
      this.running += next.weight;
      next.admit();
    }
  }

  /** Roughly when a queue slot frees: the queue drains maxConcurrency requests per average hold time. */
  private retryAfterSeconds(): number {
    const rounds = this.waiting.length / this.limits.maxConcurrency;
    const seconds = (rounds * this.holdMs) / 1000;
    return Math.min(MAX_RETRY_S, Math.max(MIN_RETRY_S, Math.ceil(seconds)));
  }
}

/**
 * Passes events through, calling `finished()` after each choice's 'finish'.
 * A plain iterator (not a generator), so return() reaches the inner iterator
 * at once even while a next() is pending.
 */
export function onEachFinish(events: AsyncIterable<GenerationEvent>, finished: () => void): AsyncIterableIterator<GenerationEvent> {
  const inner = events[Symbol.asyncIterator]();
  const iterator: AsyncIterableIterator<GenerationEvent> = {
    next: async () => {
      const result = await inner.next();
      if (!result.done && result.value.type === 'finish') finished();
      return result;
    },
    return: async () => (await inner.return?.()) ?? { value: undefined, done: true },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
