// SpscRing between the main thread and a real worker_thread: ordering and
// integrity under constant backpressure, and a non-blocking event loop.

import t from 'tap';
import '../support/thread-loaders.js';
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { SpscRing } from '../../src/ipc/ring.js';
import type { EchoWorkerData } from './echo-worker.js';

const FRAMES = 100_000;
const RING_BYTES = 256; // tiny on purpose: both directions are full most of the time

/** xorshift32 byte stream: frame content depends on (seq, position), independent of the ring. */
function frameFor(seq: number, maxLen: number): Uint8Array {
  let x = (Math.imul(seq + 1, 0x9e3779b1) >>> 0) || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const len = next() % (maxLen + 1);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = next() & 0xff;
  return out;
}

function startEcho(data: EchoWorkerData): { worker: Worker; result: Promise<{ count: number; hash: string; writeWaits: number }> } {
  const worker = new Worker(new URL('./echo-worker.js', import.meta.url), { workerData: data });
  const result = new Promise<{ count: number; hash: string; writeWaits: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, result };
}

function hashFrame(hash: ReturnType<typeof createHash>, frame: Uint8Array): void {
  const word = new Uint8Array(4);
  new DataView(word.buffer).setUint32(0, frame.length);
  hash.update(word).update(frame);
}

t.test(`worker echoes ${FRAMES} random-size frames in order through ${RING_BYTES}-byte rings`, async (t) => {
  const toWorker = SpscRing.create(RING_BYTES);
  const fromWorker = SpscRing.create(RING_BYTES);
  const { worker, result } = startEcho({ inbound: toWorker.sab, outbound: fromWorker.sab, expectFrames: FRAMES });
  const maxLen = toWorker.ring.maxFrameBytes;

  const sentHash = createHash('sha256');
  let producerWaits = 0;
  const produce = async () => {
    for (let i = 0; i < FRAMES; i++) {
      const frame = frameFor(i, maxLen);
      hashFrame(sentHash, frame);
      const written = toWorker.ring.write(frame);
      if (toWorker.ring.pendingWrites > 0) producerWaits++;
      await written;
    }
  };

  const echoedHash = createHash('sha256');
  let received = 0;
  let mismatches = 0;
  const consume = async () => {
    while (received < FRAMES) {
      await fromWorker.ring.waitReadable();
      for (const frame of fromWorker.ring.drain(64)) {
        if (Buffer.compare(frame, frameFor(received, maxLen)) !== 0) mismatches++;
        hashFrame(echoedHash, frame);
        received++;
      }
    }
  };

  await Promise.all([produce(), consume()]);
  const report = await result;
  await worker.terminate();

  t.equal(received, FRAMES, 'every frame came back');
  t.equal(mismatches, 0, 'each echoed frame equals the frame sent with that sequence number');
  t.equal(report.count, FRAMES, 'worker saw every frame');
  const sent = sentHash.digest('hex');
  t.equal(report.hash, sent, 'worker-side content hash matches what was sent');
  t.equal(echoedHash.digest('hex'), sent, 'echoed content hash matches what was sent');
  t.ok(producerWaits > 0, `front producer hit backpressure (${producerWaits} waits)`);
  t.ok(report.writeWaits > 0, `worker producer hit backpressure (${report.writeWaits} waits)`);
  t.equal(fromWorker.ring.tryRead(), null, 'nothing extra arrived');
});

t.test('waitReadable on the main thread keeps the event loop running', async (t) => {
  const toWorker = SpscRing.create(64);
  const fromWorker = SpscRing.create(64);
  const { worker, result } = startEcho({
    inbound: toWorker.sab,
    outbound: fromWorker.sab,
    expectFrames: 0,
    delayMs: 300,
  });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const t0 = performance.now();
  await fromWorker.ring.waitReadable();
  const waited = performance.now() - t0;
  clearInterval(timer);
  t.same(fromWorker.ring.tryRead(), new Uint8Array([42]), 'woken by the frame the worker sent');
  t.ok(waited >= 250, `actually waited for the worker (${waited.toFixed(0)} ms)`);
  // About 30 on a quiet machine; a blocking wait would give 0.
  t.ok(ticks >= 3, `a 10 ms timer kept firing while waiting (${ticks} ticks)`);
  await result;
  await worker.terminate();
});
