// Single-thread correctness of SpscRing: FIFO order, wrap-around, counter
// overflow, capacity accounting, oversize frames, async backpressure, close.

import t from 'tap';
import fc from 'fast-check';
import { SpscRing, RING_HEADER } from '../../src/ipc/ring.js';
import { FrameTooLargeError, RingClosedError } from '../../src/ipc/errors.js';

/** Deterministic, index-dependent payload so a misplaced or torn frame is visible. */
function payload(seq: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = (seq * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

// The documented frame format: 4-byte length word + payload padded to 4 bytes.
const footprint = (len: number) => 4 + Math.ceil(len / 4) * 4;

t.test('capacity is rounded up to a power of two and both ends agree', async (t) => {
  const { ring, sab } = SpscRing.create(100);
  t.equal(ring.capacity, 128);
  t.equal(ring.maxFrameBytes, 124);
  const other = SpscRing.attach(sab);
  t.equal(other.capacity, 128);
  t.throws(() => SpscRing.create(0), RangeError);
  t.throws(() => SpscRing.attach(new SharedArrayBuffer(64)), TypeError);
});

t.test('frames come out in order with identical bytes, including empty frames', async (t) => {
  const { ring: producer, sab } = SpscRing.create(128);
  const consumer = SpscRing.attach(sab);
  t.equal(consumer.tryRead(), null);
  const sizes = [0, 1, 2, 3, 4, 5, 17, 0, 30];
  let seq = 0;
  for (const len of sizes.slice(0, 4)) t.ok(producer.tryWrite(payload(seq++, len)));
  let readSeq = 0;
  for (let i = 0; i < 4; i++) t.same(consumer.tryRead(), payload(readSeq++, sizes[i]));
  for (const len of sizes.slice(4)) t.ok(producer.tryWrite(payload(seq++, len)), `write ${len}`);
  const drained = consumer.drain();
  t.equal(drained.length, 5);
  drained.forEach((f, i) => t.same(f, payload(readSeq + i, sizes[4 + i])));
  t.equal(consumer.tryRead(), null);
});

t.test('a frame of exactly maxFrameBytes fits at any head position (split copy)', async (t) => {
  const { ring, sab } = SpscRing.create(64);
  const consumer = SpscRing.attach(sab);
  for (let shift = 0; shift < 64; shift += 4) {
    // Move the counters by `shift` bytes, then send the largest frame.
    if (shift > 0) {
      t.ok(ring.tryWrite(new Uint8Array(shift - 4)));
      t.equal(consumer.tryRead()?.length, shift - 4);
    }
    const big = payload(shift, ring.maxFrameBytes);
    t.ok(ring.tryWrite(big), `fits after shift ${shift}`);
    t.notOk(ring.tryWrite(new Uint8Array(0)), 'ring is now full');
    t.same(consumer.tryRead(), big);
  }
});

t.test('oversize frames are rejected with FrameTooLargeError', async (t) => {
  const { ring } = SpscRing.create(64);
  t.throws(() => ring.tryWrite(new Uint8Array(61)), FrameTooLargeError);
  t.throws(() => ring.writeBlocking(new Uint8Array(1000), 1), FrameTooLargeError);
  await t.rejects(ring.write(new Uint8Array(61)), FrameTooLargeError);
  t.ok(ring.tryWrite(new Uint8Array(60)), 'max frame still accepted');
  try {
    ring.tryWrite(new Uint8Array(100));
    t.fail('should throw');
  } catch (err) {
    t.match((err as Error).message, /100 bytes exceeds .*60 bytes/);
  }
});

t.test('random interleavings match a reference FIFO (fast-check)', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 4, max: 8 }).map((e) => 1 << e), // capacity 16..256
      fc.array(fc.oneof(fc.record({ write: fc.nat(300) }), fc.record({ read: fc.integer({ min: 1, max: 4 }) })), {
        maxLength: 400,
      }),
      (capacity, ops) => {
        const { ring, sab } = SpscRing.create(capacity);
        const consumer = SpscRing.attach(sab);
        const model: Uint8Array[] = [];
        let used = 0;
        let seq = 0;
        for (const op of ops) {
          if ('write' in op) {
            const len = op.write % (capacity - 3); // 0..capacity-4
            const frame = payload(seq, len);
            const fits = used + footprint(len) <= capacity;
            const ok = ring.tryWrite(frame);
            if (ok !== fits) return false;
            if (ok) {
              model.push(frame);
              used += footprint(len);
              seq++;
            }
          } else {
            const got = consumer.drain(op.read);
            const want = model.splice(0, op.read);
            if (got.length !== want.length) return false;
            for (let i = 0; i < got.length; i++) {
              if (Buffer.compare(got[i], want[i]) !== 0) return false;
              used -= footprint(want[i].length);
            }
          }
        }
        const rest = consumer.drain();
        return rest.length === model.length && rest.every((f, i) => Buffer.compare(f, model[i]) === 0);
      },
    ),
    { numRuns: 300 },
  );
  t.pass('property held');
});

t.test('head/tail counters wrap past 2^31 without losing frames', async (t) => {
  const { sab } = SpscRing.create(128);
  const header = new Int32Array(sab, 0, 64);
  const start = 0x7fffffe0; // 32 bytes below INT32_MAX
  header[RING_HEADER.HEAD] = start;
  header[RING_HEADER.TAIL] = start;
  const producer = SpscRing.attach(sab);
  const consumer = SpscRing.attach(sab);
  for (let i = 0; i < 50; i++) {
    const frame = payload(i, (i * 7) % 40);
    t.ok(producer.tryWrite(frame));
    if (i % 2 === 1) {
      t.same(consumer.tryRead(), payload(i - 1, ((i - 1) * 7) % 40));
      t.same(consumer.tryRead(), frame);
    }
  }
  t.ok(header[RING_HEADER.HEAD] < 0, 'HEAD went negative (wrapped)');
  t.equal(consumer.tryRead(), null);
});

t.test('async write waits for space and preserves order with later tryWrite', async (t) => {
  const { ring, sab } = SpscRing.create(32);
  const consumer = SpscRing.attach(sab);
  t.ok(ring.tryWrite(payload(0, 20))); // 24 of 32 bytes
  let resolved = false;
  const p = ring.write(payload(1, 20)).then(() => {
    resolved = true;
  });
  t.equal(ring.pendingWrites, 1);
  t.notOk(ring.tryWrite(new Uint8Array(0)), 'tryWrite refuses while a write is queued, even if it would fit');
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(resolved, 'still waiting while full');
  t.ok(ring.blockedForMs() >= 10, 'reports how long it has been blocked');
  t.same(consumer.tryRead(), payload(0, 20));
  await p;
  t.ok(resolved);
  t.equal(ring.pendingWrites, 0);
  t.equal(ring.blockedForMs(), 0);
  t.same(consumer.tryRead(), payload(1, 20));
});

t.test('close wakes waiters and rejects queued writes', async (t) => {
  const { ring, sab } = SpscRing.create(16);
  const consumer = SpscRing.attach(sab);
  t.ok(ring.tryWrite(new Uint8Array(12)));
  const queued = ring.write(new Uint8Array(4));
  const drainedReader = SpscRing.create(16);
  const waiting = SpscRing.attach(drainedReader.sab).waitReadable();
  drainedReader.ring.close();
  await waiting; // resolves because of close, not data
  consumer.close();
  await t.rejects(queued, RingClosedError);
  t.throws(() => ring.tryWrite(new Uint8Array(1)), RingClosedError);
  t.equal(consumer.tryRead()?.length, 12, 'frames written before close are still readable');
});

t.test('readBlocking returns null after its timeout on an empty ring', async (t) => {
  const { ring } = SpscRing.create(16);
  const t0 = performance.now();
  t.equal(ring.readBlocking(30), null);
  t.ok(performance.now() - t0 >= 25);
});
