// FrontChannel ↔ ActorChannel through a real worker: typed messages in both
// directions, per-request ordering, and send-side backpressure reporting.

import t from 'tap';
import '../../support/thread-loaders.js';
import { Worker } from 'node:worker_threads';
import { createChannelPair, FrontChannel } from '../../../src/engine/channel/channel.js';
import type { ActorToFrontMessage } from '../../../src/engine/channel/messages.js';
import type { SamplingParams } from '../../../src/sampling/params.js';
import { RingClosedError } from '../../../src/ipc/errors.js';
import { DEFAULT_SAMPLING } from '../../../src/engine/client/engine.js';

const params: SamplingParams = { ...DEFAULT_SAMPLING, maxTokens: 0, temperature: 1 };

t.test('submits stream back tokens and finished, in order, under backpressure', async (t) => {
  const REQUESTS = 2000;
  // Small rings so both directions fill up.
  const { frontSabs, actorSabs } = createChannelPair({ toActorBytes: 1024, toFrontBytes: 512 });
  const worker = new Worker(new URL('./actor-worker.js', import.meta.url), { workerData: actorSabs });
  const workerError = new Promise<never>((_, reject) => worker.once('error', reject));
  const front = new FrontChannel(frontSabs);

  const received: ActorToFrontMessage[] = [];
  let finished = 0;
  let lastStats = null as ActorToFrontMessage | null;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const loop = front.onMessage((msg) => {
    received.push(msg);
    if (msg.type === 'finished' && ++finished === REQUESTS) resolveDone();
    if (msg.type === 'stats') lastStats = msg;
  });

  const prompts = new Map<number, number[]>();
  const sends: Promise<void>[] = [];
  let maxPending = 0;
  for (let reqId = 1; reqId <= REQUESTS; reqId++) {
    const prompt = Array.from({ length: 1 + (reqId % 7) }, (_, i) => reqId * 10 + i);
    prompts.set(reqId, prompt);
    sends.push(
      front.send({
        type: 'submit',
        reqId,
        promptTokenIds: prompt,
        params: { ...params, maxTokens: reqId % 5 },
        arrivalTime: Date.now(),
      }),
    );
    maxPending = Math.max(maxPending, front.backpressure().pendingMessages);
  }
  t.ok(maxPending > 0, `front→actor ring filled and queued sends (${maxPending} pending at peak)`);
  t.ok(front.trySend({ type: 'cancel', reqId: 1 }) === false, 'trySend refuses while sends are queued');
  await Promise.race([Promise.all(sends), workerError]);
  t.equal(front.backpressure().pendingMessages, 0, 'queue drained');
  await Promise.race([done, workerError]);

  t.equal(received[0].type, 'loading');
  t.equal(received[1].type, 'ready');
  // Each request: exactly maxTokens tokens messages with the expected ids, then one finished.
  const perReq = new Map<number, ActorToFrontMessage[]>();
  for (const m of received) if ('reqId' in m) perReq.set(m.reqId, [...(perReq.get(m.reqId) ?? []), m]);
  let bad = 0;
  for (const [reqId, prompt] of prompts) {
    const msgs = perReq.get(reqId) ?? [];
    const n = reqId % 5;
    const ok =
      msgs.length === n + 1 &&
      msgs.slice(0, n).every((m, i) => m.type === 'tokens' && m.tokenIds.length === 1 && m.tokenIds[0] === prompt[i % prompt.length] + 1) &&
      msgs[n].type === 'finished' &&
      msgs[n].completionTokens === n &&
      msgs[n].promptTokens === prompt.length;
    if (!ok) bad++;
  }
  t.equal(bad, 0, 'every request got its tokens in order followed by one finished');

  await front.send({ type: 'shutdown' });
  await new Promise((r) => worker.once('exit', r));
  // The final stats message was written before the worker exited.
  await new Promise((r) => setTimeout(r, 20));
  t.equal(lastStats?.type, 'stats', 'final stats arrived');
  front.close();
  await loop;
  t.pass('receive loop ended after close');
  await t.rejects(front.send({ type: 'cancel', reqId: 1 }), RingClosedError, 'send after close fails');
});
