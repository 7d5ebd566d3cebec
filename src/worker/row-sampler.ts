// Sampling on the device worker: each sequence's parameters and sampling state
// live here between steps, so only chosen tokens and requested logprobs leave
// the thread. Wraps the batched Sampler with the seqId bookkeeping.

import type { TokenLogprob } from '../sampling/logprobs.js';
import { compileSamplerParams, type SamplerParams } from '../sampling/params.js';
import { promptLogprobs } from '../sampling/prompt-logprobs.js';
import { Sampler, createSamplerOutput, type SamplerOutput, type SamplerRow } from '../sampling/sampler.js';
import { SequenceSamplingState } from '../sampling/sequence-state.js';
import type { ConstrainedSequence } from '../structured/constrained-sequence.js';
import type { DeviceGrammars } from './device-grammars.js';
import type { Grammar } from '../structured/grammar.js';
import type { RowSample, SlotAdmission } from './types.js';

const MAX_TOP = 20;

interface SequenceRow extends SamplerRow {
  /** Present for structured output: the grammar's matcher, whose mask is the row's allowedMask. */
  constraint: ConstrainedSequence | null;
  /** The ids that end this sequence (EOS unless ignored, stop ids): suppressed while fewer than minTokens were generated. */
  endIds: Int32Array;
  minTokens: number;
}

export class RowSampler {
  private readonly sampler: Sampler;
  private readonly vocab: number;
  private readonly grammars: DeviceGrammars;
  private readonly rows = new Map<string, SequenceRow>();
  private output: SamplerOutput;

  constructor(vocab: number, maxRows: number, grammars: DeviceGrammars) {
    this.vocab = vocab;
    this.grammars = grammars;
    this.sampler = new Sampler(vocab);
    this.output = createSamplerOutput(maxRows, MAX_TOP);
  }

  async admit(admission: SlotAdmission): Promise<void> {
    const params = compileSamplerParams(admission.params);
    const state = SequenceSamplingState.forParams(params, admission.promptTokenIds, admission.generatedTokenIds);
    const { grammar } = admission.params;
    const constraint = grammar ? await this.grammars.start(grammar, admission.generatedTokenIds) : null;
    this.rows.set(admission.seqId, {
      state,
      params,
      constraint,
      allowedMask: constraint?.mask ?? null,
      endIds: Int32Array.from(admission.stopTokenIds),
      minTokens: admission.params.minTokens,
    });
  }

  forget(seqId: string): void {
    this.rows.get(seqId)?.constraint?.dispose();
    this.rows.delete(seqId);
  }

  forgetAll(): void {
    for (const row of this.rows.values()) row.constraint?.dispose();
    this.rows.clear();
  }

  /** Compiles a grammar into the worker's cache before its sequence is admitted. */
  prepareGrammar(grammar: Grammar): Promise<void> {
    return this.grammars.prepare(grammar);
  }

  /** Computes the grammar masks of the rows about to be sampled (call while their forward pass is pending). */
  prepareMasks(seqIds: readonly string[]): void {
    for (const seqId of seqIds) this.rows.get(seqId)?.constraint?.prepareMask();
  }

  /**
   * True when every row's token is the plain argmax of the model's logits: greedy,
   * no logprobs, no bias or penalties, no grammar. Such rows can take the graph's
   * in-graph argmax and skip fetching their logits.
   */
  allPlainGreedy(seqIds: readonly string[]): boolean {
    for (const seqId of seqIds) {
      const row = this.rows.get(seqId);
      if (!row || row.constraint !== null || !isPlainGreedy(row.params) || suppressesEnd(row)) return false;
    }
    return true;
  }

  /** Records tokens chosen by the graph's argmax for rows that passed allPlainGreedy. */
  acceptArgmax(tokenIds: BigInt64Array, seqIds: readonly string[]): RowSample[] {
    return seqIds.map((seqId, r) => {
      const row = this.rows.get(seqId);
      if (!row) throw new Error(`no sampling state for sequence ${seqId}`);
      const token = Number(tokenIds[r]);
      row.state.accept(token);
      return { seqId, token, logprob: null };
    });
  }

  /** One token per seqId from consecutive logits rows (modified in place). */
  sample(logits: Float32Array, seqIds: string[]): RowSample[] {
    if (seqIds.length === 0) return [];
    if (seqIds.length > this.output.maxRows) this.output = createSamplerOutput(seqIds.length, MAX_TOP);
    const rows = seqIds.map((seqId) => {
      const row = this.rows.get(seqId);
      if (!row) throw new Error(`no sampling state for sequence ${seqId}`);
      row.constraint?.prepareMask();
      row.suppressedIds = suppressesEnd(row) ? row.endIds : null;
      return row;
    });
    const out = this.output;
    this.sampler.sampleBatch(logits, rows, out);
    return seqIds.map((seqId, r) => {
      const token = out.tokenIds[r];
      if (token < 0) throw new Error(`sequence ${seqId}: every token was masked out`);
      rows[r].constraint?.accept(token);
      const wantsLogprobs = rows[r].params.logprobs !== null;
      return { seqId, token, logprob: wantsLogprobs ? readLogprob(out, r) : null };
    });
  }

  /**
   * Logprobs of the fed prompt tokens: logits row j predicts token j + 1 of the
   * chunk, and the chunk's last row predicts `followingToken` (the next chunk's
   * first token) when there is one.
   */
  scorePrompt(logits: Float32Array, tokens: number[], followingToken: number | null, topN: number): TokenLogprob[] {
    const next = tokens.slice(1);
    if (followingToken !== null) next.push(followingToken);
    const scored = promptLogprobs(logits, this.vocab, next, topN);
    return next.map((_, j) => {
      const top: Array<[number, number]> = [];
      for (let k = 0; k < scored.topCounts[j]; k++) top.push([scored.topIds[j * topN + k], scored.topLogprobs[j * topN + k]]);
      return { logprob: scored.logprobs[j], top };
    });
  }
}

/** min_tokens: the sequence may not end yet. */
function suppressesEnd(row: SequenceRow): boolean {
  return row.endIds.length > 0 && row.state.step < row.minTokens;
}

function isPlainGreedy(p: SamplerParams): boolean {
  return (
    p.temperature === 0 &&
    p.logprobs === null &&
    p.logitBias === null &&
    p.presencePenalty === 0 &&
    p.frequencyPenalty === 0 &&
    p.repetitionPenalty === 1
  );
}

function readLogprob(out: SamplerOutput, r: number): TokenLogprob {
  const top: Array<[number, number]> = [];
  const base = r * out.maxTop;
  for (let k = 0; k < out.topCounts[r]; k++) top.push([out.topIds[base + k], out.topLogprobs[base + k]]);
  return { logprob: out.logprobs[r], top };
}
