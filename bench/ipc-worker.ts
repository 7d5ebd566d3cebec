// Bench helper (run by bench/ipc.ts inside a worker_thread).
// Modes:
//   ring-echo   decode each frame from the inbound ring, re-encode, write it back
//   pm-echo     postMessage each received message straight back
//   ring-stream send `count` 1-token `tokens` messages through the ring as fast as possible
//   pm-stream   the same with postMessage

import { parentPort, workerData } from 'node:worker_threads';
import { ActorChannel, type ChannelSabs } from '../src/engine/channel/channel.js';
import { decodeMessage, encodeMessageShared } from '../src/engine/channel/codec.js';
import { SpscRing } from '../src/ipc/ring.js';

export type BenchWorkerData =
  | { mode: 'ring-echo'; inbound: SharedArrayBuffer; outbound: SharedArrayBuffer }
  | { mode: 'pm-echo' }
  | { mode: 'ring-stream'; sabs: ChannelSabs; count: number }
  | { mode: 'pm-stream'; count: number };

const data = workerData as BenchWorkerData;
const port = parentPort!;

switch (data.mode) {
  case 'ring-echo': {
    const inbound = SpscRing.attach(data.inbound);
    const outbound = SpscRing.attach(data.outbound);
    port.postMessage('started');
    for (;;) {
      if (!inbound.waitReadableSync(5_000)) continue;
      if (inbound.closed && !inbound.readable()) break;
      const frame = inbound.tryReadView();
      if (frame === null) continue;
      outbound.writeBlocking(encodeMessageShared(decodeMessage(frame)));
    }
    break;
  }
  case 'pm-echo':
    port.on('message', (msg: unknown) => port.postMessage(msg));
    port.postMessage('started');
    break;
  case 'ring-stream': {
    const channel = new ActorChannel(data.sabs);
    channel.waitForMessages(10_000); // start signal
    channel.poll();
    for (let i = 0; i < data.count; i++) channel.send({ type: 'tokens', reqId: i, tokenIds: [i & 0xffff] });
    break;
  }
  case 'pm-stream':
    port.once('message', () => {
      for (let i = 0; i < data.count; i++) port.postMessage({ type: 'tokens', reqId: i, tokenIds: [i & 0xffff] });
    });
    break;
}
