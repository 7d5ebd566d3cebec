// A request's sampling parameters: one plain-data shape, made once by the
// front from the validated request, carried unchanged through the submit
// message, the scheduler actor and the slot admission to the device worker
// (msgpack and structured clone), where compileSamplerParams() turns it into
// the sampler's form once. Validation takes the validated request's fields and
// names the OpenAI / vLLM parameter (`top_p`, `logit_bias`, …) in a 400.

import type { GenerationDefaults } from '../model/types.js';
import type { Grammar } from '../structured/grammar.js';

/** Additive logit bias as plain data: token ids ascending, no duplicates, no zero values. */
export interface LogitBiasEntries {
  ids: number[];
  values: number[];
}

export interface SamplingParams {
  /** Upper bound on generated tokens (already clamped to the context window). */
  maxTokens: number;
  /** 0 = greedy (argmax, no randomness). */
  temperature: number;
  /** (0, 1]; 1 = off. */
  topP: number;
  /** 0 or -1 = off. */
  topK: number;
  /** [0, 1]; 0 = off. Keeps tokens with p ≥ minP · p_max. */
  minP: number;
  /** null = a random seed is drawn when the sequence's state is created. */
  seed: number | null;
  /** OpenAI semantics, over generated tokens only. */
  presencePenalty: number;
  frequencyPenalty: number;
  /** HF/vLLM semantics, over prompt + generated tokens; 1 = off. */
  repetitionPenalty: number;
  logitBias: LogitBiasEntries | null;
  /** Generation stops (reason 'stop') after emitting one of these ids. Stop *strings* are handled by the front. */
  stopTokenIds: number[];
  /** Keep sampling past EOS until maxTokens. */
  ignoreEos: boolean;
  /** EOS and stopTokenIds cannot be sampled before this many tokens are generated (vLLM min_tokens). */
  minTokens: number;
  /** null = no logprobs; N ≥ 0 = the chosen token's logprob plus the top-N alternatives. */
  logprobs: number | null;
  /** null = none; N = logprobs (top-N) for every prompt token, for completions `echo`. */
  promptLogprobs: number | null;
  /** Constrained decoding; null = free text. */
  grammar: Grammar | null;
}

/** Neutral settings: plain sampling at temperature 1, 16 tokens, nothing else. */
export const DEFAULT_SAMPLING_PARAMS: Readonly<SamplingParams> = Object.freeze({
  maxTokens: 16,
  temperature: 1,
  topP: 1,
  topK: 0,
  minP: 0,
  seed: null,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repetitionPenalty: 1,
  logitBias: null,
  stopTokenIds: [],
  ignoreEos: false,
  minTokens: 0,
  logprobs: null,
  promptLogprobs: null,
  grammar: null,
});

/** The fields the sampler reads. */
type SamplerField =
  | 'temperature'
  | 'topP'
  | 'topK'
  | 'minP'
  | 'seed'
  | 'presencePenalty'
  | 'frequencyPenalty'
  | 'repetitionPenalty'
  | 'logprobs';

/** Additive logit bias in the sampler's form: ids ascending. */
export interface LogitBias {
  ids: Int32Array;
  values: Float64Array;
}

/** What request validation resolves: the sampler's fields, bias included. */
export type SamplerFields = Pick<SamplingParams, SamplerField | 'logitBias'>;

/** The sampler's form of a sequence's parameters, compiled once when it enters a device worker. */
export type SamplerParams = Pick<SamplingParams, SamplerField> & { logitBias: LogitBias | null };

export function compileSamplerParams(params: SamplerFields): SamplerParams {
  return {
    temperature: params.temperature,
    topP: params.topP,
    topK: params.topK,
    minP: params.minP,
    seed: params.seed,
    presencePenalty: params.presencePenalty,
    frequencyPenalty: params.frequencyPenalty,
    repetitionPenalty: params.repetitionPenalty,
    logprobs: params.logprobs,
    logitBias: params.logitBias && { ids: Int32Array.from(params.logitBias.ids), values: Float64Array.from(params.logitBias.values) },
  };
}

/** What a 400 response needs: the offending OpenAI / vLLM parameter and a human sentence. */
export interface ParamError {
  param: string;
  message: string;
}

export const MAX_TEMPERATURE = 2;
export const MAX_ABS_PENALTY = 2;
export const MAX_REPETITION_PENALTY = 2;
export const MAX_ABS_LOGIT_BIAS = 100;
/** OpenAI's ceiling for chat `top_logprobs`; completions `logprobs` is capped at 5 by OpenAI, vLLM allows 20. */
export const DEFAULT_MAX_LOGPROBS = 20;

// ---------------------------------------------------------------- checks

function notNumber(param: string, value: unknown): ParamError | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return { param, message: `'${param}' must be a finite number, got ${describe(value)}.` };
  }
  return null;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return typeof value;
}

/** temperature ∈ [0, 2]. */
export function checkTemperature(value: unknown, param = 'temperature'): ParamError | null {
  const bad = notNumber(param, value);
  if (bad) return bad;
  const v = value as number;
  if (v < 0 || v > MAX_TEMPERATURE) return { param, message: `'${param}' must be between 0 and ${MAX_TEMPERATURE}, got ${v}.` };
  return null;
}

/** top_p ∈ (0, 1]. */
export function checkTopP(value: unknown, param = 'top_p'): ParamError | null {
  const bad = notNumber(param, value);
  if (bad) return bad;
  const v = value as number;
  if (!(v > 0 && v <= 1)) return { param, message: `'${param}' must be in (0, 1], got ${v}.` };
  return null;
}

/** top_k: integer ≥ -1 (0 and -1 disable it). */
export function checkTopK(value: unknown, param = 'top_k'): ParamError | null {
  const bad = notNumber(param, value);
  if (bad) return bad;
  const v = value as number;
  if (!Number.isInteger(v) || v < -1) {
    return { param, message: `'${param}' must be an integer ≥ -1 (0 or -1 disables it), got ${v}.` };
  }
  return null;
}

/** min_p ∈ [0, 1]. */
export function checkMinP(value: unknown, param = 'min_p'): ParamError | null {
  const bad = notNumber(param, value);
  if (bad) return bad;
  const v = value as number;
  if (v < 0 || v > 1) return { param, message: `'${param}' must be in [0, 1], got ${v}.` };
  return null;
}

/** presence_penalty / frequency_penalty ∈ [-2, 2]. */
export function checkPenalty(value: unknown, param: string): ParamError | null {
  const bad = notNumber(param, value);
  if (bad) return bad;
  const v = value as number;
  if (v < -MAX_ABS_PENALTY || v > MAX_ABS_PENALTY) {
    return { param, message: `'${param}' must be between -${MAX_ABS_PENALTY} and ${MAX_ABS_PENALTY}, got ${v}.` };
  }
  return null;
}

/** repetition_penalty ∈ (0, 2]. */
export function checkRepetitionPenalty(value: unknown, param = 'repetition_penalty'): ParamError | null {
  const bad = notNumber(param, value);
  if (bad) return bad;
  const v = value as number;
  if (!(v > 0 && v <= MAX_REPETITION_PENALTY)) {
    return { param, message: `'${param}' must be in (0, ${MAX_REPETITION_PENALTY}], got ${v}.` };
  }
  return null;
}

/** seed: any integer (64-bit seeds beyond 2^53 arrive rounded by JSON; that is fine). */
export function checkSeed(value: unknown, param = 'seed'): ParamError | null {
  const bad = notNumber(param, value);
  if (bad) return bad;
  if (!Number.isInteger(value)) return { param, message: `'${param}' must be an integer, got ${value as number}.` };
  return null;
}

/** logprobs / top_logprobs: integer in [0, max]. */
export function checkLogprobs(value: unknown, max = DEFAULT_MAX_LOGPROBS, param = 'logprobs'): ParamError | null {
  const bad = notNumber(param, value);
  if (bad) return bad;
  const v = value as number;
  if (!Number.isInteger(v) || v < 0 || v > max) {
    return { param, message: `'${param}' must be an integer between 0 and ${max}, got ${v}.` };
  }
  return null;
}

/**
 * logit_bias: a JSON object whose keys are token ids (decimal strings, as JSON
 * objects have them) and whose values are in [-100, 100]. Returns the entries
 * id-sorted with zero biases dropped, or the error.
 */
export function parseLogitBias(
  value: unknown,
  vocabSize: number,
  param = 'logit_bias',
): { ok: true; bias: LogitBiasEntries | null } | { ok: false; error: ParamError } {
  if (value === null || value === undefined) return { ok: true, bias: null };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: { param, message: `'${param}' must be an object mapping token ids to numbers.` } };
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const pairs: Array<[number, number]> = [];
  for (const [key, raw] of entries) {
    const id = /^(0|[1-9]\d*)$/.test(key) ? Number(key) : NaN;
    if (!Number.isSafeInteger(id) || id >= vocabSize) {
      return {
        ok: false,
        error: { param, message: `'${param}' key ${JSON.stringify(key)} is not a token id in [0, ${vocabSize}).` },
      };
    }
    if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < -MAX_ABS_LOGIT_BIAS || raw > MAX_ABS_LOGIT_BIAS) {
      return {
        ok: false,
        error: {
          param,
          message: `'${param}' value for token ${id} must be a number between -${MAX_ABS_LOGIT_BIAS} and ${MAX_ABS_LOGIT_BIAS}, got ${describe(raw)}.`,
        },
      };
    }
    pairs.push([id, raw]);
  }
  const nonZero = pairs.filter(([, v]) => v !== 0).sort((a, b) => a[0] - b[0]);
  if (nonZero.length === 0) return { ok: true, bias: null };
  // Canonical decimal keys make duplicate ids impossible (a JSON object keeps the last of a repeated key).
  return { ok: true, bias: { ids: nonZero.map(([id]) => id), values: nonZero.map(([, v]) => v) } };
}

// ---------------------------------------------------------------- whole request

/**
 * The sampling fields of a request as the protocol layer validated their JSON
 * types (undefined or null = absent), named as in SamplingOptions; errors name
 * the OpenAI / vLLM parameter.
 */
export interface SamplingRequestFields {
  temperature?: unknown;
  topP?: unknown;
  topK?: unknown;
  minP?: unknown;
  seed?: unknown;
  presencePenalty?: unknown;
  frequencyPenalty?: unknown;
  repetitionPenalty?: unknown;
  logitBias?: unknown;
  /** Number of top alternatives, already mapped by the caller (chat: `top_logprobs` when `logprobs: true`). */
  logprobs?: unknown;
}

export interface ResolveOptions {
  vocabSize: number;
  /** Upper bound for `logprobs`; default 20. */
  maxLogprobs?: number;
  /** The name to report for the logprobs count (`top_logprobs` for chat). */
  logprobsParam?: string;
  /**
   * Model defaults from generation_config.json, used for fields the request leaves
   * out (vLLM's behaviour). `doSample` is ignored, as vLLM does.
   */
  defaults?: GenerationDefaults;
}

const isAbsent = (v: unknown): boolean => v === undefined || v === null;

/** Validate a request's sampling fields and fill defaults. */
export function resolveSamplingParams(
  req: SamplingRequestFields,
  opts: ResolveOptions,
): { ok: true; params: SamplerFields } | { ok: false; error: ParamError } {
  const d = opts.defaults;
  const pick = (v: unknown, fallback: number | undefined, base: number): unknown =>
    isAbsent(v) ? (fallback ?? base) : v;

  const temperature = pick(req.temperature, d?.temperature, DEFAULT_SAMPLING_PARAMS.temperature);
  const topP = pick(req.topP, d?.topP, DEFAULT_SAMPLING_PARAMS.topP);
  const topK = pick(req.topK, d?.topK, DEFAULT_SAMPLING_PARAMS.topK);
  const minP = pick(req.minP, d?.minP, DEFAULT_SAMPLING_PARAMS.minP);
  const repetitionPenalty = pick(req.repetitionPenalty, d?.repetitionPenalty, DEFAULT_SAMPLING_PARAMS.repetitionPenalty);
  const presencePenalty = pick(req.presencePenalty, undefined, 0);
  const frequencyPenalty = pick(req.frequencyPenalty, undefined, 0);

  const error =
    checkTemperature(temperature) ??
    checkTopP(topP) ??
    checkTopK(topK) ??
    checkMinP(minP) ??
    checkPenalty(presencePenalty, 'presence_penalty') ??
    checkPenalty(frequencyPenalty, 'frequency_penalty') ??
    checkRepetitionPenalty(repetitionPenalty) ??
    (isAbsent(req.seed) ? null : checkSeed(req.seed)) ??
    (isAbsent(req.logprobs)
      ? null
      : checkLogprobs(req.logprobs, opts.maxLogprobs ?? DEFAULT_MAX_LOGPROBS, opts.logprobsParam ?? 'logprobs'));
  if (error) return { ok: false, error };

  const bias = parseLogitBias(req.logitBias, opts.vocabSize);
  if (!bias.ok) return bias;

  return {
    ok: true,
    params: {
      temperature: temperature as number,
      topP: topP as number,
      topK: topK as number,
      minP: minP as number,
      seed: isAbsent(req.seed) ? null : (req.seed as number),
      presencePenalty: presencePenalty as number,
      frequencyPenalty: frequencyPenalty as number,
      repetitionPenalty: repetitionPenalty as number,
      logitBias: bias.bias,
      logprobs: isAbsent(req.logprobs) ? null : (req.logprobs as number),
    },
  };
}
