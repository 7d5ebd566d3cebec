// Interleaves several async event sources into one, in arrival order: a
// response with several choices reads them all through one iterator. If a
// source throws, the merged iterator throws; returning early closes every source.

export class EventMerger<T> implements AsyncIterable<T> {
  private readonly sources: AsyncIterator<T>[] = [];

  add(source: AsyncIterable<T>): void {
    this.sources.push(source[Symbol.asyncIterator]());
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();
    const pull = (index: number): void => {
      pending.set(index, this.sources[index].next().then((result) => ({ index, result })));
    };
    this.sources.forEach((_, index) => pull(index));
    try {
      while (pending.size > 0) {
        const { index, result } = await Promise.race(pending.values());
        if (result.done) {
          pending.delete(index);
          continue;
        }
        pull(index);
        yield result.value;
      }
    } finally {
      await Promise.allSettled(this.sources.map((source) => source.return?.()));
    }
  }
}
