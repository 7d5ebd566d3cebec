// The part of a request's parameters a device worker needs to sample: a
// subset of the front ↔ scheduler SamplingParams, passed along unchanged.

import type { SamplingParams } from '../ipc/messages.js';

export type WireSamplingParams = Pick<
  SamplingParams,
  | 'temperature'
  | 'topP'
  | 'topK'
  | 'minP'
  | 'seed'
  | 'presencePenalty'
  | 'frequencyPenalty'
  | 'repetitionPenalty'
  | 'logitBias'
  | 'logprobs'
  | 'minTokens'
>;

export function toWireSamplingParams(params: SamplingParams): WireSamplingParams {
  return {
    temperature: params.temperature,
    topP: params.topP,
    topK: params.topK,
    minP: params.minP,
    seed: params.seed,
    presencePenalty: params.presencePenalty,
    frequencyPenalty: params.frequencyPenalty,
    repetitionPenalty: params.repetitionPenalty,
    logitBias: params.logitBias,
    logprobs: params.logprobs,
    minTokens: params.minTokens ?? 0,
  };
}
