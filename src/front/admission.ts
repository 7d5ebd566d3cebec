// Front-side admission control, the one source of truth for backpressure:
// at most `maxConcurrency` engine sequences are handed to the backend at a
// time (a request weighs its choice count: n × prompts); up to `maxQueue`
// further requests wait here, first come first served, before tokenization;
// beyond that a request is refused at once with 429 + Retry-After, so an
// overloaded server answers in microseconds instead of timing out later.

import { ApiError } from '../protocol/errors.js';

export interface AdmissionLimits {
  /** Sequences generating at once (≥ 1). */
  maxConcurrency: number;
  /** Requests waiting for a turn (0 = refuse whenever the concurrency is used up). */
  maxQueue: number;
}

export interface Permit {
  /** Idempotent: gives the permit's weight back and admits waiters. */
  release(): void;
}

interface Waiter {
  weight: number;
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
   * signal fires while the request waits (it leaves the queue).
   */
  enter(choices: number, signal: AbortSignal): Promise<Permit> {
    // A request larger than the whole budget still runs, alone.
    const weight = Math.min(Math.max(1, choices), this.limits.maxConcurrency);
    if (this.waiting.length === 0 && this.running + weight <= this.limits.maxConcurrency) {
      this.running += weight;
      return Promise.resolve(this.permit(weight));
    }
    if (this.waiting.length >= this.limits.maxQueue) {
      throw ApiError.tooManyRequests(
        `The server is at capacity (${this.limits.maxConcurrency} sequences generating, ${this.waiting.length} requests queued). Retry later.`,
        this.retryAfterSeconds(),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        weight,
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
      this.waiting.push(waiter);
    });
  }

  private permit(weight: number): Permit {
    const start = performance.now();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.running -= weight;
        this.holdMs = 0.9 * this.holdMs + 0.1 * (performance.now() - start);
        this.admitWaiters();
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
