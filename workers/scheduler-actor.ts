// Entry point of the scheduler actor thread: loads the model's limits, starts
// one device worker per configured device, tells the front it is ready, then
// runs the engine loop until shutdown.

import { workerData } from 'node:worker_threads';
import { ActorChannel, type ChannelSabs } from '../src/engine/channel/channel.js';
import type { EngineConfig } from '../src/engine/config.js';
import { startEngineCore } from '../src/engine/actor/start-core.js';

const { sabs, config } = workerData as { sabs: ChannelSabs; config: EngineConfig };
const channel = new ActorChannel(sabs);
await startEngineCore(channel, config);
channel.close();
