// The embedding batcher's policy with a fake forward: which inputs share a
// batch, in which order results come back, and what an abort drops.

import t from 'tap';
import { EmbeddingBatcher, type BatcherOptions, type RunBatch } from '../../src/front/embeddings/batcher.js';
import type { EncoderBatch } from '../../src/worker/encoder/types.js';

/** A fake forward whose "embedding" of a row is [first id, length]; batches complete when released. */
class FakeDevice {
  readonly batches: number[][][] = [];
  private readonly waiting: Array<() => void> = [];
  auto = true;

  run: RunBatch = (batch: EncoderBatch) => {
    const rows: number[][] = [];
    for (let r = 0; r + 1 < batch.offsets.length; r++) rows.push(Array.from(batch.ids.subarray(batch.offsets[r], batch.offsets[r + 1])));
    this.batches.push(rows);
    const embeddings = new Float32Array(rows.length * 2);
    rows.forEach((row, r) => embeddings.set([row[0], row.length], r * 2));
    const result = { embeddings, dimensions: 2 };
    if (this.auto) return Promise.resolve(result);
    return new Promise((resolve) => this.waiting.push(() => resolve(result)));
  };

  releaseAll(): void {
    for (const release of this.waiting.splice(0)) release();
  }
}

const opts = (o: Partial<BatcherOptions> = {}): BatcherOptions => ({ windowMs: 0, maxBatchInputs: 64, maxBatchTokens: 1 << 20, maxInFlight: 2, ...o });
const seq = (first: number, length: number): number[] => Array.from({ length }, (_, i) => first + i);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('results come back in input order; each batch is sorted by length', async (t) => {
  const device = new FakeDevice();
  const batcher = new EmbeddingBatcher(device.run, opts({ maxBatchInputs: 4 }));
  const lengths = [5, 1, 9, 3, 3, 7, 2, 8, 4, 6];
  const inputs = lengths.map((n, i) => seq(100 * (i + 1), n));
  const out = await batcher.submit(inputs);
  t.same(out.map((v) => Array.from(v)), inputs.map((ids) => [ids[0], ids.length]), 'vector i belongs to input i');
  t.ok(device.batches.every((b) => b.length <= 4), 'at most maxBatchInputs rows per batch');
  for (const b of device.batches) t.same(b.map((r) => r.length), [...b.map((r) => r.length)].sort((x, y) => x - y), 'rows sorted by length');
  t.equal(device.batches.flat().length, inputs.length, 'every input ran exactly once');
});

t.test('padded-token budget: rows × longest row stays within maxBatchTokens', async (t) => {
  const device = new FakeDevice();
  const batcher = new EmbeddingBatcher(device.run, opts({ maxBatchTokens: 20 }));
  await batcher.submit([seq(1, 10), seq(2, 10), seq(3, 3), seq(4, 3), seq(5, 3), seq(6, 9)]);
  for (const b of device.batches) t.ok(b.length * Math.max(...b.map((r) => r.length)) <= 20, `batch of ${b.length} rows, longest ${Math.max(...b.map((r) => r.length))}`);
  t.equal(batcher.stats.rows, 6);
});

t.test('an input longer than the token budget still runs, alone', async (t) => {
  const device = new FakeDevice();
  const batcher = new EmbeddingBatcher(device.run, opts({ maxBatchTokens: 4 }));
  const [v] = await batcher.submit([seq(7, 10)]);
  t.same(Array.from(v), [7, 10]);
});

t.test('requests arriving within the window share one forward', async (t) => {
  const device = new FakeDevice();
  const batcher = new EmbeddingBatcher(device.run, opts({ windowMs: 30 }));
  const a = batcher.submit([seq(1, 3)]);
  await sleep(5);
  const b = batcher.submit([seq(2, 4), seq(3, 2)]);
  const [ra, rb] = await Promise.all([a, b]);
  t.equal(device.batches.length, 1, 'one batch for both requests');
  t.same(Array.from(ra[0]), [1, 3]);
  t.same(rb.map((v) => Array.from(v)), [[2, 4], [3, 2]]);
});

t.test('a single request waits no longer than the window', async (t) => {
  const device = new FakeDevice();
  const batcher = new EmbeddingBatcher(device.run, opts({ windowMs: 20 }));
  const started = performance.now();
  await batcher.submit([seq(1, 3)]);
  const waited = performance.now() - started;
  // The upper bound only tells "waited for the window" from "waited for more inputs" (a loaded machine may add a lot).
  t.ok(waited >= 15 && waited < 2000, `waited ${waited.toFixed(1)} ms for a 20 ms window`);
});

t.test('a full batch leaves at once, without waiting for the window', async (t) => {
  const device = new FakeDevice();
  const batcher = new EmbeddingBatcher(device.run, opts({ windowMs: 10_000, maxBatchInputs: 3 }));
  const started = performance.now();
  const out = batcher.submit([seq(1, 2), seq(2, 2), seq(3, 2)]);
  await out;
  t.ok(performance.now() - started < 1000, 'did not wait for the 10 s window');
  batcher.close();
});

t.test('the oldest pending input is in the next batch, whatever its length', async (t) => {
  const device = new FakeDevice();
  device.auto = false;
  const batcher = new EmbeddingBatcher(device.run, opts({ maxBatchInputs: 2, maxInFlight: 1 }));
  const first = batcher.submit([seq(1, 1)]); // runs at once and blocks the only slot
  const old = batcher.submit([seq(50, 30)]); // long, oldest of the waiting ones
  const shorts = batcher.submit([seq(10, 2), seq(11, 2), seq(12, 2), seq(13, 2)]);
  device.releaseAll();
  await first;
  await new Promise((r) => setImmediate(r));
  t.same(device.batches[1].map((r) => r[0]).includes(50), true, 'the long old input runs in the second batch');
  for (let i = 0; i < 4; i++) {
    device.releaseAll();
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all([old, shorts]);
});

t.test('an aborted request drops its inputs that have not run', async (t) => {
  const device = new FakeDevice();
  device.auto = false;
  const batcher = new EmbeddingBatcher(device.run, opts({ maxBatchInputs: 2, maxInFlight: 1 }));
  const controller = new AbortController();
  const blocked = batcher.submit([seq(1, 1)]);
  const doomed = batcher.submit([seq(20, 2), seq(21, 2), seq(22, 2), seq(23, 2)], controller.signal);
  const other = batcher.submit([seq(30, 2)]);
  controller.abort();
  await t.rejects(doomed, { name: 'AbortError' });
  t.equal(batcher.pendingCount, 1, 'only the other request is still pending');
  device.releaseAll();
  await blocked;
  await new Promise((r) => setImmediate(r));
  device.releaseAll();
  const [v] = await other;
  t.same(Array.from(v), [30, 2]);
  t.notOk(device.batches.flat().some((row) => row[0] >= 20 && row[0] < 30), 'no aborted input reached the device');
});

t.test('a failed forward fails the requests in that batch only', async (t) => {
  let calls = 0;
  const run: RunBatch = async (batch) => {
    calls++;
    if (batch.ids[0] === 666) throw new Error('device lost');
    return { embeddings: new Float32Array(batch.offsets.length - 1), dimensions: 1 };
  };
  const batcher = new EmbeddingBatcher(run, opts({ maxBatchInputs: 1 }));
  const bad = batcher.submit([[666]]);
  const good = batcher.submit([[1]]);
  await t.rejects(bad, /device lost/);
  t.equal((await good).length, 1);
  t.equal(calls, 2);
});

t.test('already-aborted signals and empty inputs are refused up front', async (t) => {
  const device = new FakeDevice();
  const batcher = new EmbeddingBatcher(device.run, opts());
  await t.rejects(batcher.submit([[1]], AbortSignal.abort()), { name: 'AbortError' });
  await t.rejects(batcher.submit([[1], []]), /empty/);
  t.equal(device.batches.length, 0);
});
