// Every message that crosses the front (HTTP thread) ↔ scheduler actor
// boundary, declared once and imported by both sides.
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

// ------------------------------------------------------------ front → actor

/** Sampling and stopping parameters for one request, already validated and defaulted by the front. */
export interface SamplingParams {
  /** Upper bound on generated tokens (already clamped to the context window). */
  maxTokens: number;
  temperature: number;
  topP: number;
  /** 0 or -1 disables top-k. */
  topK: number;
  /** 0 disables min-p. */
  minP: number;
  /** null: non-deterministic sampling. */
  seed: number | null;
  presencePenalty: number;
  frequencyPenalty: number;
  repetitionPenalty: number;
  /** Token id → additive bias. msgpack carries the keys as strings, as JS objects do. */
  logitBias: Record<number, number>;
  /** Generation stops (reason 'stop') after emitting one of these ids. Stop *strings* are handled by the front. */
  stopTokenIds: number[];
  /** Keep sampling past EOS until maxTokens. */
  ignoreEos: boolean;
  /** EOS and stopTokenIds cannot be sampled before this many tokens are generated (vLLM min_tokens). Absent = 0. */
  minTokens?: number;
  /** null: no logprobs; N: the sampled token's logprob plus the top-N alternatives. */
  logprobs: number | null;
  /** null: none; N: logprobs (top-N) for every prompt token, for `echo`. */
  promptLogprobs: number | null;
  /** Number of independent completions (choices) for this request. */
  n: number;
  /** Constrained decoding: an EBNF grammar (xgrammar dialect) the output must follow; absent = free text. */
  grammar?: GrammarWire | null;
}

/** A compiled-on-the-device grammar: EBNF text and its root rule. */
export interface GrammarWire {
  ebnf: string;
  root: string;
}

export interface SubmitMessage {
  type: 'submit';
  reqId: number;
  promptTokenIds: number[];
  params: SamplingParams;
  /** Arrival time at the front, ms since epoch (Date.now()), for queue-time metrics and FCFS. */
  arrivalTime: number;
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

/** Log-probabilities for one emitted (or prompt) token. */
export interface TokenLogprob {
  logprob: number;
  /** Top alternatives as [tokenId, logprob], most likely first. */
  top: [number, number][];
}

/** Newly generated tokens for one request (usually one per step; several after a batched step). */
export interface TokensMessage {
  type: 'tokens';
  reqId: number;
  /** Which of the request's `n` completions these tokens belong to; omitted means 0. */
  choice?: number;
  tokenIds: number[];
  /** Present when the request asked for logprobs; one entry per token in tokenIds. */
  logprobs?: TokenLogprob[];
  /** Present once, on the first tokens message, when promptLogprobs was requested (first entry is null: no logprob for the first prompt token). */
  promptLogprobs?: (TokenLogprob | null)[];
  /** On a choice's first tokens message: ms from arrival until the scheduler first ran it. */
  queueTimeMs?: number;
}

export type FinishReason = 'stop' | 'length' | 'abort' | 'error';

export interface FinishedMessage {
  type: 'finished';
  reqId: number;
  /** Which completion finished; omitted means 0 (or the whole request when n = 1). */
  choice?: number;
  reason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Set when reason is 'error'. */
  error?: { message: string; code: string };
}

/** The request was refused before scheduling (e.g. prompt longer than the context window). */
export interface RejectedMessage {
  type: 'rejected';
  reqId: number;
  /** HTTP status the front should answer with. */
  status: number;
  message: string;
  /** The offending request parameter, for the OpenAI error body. */
  param?: string;
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
  /** Tokens fed per engine step (decode rows + prefill chunks) since the previous snapshot. */
  stepTokens?: number[];
  /** Device steps that failed (worker crashed or threw) since start. */
  deviceFailures?: number;
  /** Workers whose thread failed and is not yet confirmed reloaded. */
  recoveringWorkers?: number[];
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
