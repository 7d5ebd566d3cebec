// Test helper (not a test): echoes every frame from `inbound` to `outbound`
// with blocking reads/writes, hashing what it received. Reports
// { count, hash, writeWaits } to the parent when `expectFrames` were echoed.
// With `delayMs`, it first sleeps (blocking) and then sends one frame, for the
// "waitAsync does not block the event loop" test.

import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { SpscRing } from '../../src/ipc/ring.js';

export interface EchoWorkerData {
  inbound: SharedArrayBuffer;
  outbound: SharedArrayBuffer;
  expectFrames: number;
  delayMs?: number;
}

const data = workerData as EchoWorkerData;
const inbound = SpscRing.attach(data.inbound);
const outbound = SpscRing.attach(data.outbound);

if (data.delayMs !== undefined) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, data.delayMs);
  outbound.writeBlocking(new Uint8Array([42]));
}

const hash = createHash('sha256');
const lengthWord = new Uint8Array(4);
let count = 0;
let writeWaits = 0;
while (count < data.expectFrames) {
  const frame = inbound.readBlocking(10_000);
  if (frame === null) break;
  new DataView(lengthWord.buffer).setUint32(0, frame.length);
  hash.update(lengthWord).update(frame);
  if (!outbound.tryWrite(frame)) {
    writeWaits++;
    if (!outbound.writeBlocking(frame, 10_000)) break;
  }
  count++;
}
parentPort?.postMessage({ count, hash: hash.digest('hex'), writeWaits });
