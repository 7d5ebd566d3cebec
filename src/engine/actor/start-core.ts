// Runs in the scheduler actor thread (workers/scheduler-actor.ts). Boots the
// engine: reads the model's limits, loads every device worker in parallel,
// announces readiness, runs the loop.

import { readModelConfigs } from '../../model/load-model.js';
import type { ActorChannel } from '../channel/channel.js';
import { DEFAULT_MAX_MODEL_LEN_CAP, type EngineConfig } from '../config.js';
import { EngineCore, kvBudget } from './core.js';
import { DeviceHandle } from './device-handle.js';

export async function startEngineCore(channel: ActorChannel, config: EngineConfig): Promise<void> {
  channel.send({ type: 'loading', detail: `loading ${config.modelDir}` });
  const decoder = (await readModelConfigs(config.modelDir)).config;
  const maxModelLen = Math.min(config.maxModelLen ?? Math.min(decoder.maxPositionEmbeddings, DEFAULT_MAX_MODEL_LEN_CAP), decoder.maxPositionEmbeddings);
  const devices = config.devices.map(
    (executionProvider, deviceIndex) =>
      new DeviceHandle({
        deviceIndex,
        modelDir: config.modelDir,
        quantize: config.quantize,
        sliceKvToMaxPast: config.sliceKvToMaxPast,
        executionProvider,
        intraOpThreads: config.intraOpThreads,
        spinning: config.spinning,
        maxSlots: config.maxBatchSize,
        kvBudgetTokens: kvBudget(config, maxModelLen),
        maxModelLen,
        testHooks: config.testHooks,
      }, config.pipelineDepth),
  );
  try {
    await Promise.all(devices.map((device) => device.ready()));
    const core = new EngineCore(channel, devices, config, { maxModelLen, eosTokenIds: decoder.eosTokenIds });
    // A bug that escapes the actor ends it (the front fails every request and
    // reports the death), but only after the device threads leave session.run().
    process.on('uncaughtException', (error) => {
      console.error('scheduler actor: uncaught exception', error);
      core.exitAfterInFlight(1);
    });
    channel.send({ type: 'ready', maxModelLen, workers: devices.length });
    await core.run();
  } finally {
    await Promise.allSettled(devices.map((device) => device.close()));
  }
}
