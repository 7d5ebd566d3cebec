// The boundary between the scheduler actor and a device worker: one DeviceStep
// in, one DeviceStepResult out. Plain data only (it crosses threads by
// structured clone); the worker executes it without knowing any policy.

import type { GrammarWire } from '../ipc/messages.js';
import type { WireSamplingParams } from '../sampling/wire.js';

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
  /** Test-only fault hooks; ignored unless SERVAL_TEST_HOOKS=1 in the environment. */
  testHooks?: boolean;
}

/** A sequence entering a slot: enough to rebuild its sampling state after a preemption. */
export interface SlotAdmission {
  seqId: string;
  params: WireSamplingParams;
  /** Prompt ids (repetition penalty counts them). */
  promptTokenIds: number[];
  /** Tokens already generated before a preemption (penalties and RNG step resume from them). */
  generatedTokenIds: number[];
  /** Grammar the sequence's output must follow (structured output, forced tool calls). */
  grammar: GrammarWire | null;
  /** Sampled ids that end the sequence (EOS unless ignored, stop ids): its later rows are skipped. */
  stopTokenIds: number[];
}

export interface StepRow {
  seqId: string;
  /**
   * Token ids appended to the sequence's KV this step, at positions startPos..
   * The last may be PENDING_TOKEN: the token this worker sampled for the sequence in its previous step.
   */
  tokens: number[];
  startPos: number;
  /** Sample a next token from the last position's logits. */
  sample: boolean;
  /** Return logprobs of each fed token given its prefix (echo with logprobs); top-N. */
  promptLogprobs: number | null;
  /** The prompt token after this chunk, if any, so the chunk's last position can score it. */
  followingToken: number | null;
}

export interface DeviceStep {
  /** Drop every slot first: the scheduler failed this worker's sequences after an error. */
  resetAll?: boolean;
  /** Sequences whose slots are freed before anything runs (finished, aborted, preempted). */
  release: string[];
  /** Per-slot KV capacity (token positions) this step needs. */
  capacity: number;
  admit: SlotAdmission[];
  rows: StepRow[];
  /** Test-only fault injection (honoured only with SERVAL_TEST_HOOKS=1). */
  fault?: 'crash' | 'throw';
}

export interface TokenLogprob {
  token: number;
  logprob: number;
  top: Array<[number, number]>;
}

export interface RowSample {
  seqId: string;
  token: number;
  logprob: TokenLogprob | null;
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
  decodeRows: number;
  prefillTokens: number;
  /** Prompt positions copied from a sibling with the same prompt instead of computed. */
  sharedPrefillTokens: number;
}
