// The names and shapes of the decoder graph's inputs and outputs: the one
// place the graph builder, the device worker and the tests agree on them.
//
// Per call, B rows are right-padded to S new tokens. Row b already holds
// past_lens[b] tokens in its KV slot and appends new_lens[b] tokens (0 = idle
// row whose outputs are ignored). The caller owns the KV slot buffers, feeds
// them as inputs (read-only), and writes the returned new.{i}.* into them.
//
// Caller contract (the graph does not check these; ORT errors or garbage follow):
// - padding positions still need valid ids and position ids (< the graph's
//   maxPositions), because they go through Gather like real ones;
// - KV buffer positions ≥ past_len may hold anything *finite*: they are masked
//   out of the softmax, but a NaN/Inf there would survive the 0 · V product;
// - every row's past_len ≤ CAP (and, with sliceKvToMaxPast, max(past_lens) ≤ CAP);
// - logits_rows entries lie in [0, B·S); R ≥ 1.

/** int64 [B, S]: token ids, right-padded (pad value is irrelevant but must be a valid id). */
export const INPUT_IDS = 'input_ids';
/** int64 [B, S]: absolute position of each new token (normally past_len + s). */
export const POSITION_IDS = 'position_ids';
/** int64 [B]: tokens already in the row's KV slot; buffer positions ≥ past_len are ignored. */
export const PAST_LENS = 'past_lens';
/** int64 [B]: valid new tokens in the row (≤ S). */
export const NEW_LENS = 'new_lens';
/** int64 [R]: flat indices b*S+s of the positions whose logits are returned, in that order. */
export const LOGITS_ROWS = 'logits_rows';

/** float32 [R, H]: the final-norm hidden states of the logits_rows positions (graphs built with output 'hidden'). */
export const HIDDEN_STATES = 'hidden_states';
/** float32 [R, V]. */
export const LOGITS = 'logits';
/**
 * int64 [R]: argmax of each logits row (ties → lowest id). Fetching this instead
 * of LOGITS spares the [R, V] copy out of ORT when every sampled row is plain greedy.
 */
export const GREEDY_TOKEN_IDS = 'greedy_token_ids';

/** float32 [B, kvH, CAP, D] input: the row's cached keys (after RoPE). CAP may be 0. */
export const kvKeyInput = (layer: number): string => `kv.${layer}.key`;
/** float32 [B, kvH, CAP, D] input: the row's cached values. */
export const kvValueInput = (layer: number): string => `kv.${layer}.value`;
/** float32 [B, kvH, S, D] output: keys of the new tokens, after RoPE (padding positions are garbage). */
export const newKeyOutput = (layer: number): string => `new.${layer}.key`;
/** float32 [B, kvH, S, D] output: values of the new tokens. */
export const newValueOutput = (layer: number): string => `new.${layer}.value`;

export interface DecoderGraphIo {
  inputNames: string[];
  outputNames: string[];
}

export function decoderGraphIo(numLayers: number): DecoderGraphIo {
  const inputNames = [INPUT_IDS, POSITION_IDS, PAST_LENS, NEW_LENS, LOGITS_ROWS];
  const outputNames = [LOGITS, GREEDY_TOKEN_IDS];
  for (let i = 0; i < numLayers; i++) {
    inputNames.push(kvKeyInput(i), kvValueInput(i));
    outputNames.push(newKeyOutput(i), newValueOutput(i));
  }
  return { inputNames, outputNames };
}
