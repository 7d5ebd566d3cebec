// Test helper (not a test): a fake scheduler actor on ActorChannel.
// For each submit it streams `maxTokens` tokens (promptTokenIds[i % len] + 1),
// one `tokens` message each, then `finished`; `cancel` of an unknown or
// finished request is ignored; `shutdown` ends the loop.

import { workerData } from 'node:worker_threads';
import { ActorChannel, type ChannelSabs } from '../../../src/engine/channel/channel.js';

const channel = new ActorChannel(workerData as ChannelSabs);
channel.send({ type: 'loading', progress: 0 });
channel.send({ type: 'ready', maxModelLen: 4096, workers: 1 });

let running = true;
let idlePolls = 0;
while (running) {
  const batch = channel.poll(); // non-blocking, as between forward passes
  if (batch.length === 0) {
    idlePolls++;
    channel.waitForMessages(1000);
    continue;
  }
  for (const msg of batch) {
    if (msg.type === 'shutdown') {
      running = false;
      break;
    }
    if (msg.type === 'cancel' || msg.type === 'fault') continue;
    const { reqId, promptTokenIds, params } = msg;
    for (let i = 0; i < params.maxTokens; i++) {
      channel.send({ type: 'tokens', reqId, tokenIds: [promptTokenIds[i % promptTokenIds.length] + 1] });
    }
    channel.send({
      type: 'finished',
      reqId,
      reason: 'length',
      promptTokens: promptTokenIds.length,
      completionTokens: params.maxTokens,
    });
  }
}
channel.send({ type: 'stats', running: 0, waiting: 0, kvUsage: [0], time: Date.now(), preemptions: idlePolls });
