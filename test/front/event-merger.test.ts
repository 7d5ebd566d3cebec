// EventMerger: every event of every source once, each source's events in
// order, errors and early return, and O(1) work per event however many sources
// wait (a request may have thousands of choices).

import t from 'tap';
import { EventMerger } from '../../src/front/event-merger.js';

async function* counting(id: number, count: number, delayEvery = 3): AsyncIterable<string> {
  for (let i = 0; i < count; i++) {
    if (i % delayEvery === 0) await new Promise((resolve) => setImmediate(resolve));
    yield `${id}:${i}`;
  }
}

t.test('every event once, in order per source', async (t) => {
  const merger = new EventMerger<string>();
  for (let id = 0; id < 300; id++) merger.add(counting(id, id % 7));
  const seen = new Map<number, number[]>();
  for await (const event of merger) {
    const [id, i] = event.split(':').map(Number);
    seen.set(id, [...(seen.get(id) ?? []), i]);
  }
  let bad = 0;
  for (let id = 0; id < 300; id++) {
    const got = seen.get(id) ?? [];
    if (got.length !== id % 7 || got.some((i, k) => i !== k)) bad++;
  }
  t.equal(bad, 0, 'all 300 sources delivered completely and in order');
});

t.test('a source that throws ends the merge with its error; early return closes every source', async (t) => {
  const failing = new EventMerger<string>();
  failing.add(counting(1, 5));
  failing.add(
    (async function* () {
      yield 'x';
      throw new Error('boom');
    })(),
  );
  await t.rejects(
    (async () => {
      for await (const _ of failing);
    })(),
    /boom/,
  );

  let closed = 0;
  const merger = new EventMerger<string>();
  for (let id = 0; id < 3; id++) {
    merger.add(
      (async function* () {
        try {
          for (let i = 0; ; i++) {
            await new Promise((resolve) => setImmediate(resolve));
            yield `${id}:${i}`;
          }
        } finally {
          closed++;
        }
      })(),
    );
  }
  let taken = 0;
  for await (const _ of merger) if (++taken === 10) break;
  t.equal(closed, 3, 'breaking out returned every source');
});

t.test('idle sources cost nothing per event', async (t) => {
  // Sources whose next() stays pending until the end, and that count how often
  // anything subscribes to that pending promise.
  let subscriptions = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  class CountedPromise<T> extends Promise<T> {
    override then<A = T, B = never>(ok?: ((value: T) => A | PromiseLike<A>) | null, fail?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
      subscriptions++;
      return super.then(ok, fail);
    }
  }
  const idle = (): AsyncIterator<string> => ({
    next: () => new CountedPromise<IteratorResult<string>>((resolve) => void gate.then(() => resolve({ value: undefined, done: true }))),
    return: async () => ({ value: undefined, done: true }),
  });
  const merger = new EventMerger<string>();
  const idleCount = 100;
  for (let i = 0; i < idleCount; i++) merger.add({ [Symbol.asyncIterator]: idle });
  merger.add(
    (async function* () {
      for (let i = 0; i < 500; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        yield `busy:${i}`;
      }
      release();
    })(),
  );
  let events = 0;
  for await (const _ of merger) events++;
  t.equal(events, 500);
  t.ok(subscriptions <= idleCount * 2, `${subscriptions} subscriptions to ${idleCount} idle sources over 500 events (racing them per event would make ~50,000)`);
});
