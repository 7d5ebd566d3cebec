// The DecoderConfig fields in which the other families differ from a plain
// Llama block, at their Llama values: presets and the GGUF config spread this and override.

import type { DecoderConfig } from './types.js';

/** The fields a plain Llama block has and the other families change (see DecoderConfig). */
export type LlamaBlockFields =
  | 'rotaryDim'
  | 'layerRope'
  | 'layerAttention'
  | 'slidingWindow'
  | 'slidingRopeTheta'
  | 'hiddenAct'
  | 'fusedProjections'
  | 'normUnitOffset'
  | 'sandwichNorms'
  | 'embeddingMultiplier'
  | 'residualMultiplier'
  | 'attentionScale'
  | 'logitsDivisor'
  | 'finalLogitSoftcap';

export function llamaBlock(numLayers: number, headDim: number): Pick<DecoderConfig, LlamaBlockFields> {
  return {
    rotaryDim: headDim,
    layerRope: new Array<boolean>(numLayers).fill(true),
    layerAttention: new Array<'full'>(numLayers).fill('full'),
    slidingWindow: null,
    slidingRopeTheta: null,
    hiddenAct: 'silu',
    fusedProjections: false,
    normUnitOffset: false,
    sandwichNorms: false,
    embeddingMultiplier: 1,
    residualMultiplier: 1,
    attentionScale: 1 / Math.sqrt(headDim),
    logitsDivisor: 1,
    finalLogitSoftcap: null,
  };
}
