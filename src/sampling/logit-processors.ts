// The steps that rewrite a row's logits in place before any distribution is
// formed, in vLLM's order: logit_bias → repetition → frequency → presence → mask.
//
// Formulas (l = logit after the previous step):
//   logit_bias:  l[t] += bias[t]
//   repetition:  for t in prompt ∪ generated:  l[t] = l[t] > 0 ? l[t] / r : l[t] · r   (HF / vLLM)
//   frequency:   l[t] -= frequency_penalty · count[t]      (count over generated tokens, OpenAI)
//   presence:    l[t] -= presence_penalty · [count[t] > 0]  (generated tokens, OpenAI)
//   mask:        l[t] = -∞ where the allowed-token bitmask has bit t clear
// -∞ is absorbing under every earlier step, so the mask's position only matters
// for readability; it stays last so bias can never resurrect a masked token.

import type { SamplerParams } from './params.js';
import type { SequenceSamplingState } from './sequence-state.js';

/** Apply logit_bias and penalties to logits[offset .. offset+vocab). */
export function applyBiasAndPenalties(
  logits: Float32Array,
  offset: number,
  params: SamplerParams,
  state: SequenceSamplingState,
): void {
  const bias = params.logitBias;
  if (bias !== null) {
    const ids = bias.ids;
    const values = bias.values;
    for (let j = 0; j < ids.length; j++) logits[offset + ids[j]] += values[j];
  }

  const rep = params.repetitionPenalty;
  if (rep !== 1) {
    const ids = state.seenIds;
    for (let j = 0; j < state.seenUnique; j++) {
      const k = offset + ids[j];
      const v = logits[k];
      logits[k] = v > 0 ? v / rep : v * rep;
    }
  }

  const freq = params.frequencyPenalty;
  const pres = params.presencePenalty;
  if (freq !== 0 || pres !== 0) {
    const ids = state.outputIds;
    const counts = state.outputCounts;
    for (let j = 0; j < state.outputUnique; j++) {
      logits[offset + ids[j]] -= freq * counts[j] + pres;
    }
  }
}

/**
 * Set -∞ wherever the mask disallows a token. Mask layout is xgrammar's:
 * Int32 words, bit (t & 31) of word (t >> 5) set = token t allowed. Words past
 * the end of a short mask count as all-disallowed (padding ids of a padded
 * embedding matrix must never be produced).
 */
export function applyAllowedMask(logits: Float32Array, offset: number, vocab: number, mask: Int32Array): void {
  const words = (vocab + 31) >>> 5;
  for (let w = 0; w < words; w++) {
    const bits = w < mask.length ? mask[w] : 0;
    if (bits === -1) continue;
    const base = offset + (w << 5);
    const end = offset + Math.min((w + 1) << 5, vocab);
    if (bits === 0) {
      logits.fill(-Infinity, base, end);
      continue;
    }
    for (let k = base; k < end; k++) {
      if (((bits >>> (k - base)) & 1) === 0) logits[k] = -Infinity;
    }
  }
}
