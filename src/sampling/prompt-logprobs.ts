// Prompt logprobs (echo + logprobs): for each prompt position, the logprob of
// the prompt's actual next token and the top-N alternatives. They come from the
// raw model logits — logit_bias, penalties and masks steer generation and have
// no meaning for text the user supplied (vLLM does the same).

import { logNormaliserAndTop, MAX_TOP_LOGPROBS, rowArgmax, skipNatsFor } from './logprobs.js';

export interface PromptLogprobsOutput {
  /** [rows]: logprob of nextTokenIds[j] under row j. */
  logprobs: Float64Array;
  /** [rows]: number of alternatives written for row j. */
  topCounts: Int32Array;
  /** Row j's alternatives at [j·topN, j·topN + topCounts[j]), logprob descending. */
  topIds: Int32Array;
  topLogprobs: Float64Array;
}

const scratchIds = new Int32Array(MAX_TOP_LOGPROBS);
const scratchLogits = new Float64Array(MAX_TOP_LOGPROBS);
const scratchCount = new Int32Array(1);

/**
 * Row j of `logits` (shape [rows, vocab], rows = nextTokenIds.length) is the
 * model's prediction after prompt position j; nextTokenIds[j] is the token that
 * actually follows. Writes into `out` (allocated when omitted) and returns it.
 * The logits are not modified.
 */
export function promptLogprobs(
  logits: Float32Array,
  vocab: number,
  nextTokenIds: ArrayLike<number>,
  topN: number,
  out?: PromptLogprobsOutput,
): PromptLogprobsOutput {
  if (!Number.isInteger(topN) || topN < 0 || topN > MAX_TOP_LOGPROBS) {
    throw new RangeError(`topN must be an integer in [0, ${MAX_TOP_LOGPROBS}], got ${topN}`);
  }
  const rows = nextTokenIds.length;
  if (logits.length < rows * vocab) throw new RangeError(`logits hold fewer than ${rows} rows of ${vocab}`);
  const result = out ?? {
    logprobs: new Float64Array(rows),
    topCounts: new Int32Array(rows),
    topIds: new Int32Array(rows * topN),
    topLogprobs: new Float64Array(rows * topN),
  };
  const skip = skipNatsFor(vocab);
  for (let j = 0; j < rows; j++) {
    const offset = j * vocab;
    const arg = rowArgmax(logits, offset, vocab);
    if (arg < 0) {
      result.logprobs[j] = NaN;
      result.topCounts[j] = 0;
      continue;
    }
    const max = logits[offset + arg];
    const logZ = logNormaliserAndTop(logits, offset, vocab, max, topN, skip, scratchIds, scratchLogits, scratchCount);
    result.logprobs[j] = logits[offset + nextTokenIds[j]] - logZ;
    const count = scratchCount[0];
    result.topCounts[j] = count;
    for (let i = 0; i < count; i++) {
      result.topIds[j * topN + i] = scratchIds[i];
      result.topLogprobs[j * topN + i] = scratchLogits[i] - logZ;
    }
  }
  return result;
}
