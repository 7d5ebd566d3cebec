// Plain data crossing the scheduler boundary: the scheduler actor hands a
// StepPlan to a device worker, and feeds the sampled tokens back through
// postprocess(). Everything here is structured-clone / msgpack friendly
// (strings, numbers, arrays): no class instances, no Maps.

/** Identifies one request for its whole life. Chosen by the caller (e.g. the HTTP request id). */
export type SeqId = string;

/** What a request asks for, in token ids. Crosses the front → scheduler-actor boundary. */
export interface SequenceRequest {
  id: SeqId;
  promptTokenIds: readonly number[];
  /** Requested completion length; clipped so that prompt + maxTokens ≤ maxModelLen. */
  maxTokens: number;
  /** Any of these ends generation with reason 'stop' (unless ignoreEos). */
  eosTokenIds?: readonly number[];
  ignoreEos?: boolean;
  /** Any of these ends generation with reason 'stop', even with ignoreEos. */
  stopTokenIds?: readonly number[];
}

export interface SchedulerConfig {
  /** Number of device workers; each owns one KV slot pool. */
  workers: number;
  /** Slots per worker = most sequences one worker holds at once = its largest decode batch. */
  maxSlotsPerWorker: number;
  /**
   * Tokens fed to one worker in one step, decode rows (1 each) and prefill chunks together.
   * Must be ≥ maxSlotsPerWorker so that every decode-ready sequence runs every step.
   */
  maxBatchTokens: number;
  /** Longest sequence (prompt + generated) in tokens; also the largest KV capacity. */
  maxModelLen: number;
  /**
   * KV positions one worker may hold: activeSlots × capacity ≤ this.
   * Default maxSlotsPerWorker × maxModelLen (never preempts). Must be ≥ maxModelLen.
   */
  kvBudgetTokensPerWorker: number;
  /** Capacity is rounded up to a multiple of this (fewer buffer re-layouts). Default 64. */
  capacityGranule: number;
  /** Reject add() with QueueFullError when this many sequences already wait. Default: unbounded. */
  maxWaiting?: number;
  /**
   * Plans a worker may have in flight. 1 = lock-step (plan, run, postprocess,
   * plan…). 2 = the next plan is formed while the current one runs, so the
   * worker starts it without waiting for a round trip through the scheduler;
   * its rows then feed tokens not sampled yet (PENDING_TOKEN). Default 1.
   */
  pipelineDepth: number;
}

/** What the caller must give; defaults are filled by resolveSchedulerConfig(). */
export type SchedulerConfigInput = Omit<SchedulerConfig, 'kvBudgetTokensPerWorker' | 'capacityGranule' | 'pipelineDepth'> &
  Partial<Pick<SchedulerConfig, 'kvBudgetTokensPerWorker' | 'capacityGranule' | 'pipelineDepth'>>;

/**
 * Stands in a row's tokens for the token its sequence samples in the plan in
 * flight before it (pipelineDepth 2). Only ever a decode row's single token or
 * the last token of a row; the worker substitutes what it sampled.
 */
export const PENDING_TOKEN = -1;

/**
 * One sequence's share of a step. Rows are independent: each reads and writes
 * only its own slot, so a worker may run them in one mixed call or split them
 * (e.g. single-token rows in one decode call, longer chunks in prefill calls).
 */
export interface StepRow {
  seqId: SeqId;
  /**
   * Token ids to feed, in order; written to KV positions startPos … startPos+tokens.length-1.
   * The last may be PENDING_TOKEN: the token this sequence samples in the worker's previous plan.
   */
  tokens: number[];
  /** = the sequence's numComputedTokens: KV positions already filled in its slot. */
  startPos: number;
  /** 'new': take a fresh slot for this sequence (startPos is 0). 'continue': its slot already exists. */
  slotAction: 'new' | 'continue';
  /**
   * True when this row reaches the end of the sequence's known tokens: the worker
   * must compute logits for the row's last position and sample one token.
   * False for a prefill chunk that stops short of the end (it produces nothing).
   */
  wantsSample: boolean;
}

export interface StepPlan {
  /** Unique per plan; postprocess() checks it. */
  step: number;
  worker: number;
  /**
   * Sequences whose slots the worker must release BEFORE running the rows:
   * finished, aborted or preempted since this worker's previous plan.
   */
  freed: SeqId[];
  /** The subset of `freed` evicted by this plan to fit the KV budget (they went back to waiting). */
  preempted: SeqId[];
  /**
   * Order: decode rows of running sequences (one token each), then prefill
   * chunks of running sequences, then first chunks of sequences admitted by this
   * plan; oldest first within each group. Any row with tokens.length === 1 may
   * go through a single-token decode call.
   */
  rows: StepRow[];
  /**
   * KV capacity (positions per slot) to use for this step: the longest
   * startPos+tokens.length among the worker's active sequences, rounded up to
   * capacityGranule, at most maxModelLen. activeSlots × capacity ≤ kvBudgetTokensPerWorker.
   */
  capacity: number;
  /** Sum of rows' tokens.length (≤ maxBatchTokens). */
  numTokens: number;
}

/** One token sampled by a worker for a row with wantsSample. */
export interface SampledToken {
  seqId: SeqId;
  tokenId: number;
}

export type FinishReason = 'stop' | 'length';

export interface FinishedSequence {
  seqId: SeqId;
  /** 'stop': EOS (unless ignoreEos) or a stop token id; 'length': max_tokens or maxModelLen reached. */
  reason: FinishReason;
  /** All generated ids, including the final EOS/stop token (the front end decides whether to render it). */
  outputTokenIds: readonly number[];
  promptTokens: number;
}

export interface StepOutcome {
  /** New tokens for live sequences, in row order: what the front end streams. */
  tokens: SampledToken[];
  finished: FinishedSequence[];
  /** Echo of plan.preempted, for metrics. */
  preempted: SeqId[];
}
