// Plain data crossing the scheduler boundary: the scheduler actor hands a
// StepPlan to a device worker, and feeds the sampled tokens back through
// postprocess(). Everything here is structured-clone / msgpack friendly
// (strings, numbers, arrays): no class instances, no Maps. A plan's rows are
// the device step's rows (worker/types.ts declares the step contract).

import type { BlockSave, RowSample, StepRow } from '../worker/types.js';

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
  /**
   * The client request this sequence belongs to (its prompts × n choices share
   * one): admission favours the group with the fewest running sequences, so one
   * request's many sequences cannot starve a later small request. Default: its own id.
   */
  group?: string;
  /**
   * Not admissible until `Scheduler.ready(id, worker)` (its grammar is being
   * compiled on that worker); it does not hold up the sequences behind it.
   */
  held?: boolean;
  /** False: compute every prompt position (its logits are wanted), never take KV from the prefix cache. Default true. */
  reusesPrefix?: boolean;
  /**
   * Lower runs first (vLLM's meaning), an integer in [PRIORITY_MIN, PRIORITY_MAX].
   * Only the 'priority' scheduling policy reads it, and only it accepts a value
   * other than the default 0.
   */
  priority?: number;
}

/**
 * 'fcfs': admission by arrival (preempted first, request groups taking turns);
 * preemption evicts the youngest. 'priority': the same, but among the
 * sequences of the lowest `priority` value first, and preemption evicts the
 * largest (priority, arrival).
 */
export type SchedulingPolicy = 'fcfs' | 'priority';

/** A request's priority is a 32-bit signed integer (vLLM leaves it unbounded; a bound keeps comparisons exact). */
export const PRIORITY_MIN = -(2 ** 31);
export const PRIORITY_MAX = 2 ** 31 - 1;

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
  /**
   * Plans a worker may have in flight. 1 = lock-step (plan, run, postprocess,
   * plan…). 2 = the next plan is formed while the current one runs, so the
   * worker starts it without waiting for a round trip through the scheduler;
   * its rows then feed tokens not sampled yet (PENDING_TOKEN). Default 1.
   */
  pipelineDepth: number;
  /**
   * Keep finished sequences' KV as a prefix cache (blocks of PREFIX_BLOCK_SIZE
   * tokens, in whatever KV budget the running sequences leave) and start new
   * sequences from their longest cached prefix. Default false here; the engine turns it on.
   */
  prefixCaching: boolean;
  /** Admission order and preemption victim (see SchedulingPolicy). Default 'fcfs'. */
  schedulingPolicy: SchedulingPolicy;
  /**
   * Prefill tokens (chunks and admissions) a step may add to its decode rows,
   * within maxBatchTokens; a step without decode rows gets all of
   * maxBatchTokens (see step-budget.ts). Default DEFAULT_MAX_PREFILL_TOKENS_WITH_DECODE.
   */
  maxPrefillTokensWithDecode: number;
}

/** What the caller must give; defaults are filled by resolveSchedulerConfig(). */
type DefaultedConfig = 'kvBudgetTokensPerWorker' | 'capacityGranule' | 'pipelineDepth' | 'prefixCaching' | 'schedulingPolicy' | 'maxPrefillTokensWithDecode';
export type SchedulerConfigInput = Omit<SchedulerConfig, DefaultedConfig> & Partial<Pick<SchedulerConfig, DefaultedConfig>>;

/** A row of a plan: the device row, plus whether the sequence takes a fresh slot. */
export interface PlannedRow extends StepRow {
  /** 'new': take a fresh slot for this sequence (startPos is 0). 'continue': its slot already exists. */
  slotAction: 'new' | 'continue';
  /** With 'new': prefix-cache blocks to copy into the fresh slot's positions [0, startPos) first. */
  prefixBlocks?: number[];
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
   * plan; oldest first within each group. A sampling chunk of several tokens
   * may be followed by its sequence's follow-on row: one PENDING_TOKEN fed the
   * token that chunk samples. Any row with tokens.length === 1 may go through
   * a single-token decode call (run after every longer row).
   */
  rows: PlannedRow[];
  /**
   * KV capacity (positions per slot) to use for this step: the longest
   * startPos+tokens.length among the worker's active sequences, rounded up to
   * capacityGranule, at most maxModelLen. activeSlots × capacity ≤ kvBudgetTokensPerWorker.
   */
  capacity: number;
  /**
   * Positions no sequence on the worker can grow past (prompt + max_tokens,
   * at most maxModelLen): the worker's KV layout needs no headroom beyond it.
   */
  capacityCeiling: number;
  /** Sum of rows' tokens.length (≤ maxBatchTokens). */
  numTokens: number;
  /**
   * Prefix-cache work, done before `freed` is released: first drop these
   * blocks (evicted), then copy these blocks out of their sequences' slots.
   */
  cacheDrops: number[];
  cacheSaves: BlockSave[];
  /**
   * The same, after the rows ran: in a plan without decode rows, the blocks
   * its prompt chunks complete. Those are then copied in the step that
   * computed them (time to first token), not in the next step, which decode
   * rows wait for (at one stream, the first decode step after a 128-token
   * prompt took 6 ms longer). No admission of this plan can have matched them.
   */
  cacheDropsAfterRun: number[];
  cacheSavesAfterRun: BlockSave[];
}

/** What postprocess() reads of a worker's sample. */
export type SampledToken = Pick<RowSample, 'seqId' | 'token'>;

/** How a request ended: the scheduler decides 'stop' and 'length'; the engine adds 'abort' (cancelled) and 'error' (device failure). */
export type FinishReason = 'stop' | 'length' | 'abort' | 'error';

export interface FinishedSequence {
  seqId: SeqId;
  /** 'stop': EOS (unless ignoreEos) or a stop token id; 'length': max_tokens or maxModelLen reached. */
  reason: Extract<FinishReason, 'stop' | 'length'>;
  /** All generated ids, including the final EOS/stop token (the front end decides whether to render it). */
  outputTokenIds: readonly number[];
  promptTokens: number;
}

export interface StepOutcome<S extends SampledToken = SampledToken> {
  /** The samples of live sequences, in row order (those of sequences aborted or preempted meanwhile dropped): what the front streams. */
  tokens: S[];
  finished: FinishedSequence[];
  /** Echo of plan.preempted, for metrics. */
  preempted: SeqId[];
}
