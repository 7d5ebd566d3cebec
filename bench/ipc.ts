// Front ↔ scheduler IPC: SharedArrayBuffer SPSC rings vs plain postMessage.
//
//   node dist/bench/ipc.js [--quick]
//
// latency:   one 1-token `tokens` message front → worker → front, one at a time (p50/p99 µs)
// echo tput: same round trip with up to WINDOW messages in flight (round trips/s)
// stream:    worker → front only, as when streaming tokens (messages/s received on the front)
// Both transports include the message (de)serialisation: msgpack for rings,
// structured clone for postMessage.

import { Worker } from 'node:worker_threads';
import { createChannelPair, FrontChannel } from '../src/engine/channel/channel.js';
import { decodeMessage, encodeMessageShared } from '../src/engine/channel/codec.js';
import type { TokensMessage } from '../src/engine/channel/messages.js';
import { SpscRing } from '../src/ipc/ring.js';
import type { BenchWorkerData } from './ipc-worker.js';

const quick = process.argv.includes('--quick');
const LATENCY_ITERS = quick ? 5_000 : 50_000;
const TPUT_MSGS = quick ? 50_000 : 500_000;
const WINDOW = 256;
const RING_BYTES = 1 << 20;

const msg: TokensMessage = { type: 'tokens', reqId: 12345, tokenIds: [42] };

function spawn(data: BenchWorkerData): Worker {
  return new Worker(new URL('./ipc-worker.js', import.meta.url), { workerData: data });
}

function once(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

interface Row {
  transport: string;
  p50: number;
  p99: number;
  echoPerSec: number;
  streamPerSec: number;
}

async function ringEcho(): Promise<Pick<Row, 'p50' | 'p99' | 'echoPerSec'>> {
  const toWorker = SpscRing.create(RING_BYTES);
  const fromWorker = SpscRing.create(RING_BYTES);
  const worker = spawn({ mode: 'ring-echo', inbound: toWorker.sab, outbound: fromWorker.sab });
  await once(worker);
  const out = toWorker.ring;
  const inn = fromWorker.ring;

  const recvOne = async () => {
    let frame = inn.tryReadView();
    while (frame === null) {
      await inn.waitReadable();
      frame = inn.tryReadView();
    }
    return decodeMessage(frame);
  };

  // Latency: strictly one message in flight.
  const samples = new Float64Array(LATENCY_ITERS);
  for (let i = -1000; i < LATENCY_ITERS; i++) {
    const t0 = process.hrtime.bigint();
    out.tryWrite(encodeMessageShared(msg));
    await recvOne();
    if (i >= 0) samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  samples.sort();

  // Throughput: keep WINDOW in flight.
  const t0 = performance.now();
  let sent = 0;
  let received = 0;
  while (received < TPUT_MSGS) {
    while (sent < TPUT_MSGS && sent - received < WINDOW && out.tryWrite(encodeMessageShared(msg))) sent++;
    await recvOne();
    received++;
    let frame: Uint8Array | null;
    while ((frame = inn.tryReadView()) !== null) {
      decodeMessage(frame);
      received++;
    }
  }
  const echoPerSec = TPUT_MSGS / ((performance.now() - t0) / 1000);
  out.close();
  await worker.terminate();
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), echoPerSec };
}

async function pmEcho(): Promise<Pick<Row, 'p50' | 'p99' | 'echoPerSec'>> {
  const worker = spawn({ mode: 'pm-echo' });
  await once(worker);
  let onReply: (() => void) | null = null;
  let received = 0;
  worker.on('message', () => {
    received++;
    onReply?.();
  });
  const next = () => new Promise<void>((r) => (onReply = r));

  const samples = new Float64Array(LATENCY_ITERS);
  for (let i = -1000; i < LATENCY_ITERS; i++) {
    const t0 = process.hrtime.bigint();
    const reply = next();
    worker.postMessage(msg);
    await reply;
    if (i >= 0) samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  samples.sort();

  received = 0;
  const t0 = performance.now();
  let sent = 0;
  while (received < TPUT_MSGS) {
    while (sent < TPUT_MSGS && sent - received < WINDOW) {
      worker.postMessage(msg);
      sent++;
    }
    await next();
  }
  const echoPerSec = TPUT_MSGS / ((performance.now() - t0) / 1000);
  await worker.terminate();
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), echoPerSec };
}

async function ringStream(): Promise<number> {
  const { frontSabs, actorSabs } = createChannelPair({ toFrontBytes: RING_BYTES });
  const worker = spawn({ mode: 'ring-stream', sabs: actorSabs, count: TPUT_MSGS });
  const front = new FrontChannel(frontSabs);
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  void front.onMessage(() => {
    if (++received === TPUT_MSGS) done();
  });
  const t0 = performance.now();
  await front.send({ type: 'shutdown' }); // any message serves as the start signal
  await finished;
  const perSec = TPUT_MSGS / ((performance.now() - t0) / 1000);
  front.close();
  await worker.terminate();
  return perSec;
}

async function pmStream(): Promise<number> {
  const worker = spawn({ mode: 'pm-stream', count: TPUT_MSGS });
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  worker.on('message', () => {
    if (++received === TPUT_MSGS) done();
  });
  const t0 = performance.now();
  worker.postMessage('start');
  await finished;
  const perSec = TPUT_MSGS / ((performance.now() - t0) / 1000);
  await worker.terminate();
  return perSec;
}

async function main(): Promise<void> {
  const ring: Row = { transport: 'SAB ring + msgpack', ...(await ringEcho()), streamPerSec: await ringStream() };
  const pm: Row = { transport: 'postMessage', ...(await pmEcho()), streamPerSec: await pmStream() };
  const fmt = (n: number, d = 1) => n.toFixed(d);
  const kfmt = (n: number) => `${(n / 1000).toFixed(0)}k`;
  console.log(`node ${process.version}, ${LATENCY_ITERS} latency samples, ${TPUT_MSGS} msgs for throughput, window ${WINDOW}`);
  console.log('transport            | RTT p50 µs | RTT p99 µs | echo round trips/s | stream msgs/s (worker→front)');
  console.log('---------------------|-----------:|-----------:|-------------------:|----------------------------:');
  for (const r of [ring, pm]) {
    console.log(
      `${r.transport.padEnd(20)} | ${fmt(r.p50).padStart(10)} | ${fmt(r.p99).padStart(10)} | ${kfmt(r.echoPerSec).padStart(18)} | ${kfmt(r.streamPerSec).padStart(27)}`,
    );
  }
  console.log(
    `ring / postMessage   | ${fmt(ring.p50 / pm.p50, 2).padStart(10)} | ${fmt(ring.p99 / pm.p99, 2).padStart(10)} | ${fmt(ring.echoPerSec / pm.echoPerSec, 2).padStart(18)} | ${fmt(ring.streamPerSec / pm.streamPerSec, 2).padStart(27)}`,
  );
  console.log('(latency ratio < 1 and throughput ratio > 1 mean the ring is better)');
}

await main();
