// Sampling parameters as the device worker uses them, and the range checks the
// HTTP layer runs before a request is accepted. Validation speaks the OpenAI /
// vLLM wire names (`top_p`, `logit_bias`, …) so a 400 can name the parameter.

import type { GenerationDefaults } from '../model/types.js';
import type { WireSamplingParams } from './wire.js';

/** Additive logit bias, ids ascending, no duplicates. */
export interface LogitBias {
  ids: Int32Array;
  values: Float64Array;
}

export interface SamplingParams {
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
  logitBias: LogitBias | null;
  /** null = no logprobs; N ≥ 0 = the chosen token's logprob plus the top-N alternatives. */
  logprobs: number | null;
}

export const DEFAULT_SAMPLING_PARAMS: Readonly<SamplingParams> = Object.freeze({
  temperature: 1,
  topP: 1,
  topK: 0,
  minP: 0,
  seed: null,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repetitionPenalty: 1,
  logitBias: null,
  logprobs: null,
});

/** What a 400 response needs: the offending wire parameter and a human sentence. */
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
 * objects have them) and whose values are in [-100, 100]. Returns the compiled,
 * id-sorted form, or the error.
 */
export function parseLogitBias(
  value: unknown,
  vocabSize: number,
  param = 'logit_bias',
): { ok: true; bias: LogitBias | null } | { ok: false; error: ParamError } {
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
  return { ok: true, bias: compilePairs(pairs) };
}

function compilePairs(pairs: Array<[number, number]>): LogitBias | null {
  const nonZero = pairs.filter(([, v]) => v !== 0);
  if (nonZero.length === 0) return null;
  nonZero.sort((a, b) => a[0] - b[0]);
  const ids = new Int32Array(nonZero.length);
  const values = new Float64Array(nonZero.length);
  let n = 0;
  for (const [id, v] of nonZero) {
    // Canonical decimal keys make duplicates impossible from JSON; stay safe anyway (last wins).
    if (n > 0 && ids[n - 1] === id) {
      values[n - 1] = v;
      continue;
    }
    ids[n] = id;
    values[n] = v;
    n++;
  }
  return { ids: ids.slice(0, n), values: values.slice(0, n) };
}

/** logit bias as carried over IPC (msgpack object with string keys) → compiled form. Assumes validated input. */
export function compileLogitBias(record: Record<number, number> | null | undefined): LogitBias | null {
  if (!record) return null;
  return compilePairs(Object.entries(record).map(([k, v]) => [Number(k), v]));
}

/** The worker-side params for a sequence, from what the scheduler forwards. */
export function fromWireSamplingParams(wire: WireSamplingParams): SamplingParams {
  return {
    temperature: wire.temperature,
    topP: wire.topP,
    topK: wire.topK,
    minP: wire.minP,
    seed: wire.seed,
    presencePenalty: wire.presencePenalty,
    frequencyPenalty: wire.frequencyPenalty,
    repetitionPenalty: wire.repetitionPenalty,
    logitBias: compileLogitBias(wire.logitBias),
    logprobs: wire.logprobs,
  };
}

// ---------------------------------------------------------------- whole request

/** The sampling fields of an OpenAI / vLLM request body, as parsed JSON (null = absent). */
export interface SamplingRequestFields {
  temperature?: unknown;
  top_p?: unknown;
  top_k?: unknown;
  min_p?: unknown;
  seed?: unknown;
  presence_penalty?: unknown;
  frequency_penalty?: unknown;
  repetition_penalty?: unknown;
  logit_bias?: unknown;
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
): { ok: true; params: SamplingParams } | { ok: false; error: ParamError } {
  const d = opts.defaults;
  const pick = (v: unknown, fallback: number | undefined, base: number): unknown =>
    isAbsent(v) ? (fallback ?? base) : v;

  const temperature = pick(req.temperature, d?.temperature, DEFAULT_SAMPLING_PARAMS.temperature);
  const topP = pick(req.top_p, d?.topP, DEFAULT_SAMPLING_PARAMS.topP);
  const topK = pick(req.top_k, d?.topK, DEFAULT_SAMPLING_PARAMS.topK);
  const minP = pick(req.min_p, d?.minP, DEFAULT_SAMPLING_PARAMS.minP);
  const repetitionPenalty = pick(req.repetition_penalty, d?.repetitionPenalty, DEFAULT_SAMPLING_PARAMS.repetitionPenalty);
  const presencePenalty = pick(req.presence_penalty, undefined, 0);
  const frequencyPenalty = pick(req.frequency_penalty, undefined, 0);

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

  const bias = parseLogitBias(req.logit_bias, opts.vocabSize);
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
