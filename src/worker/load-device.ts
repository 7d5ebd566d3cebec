// Builds a device worker's engine room from its config: load the checkpoint,
// build Serval's slot-KV graph from it, open the session, size the KV pool.

import { loadModel } from '../model/load-model.js';
import { buildDecoderGraph } from '../model/graph/decoder-graph.js';
import { createStagedSession } from '../model/graph/session.js';
import { Device, type SampleAnnouncer } from './device.js';
import { DeviceGrammars } from './device-grammars.js';
import { DecoderForward } from './forward.js';
import { KvSlotPool } from './kv-pool.js';
import { RowSampler } from './row-sampler.js';
import type { DeviceWorkerConfig } from './types.js';

export async function loadDevice(config: DeviceWorkerConfig, announce: SampleAnnouncer | null = null): Promise<Device> {
  const model = await loadModel(config.modelDir);
  const c = model.config;
  const session = await createStagedSession(
    (externalData) =>
      buildDecoderGraph(c, model.weights, {
        quantize: config.quantize ?? undefined,
        sliceKvToMaxPast: config.sliceKvToMaxPast,
        // Not max_position_embeddings (131072 for Llama 3): tables of tens of MB the engine never reads.
        maxPositions: config.maxModelLen,
        externalData,
      }),
    { intraOpThreads: config.intraOpThreads, spinning: config.spinning, executionProvider: config.executionProvider },
  );
  const forward = new DecoderForward(session, { layers: c.numLayers, kvHeads: c.numKvHeads, headDim: c.headDim, vocabSize: c.vocabSize });
  const pool = new KvSlotPool({
    layers: c.numLayers,
    kvHeads: c.numKvHeads,
    headDim: c.headDim,
    maxSlots: config.maxSlots,
    budgetTokens: config.kvBudgetTokens,
    maxCapacity: config.maxModelLen,
  });
  // Only the small fields: holding `model` would keep the JS copy of the weights alive.
  const { tokenizerJsonPath, tokenizerJsonText, tokenizerConfig, chatTemplate } = model;
  const grammars = new DeviceGrammars({ tokenizerJsonPath, tokenizerJsonText, tokenizerConfig, chatTemplate, config: c });
  const sampler = new RowSampler(c.vocabSize, config.maxSlots, grammars);
  return new Device(forward, pool, sampler, c.vocabSize, announce);
}
