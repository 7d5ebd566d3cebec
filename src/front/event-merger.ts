// Interleaves several async event sources into one, in arrival order: a
// response with several choices reads them all through one iterator. If a
// source throws, the merged iterator throws; returning early closes every source.

type Arrival<T> = { source: AsyncIterator<T>; result: IteratorResult<T> } | { error: unknown };

export class EventMerger<T> implements AsyncIterable<T> {
  private readonly sources: AsyncIterator<T>[] = [];

  add(source: AsyncIterable<T>): void {
    this.sources.push(source[Symbol.asyncIterator]());
  }

  /**
   * Each source has at most one next() in flight, whose result joins one
   * arrival queue; the reader waits on a single wake-up. (Racing all pending
   * promises per event instead costs O(sources) per event and keeps a
   * reaction per event on every idle source: quadratic in the choices.)
   */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    const arrivals: Arrival<T>[] = [];
    let head = 0;
    let wake: (() => void) | null = null;
    const arrive = (arrival: Arrival<T>): void => {
      arrivals.push(arrival);
      wake?.();
      wake = null;
    };
    const pull = (source: AsyncIterator<T>): void => {
      source.next().then(
        (result) => arrive({ source, result }),
        (error: unknown) => arrive({ error }),
      );
    };
    let open = this.sources.length;
    this.sources.forEach(pull);
    try {
      while (open > 0) {
        if (head === arrivals.length) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const arrival = arrivals[head++];
        if (head === arrivals.length) {
          arrivals.length = 0;
          head = 0;
        }
        if ('error' in arrival) throw arrival.error;
        if (arrival.result.done) {
          open--;
          continue;
        }
        pull(arrival.source);
        yield arrival.result.value;
      }
    } finally {
      await Promise.allSettled(this.sources.map((source) => source.return?.()));
    }
  }
}
