// Every message that crosses the front (HTTP thread) ↔ scheduler actor
// boundary, declared once and imported by both ends (src/engine/client on the
// front thread, src/engine/actor in the actor). The bytes travel through the
// SharedArrayBuffer rings of src/ipc.
//
// Conventions:
// - `type` is the discriminant; request ids (`reqId`) are numbers assigned by
//   the front, unique for the life of the process.
// - Only plain data (numbers, strings, arrays, plain objects): frames are
//   msgpack-encoded, so no class instances, Maps, undefined-as-value or BigInt.
// - Optional fields are omitted rather than set to undefined (the codec drops
//   undefined fields). Adding an optional field is always backward compatible.
// - The scheduler speaks token ids only; text (tokenize, detokenize, stop
//   strings) stays on the front.

import type { SamplingParams } from '../../sampling/params.js';
import type { TokenLogprob } from '../../sampling/logprobs.js';
import type { ApiErrorBody } from '../../protocol/errors.js';
import type { FinishReason } from '../../scheduler/types.js';

// ------------------------------------------------------------ front → actor

/** One engine request is one sequence: the front fans a request's `n` choices out into separate submits. */
export interface SubmitMessage {
  type: 'submit';
  reqId: number;
  promptTokenIds: number[];
  /** Validated and defaulted by the front; carried unchanged to the device worker. */
  params: SamplingParams;
  /** Arrival time at the front, ms since epoch (Date.now()), for queue-time metrics and FCFS. */
  arrivalTime: number;
  /** The client request it belongs to (a request's prompts × n sequences share one), for fair admission. */
  group?: string;
  /** Lower runs first under --scheduling-policy priority; absent = 0. Checked by the front (Engine.checkPriority). */
  priority?: number;
}

/** The client went away or asked to stop; the scheduler answers with `finished` reason 'abort'. */
export interface CancelMessage {
  type: 'cancel';
  reqId: number;
}

/** Stop accepting work, abort in-flight requests and exit the actor loop. */
export interface ShutdownMessage {
  type: 'shutdown';
}

/**
 * Test-only fault injection (ignored unless the engine config has testHooks
 * AND SERVAL_TEST_HOOKS=1): 'crash'/'throw' make the next step of device
 * worker `worker` kill its thread / throw; 'actor' kills the scheduler actor.
 */
export interface FaultMessage {
  type: 'fault';
  target: 'device' | 'actor';
  worker: number;
  kind: 'crash' | 'throw';
}

export type FrontToActorMessage = SubmitMessage | CancelMessage | ShutdownMessage | FaultMessage;

// ------------------------------------------------------------ actor → front

/** The token a request generated in a step (tokenIds holds one id). */
export interface TokensMessage {
  type: 'tokens';
  reqId: number;
  tokenIds: number[];
  /** Present when the request asked for logprobs; one entry per token in tokenIds. */
  logprobs?: TokenLogprob[];
  /** Present once, on the first tokens message, when promptLogprobs was requested (first entry is null: no logprob for the first prompt token). */
  promptLogprobs?: (TokenLogprob | null)[];
  /** On the first tokens message: ms from arrival until the scheduler first ran the request. */
  queueTimeMs?: number;
  /** On the first tokens message: prompt tokens taken from the prefix cache instead of computed. */
  cachedTokens?: number;
}

export interface FinishedMessage {
  type: 'finished';
  reqId: number;
  reason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Set when reason is 'error'. */
  error?: { message: string; code: string };
}

/** The request was refused before scheduling; the front answers with exactly this error. */
export interface RejectedMessage {
  type: 'rejected';
  reqId: number;
  /** HTTP status. */
  status: number;
  /** With 429: the Retry-After to send. */
  retryAfterSeconds?: number;
  /** The OpenAI error body: message, type, param, code. */
  error: ApiErrorBody['error'];
}

/** What a device step ran (see actor/step-kind.ts). */
export const STEP_KINDS = ['decode', 'prompt', 'mixed'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** One device step's wall time on its worker thread. */
export interface StepDuration {
  kind: StepKind;
  ms: number;
}

/** Periodic scheduler snapshot for /metrics, /health and admission control. */
export interface StatsMessage {
  type: 'stats';
  /** Sequences in the running batch. */
  running: number;
  /** Sequences admitted but waiting for KV space or a batch slot. */
  waiting: number;
  /** KV-cache usage in [0, 1], one entry per device worker. */
  kvUsage: number[];
  /** Cumulative counters since start. */
  preemptions?: number;
  promptTokensTotal?: number;
  generationTokensTotal?: number;
  /** Cumulative prompt positions copied from a sibling sequence with the same prompt instead of computed. */
  sharedPrefillTokens?: number;
  /** Cumulative positions admissions looked up in the prefix cache, and found there (vLLM v1's counting). */
  prefixCacheQueries?: number;
  prefixCacheHits?: number;
  /** Tokens fed per engine step (decode rows + prefill chunks) since the previous snapshot. */
  stepTokens?: number[];
  /** Device steps with rows since the previous snapshot (a bounded sample under heavy load). */
  stepDurations?: StepDuration[];
  /** Device steps that failed (worker crashed or threw) since start. */
  deviceFailures?: number;
  /** Workers whose thread failed and is not yet confirmed reloaded. */
  recoveringWorkers?: number[];
  /** Grammar compiles (off the step loop): backlog and totals. */
  grammarCompiles?: { queued: number; running: number; completed: number; cancelled: number };
  /** Snapshot time, ms since epoch. */
  time: number;
}

/** The model is loading; `progress` in [0, 1] when known. */
export interface LoadingMessage {
  type: 'loading';
  progress?: number;
  detail?: string;
}

/** The actor accepts `submit` from now on. */
export interface ReadyMessage {
  type: 'ready';
  /** Model context window, so the front can validate before submitting. */
  maxModelLen: number;
  /** Device workers the scheduler drives. */
  workers: number;
}

export type ActorToFrontMessage =
  | TokensMessage
  | FinishedMessage
  | RejectedMessage
  | StatsMessage
  | LoadingMessage
  | ReadyMessage;

export type Message = FrontToActorMessage | ActorToFrontMessage;
export type MessageType = Message['type'];

// Runtime lists of tags, typed so that adding a message to a union without
// listing it here (or vice versa) fails to compile.
const FRONT_TO_ACTOR: Record<FrontToActorMessage['type'], true> = {
  submit: true,
  cancel: true,
  shutdown: true,
  fault: true,
};
const ACTOR_TO_FRONT: Record<ActorToFrontMessage['type'], true> = {
  tokens: true,
  finished: true,
  rejected: true,
  stats: true,
  loading: true,
  ready: true,
};

export const FRONT_TO_ACTOR_TYPES = Object.keys(FRONT_TO_ACTOR) as FrontToActorMessage['type'][];
export const ACTOR_TO_FRONT_TYPES = Object.keys(ACTOR_TO_FRONT) as ActorToFrontMessage['type'][];

export function isFrontToActorMessage(msg: Message): msg is FrontToActorMessage {
  return Object.hasOwn(FRONT_TO_ACTOR, msg.type);
}

export function isActorToFrontMessage(msg: Message): msg is ActorToFrontMessage {
  return Object.hasOwn(ACTOR_TO_FRONT, msg.type);
}
