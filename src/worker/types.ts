// The boundary between the scheduler actor and a device worker: one DeviceStep
// in, one DeviceStepResult out. Plain data only (it crosses threads by
// structured clone); the worker executes it without knowing any policy.

import type { MessagePort } from 'node:worker_threads';
import type { TokenLogprob } from '../sampling/logprobs.js';
import type { SamplingParams } from '../sampling/params.js';
import type { Grammar } from '../structured/grammar.js';

export type ExecutionProviderConfig = 'cpu' | { name: 'cuda'; deviceId: number };

/** Everything a device worker needs to load its model; fixed for the worker's life. */
export interface DeviceWorkerConfig {
  deviceIndex: number;
  modelDir: string;
  quantize: 'int4' | null;
  sliceKvToMaxPast: boolean;
  executionProvider: ExecutionProviderConfig;
  intraOpThreads: number;
  spinning: boolean;
  maxSlots: number;
  kvBudgetTokens: number;
  /** The engine's max model length: positions stay below it, so the graph's RoPE tables have this many rows. */
  maxModelLen: number;
  /** Test-only fault hooks; ignored unless SERVAL_TEST_HOOKS=1 in the environment. */
  testHooks?: boolean;
}

/** Token positions per prefix-cache block (vLLM's default size). */
export const PREFIX_BLOCK_SIZE = 16;

/** Copy block `index` of a sequence's slot (positions [index × size, (index + 1) × size)) into prefix-cache block `id`. */
export interface BlockSave {
  seqId: string;
  index: number;
  id: number;
}

/** A sequence entering a slot: enough to rebuild its sampling state after a preemption. */
export interface SlotAdmission {
  seqId: string;
  /** The request's parameters as the front made them (grammar included); the worker compiles them once. */
  params: SamplingParams;
  /** Prompt ids (repetition penalty counts them). */
  promptTokenIds: number[];
  /** Tokens already generated before a preemption (penalties and RNG step resume from them). */
  generatedTokenIds: number[];
  /** Sampled ids that end the sequence (EOS unless ignored, stop ids): its later rows are skipped. */
  stopTokenIds: number[];
  /** Prefix-cache blocks copied into the fresh slot's first positions, in order (its first row starts after them). */
  prefixBlocks?: number[];
}

/**
 * Stands in a row's tokens for the token its sequence samples in the step in
 * flight before it on the same worker (pipelineDepth 2). Only ever the last
 * token of a row; the worker substitutes what it sampled.
 */
export const PENDING_TOKEN = -1;

/**
 * One sequence's share of a step, as the scheduler plans it. Rows are
 * independent: each reads and writes only its own slot.
 */
export interface StepRow {
  seqId: string;
  /**
   * Token ids appended to the sequence's KV, at positions startPos … startPos+tokens.length-1.
   * The last may be PENDING_TOKEN.
   */
  tokens: number[];
  /** KV positions already filled in the sequence's slot. */
  startPos: number;
  /** The row reaches the end of the sequence's known tokens: sample a next token from its last position's logits. */
  sample: boolean;
}

/** A row as the device worker runs it: with what echo's prompt scoring needs. */
export interface DeviceRow extends StepRow {
  /** Return logprobs of each fed token given its prefix (echo with logprobs); top-N. */
  promptLogprobs: number | null;
  /** The prompt token after this chunk, if any, so the chunk's last position can score it. */
  followingToken: number | null;
}

/**
 * A device worker task of its own, run between steps: compile a grammar into
 * the worker's cache before the sequence that needs it is admitted (compiled
 * grammars cannot cross threads, so the worker that runs the sequence compiles it).
 */
export interface GrammarCompileTask {
  kind: 'compile-grammar';
  grammar: Grammar;
}

/**
 * A device worker task of its own: the port the worker posts AnnouncedSamples
 * on from now on (until then it announces none). Sent by every ready(), so a
 * replacement thread gets one too. A port, not a BroadcastChannel: on Node 24
 * a BroadcastChannel message from a worker busy in session.run() held up the
 * receiving thread's event loop until that call returned.
 */
export interface SamplesPortTask {
  kind: 'samples-port';
  port: MessagePort;
}

export interface DeviceStep {
  /** Drop every slot first: the scheduler failed this worker's sequences after an error. */
  resetAll?: boolean;
  /** Prefix-cache blocks to forget (evicted), then blocks to copy out of slots, both before `release`. */
  cacheDrops?: number[];
  cacheSaves?: BlockSave[];
  /** Blocks to forget, then blocks to copy out of slots, after the rows ran (blocks the rows completed). */
  cacheDropsAfterRun?: number[];
  cacheSavesAfterRun?: BlockSave[];
  /** Sequences whose slots are freed before anything runs (finished, aborted, preempted). */
  release: string[];
  /** Per-slot KV capacity (token positions) this step needs. */
  capacity: number;
  /** No sequence on the worker can grow past this many positions (its prompt + max_tokens): a layout needs no headroom beyond it. Absent: no such bound. */
  capacityCeiling?: number;
  admit: SlotAdmission[];
  rows: DeviceRow[];
  /** Test-only fault injection (honoured only with SERVAL_TEST_HOOKS=1). */
  fault?: 'crash' | 'throw';
  /** Announce the prompts' samples taken before the step's last forward call, tagged with this number (see AnnouncedSamples); absent: none. */
  announce?: number;
}

/** The token a worker sampled for a row with `sample`. */
export interface RowSample {
  seqId: string;
  token: number;
  logprob: TokenLogprob | null;
}

/**
 * Samples a step took while later forward calls of the same step (prompt
 * chunks, then the decode call) still had to run, posted on the SamplesPortTask port as soon as they are taken
 * (they are in the step's result too): the front can stream them at once.
 */
export interface AnnouncedSamples {
  /** The step's DeviceStep.announce. */
  step: number;
  samples: RowSample[];
}

export interface RowPromptLogprobs {
  seqId: string;
  /** Logprob of tokens[i + 1] given tokens[..i], for i in the fed chunk (the first prompt token has none). */
  entries: TokenLogprob[];
}

export interface DeviceStepResult {
  samples: RowSample[];
  promptLogprobs: RowPromptLogprobs[];
  /** Milliseconds spent inside session.run() for this step. */
  forwardMs: number;
  /** Wall time of the whole step on the device thread: cache copies, forward calls, sampling. */
  stepMs: number;
  decodeRows: number;
  prefillTokens: number;
  /** Prompt positions copied from a sibling with the same prompt instead of computed. */
  sharedPrefillTokens: number;
}
