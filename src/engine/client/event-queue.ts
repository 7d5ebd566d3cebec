// Runs on the front thread. A single-consumer async queue: the engine pushes
// a request's events as they arrive from the scheduler actor; the caller
// pulls them with `for await`.

export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiter: ((result: IteratorResult<T>) => void) | null = null;
  private failWaiter: ((error: unknown) => void) | null = null;
  private ended = false;
  private error: unknown = null;
  private readonly onReturn: () => void;

  /** `onReturn` runs when the consumer stops early (break/return): the engine cancels the request. */
  constructor(onReturn: () => void) {
    this.onReturn = onReturn;
  }

  push(item: T): void {
    if (this.ended) return;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = null;
      this.failWaiter = null;
      resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = null;
      this.failWaiter = null;
      resolve({ value: undefined, done: true });
    }
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.error = error;
    this.ended = true;
    if (this.failWaiter) {
      const reject = this.failWaiter;
      this.waiter = null;
      this.failWaiter = null;
      reject(error);
    }
  }

  get finished(): boolean {
    return this.ended;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.error !== null) {
      const error = this.error;
      this.error = null;
      return Promise.reject(error);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.ended) {
      this.ended = true;
      this.items.length = 0;
      this.onReturn();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
