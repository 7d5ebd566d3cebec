// JSON Schema validation of request bodies. The schemas (schemas/*.json) are
// read and compiled exactly once, when createValidators() runs at startup;
// a request then costs one generated-function call. Ajv's first error is
// turned into an OpenAI 400 whose `param` names the offending field the way
// users write it (`messages[0].role`), not as a JSON pointer.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ApiError } from './errors.js';
import type { WireChatRequest, WireCompletionRequest, WireEmbeddingRequest } from './openai-types.js';
import type { WireRerankRequest, WireScoreRequest } from './rerank.js';
import type { WireResponsesRequest } from './responses-api/wire.js';
import type { WireDetokenizeRequest, WireTokenizeRequest } from './tokenize.js';

export const SCHEMA_FILES = {
  chat: 'chat-completions.json',
  completions: 'completions.json',
  embeddings: 'embeddings.json',
  rerank: 'rerank.json',
  score: 'score.json',
  responses: 'responses.json',
  tokenize: 'tokenize.json',
  detokenize: 'detokenize.json',
} as const;

export interface Validators {
  /** Throws ApiError(400) unless `body` matches schemas/chat-completions.json. */
  chat(body: unknown): WireChatRequest;
  completions(body: unknown): WireCompletionRequest;
  embeddings(body: unknown): WireEmbeddingRequest;
  rerank(body: unknown): WireRerankRequest;
  score(body: unknown): WireScoreRequest;
  responses(body: unknown): WireResponsesRequest;
  tokenize(body: unknown): WireTokenizeRequest;
  detokenize(body: unknown): WireDetokenizeRequest;
}

/** Finds `schemas/` by walking up from this file (works from src/ and from dist/src/). */
export function findSchemaDir(start = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    const candidate = path.join(dir, 'schemas', SCHEMA_FILES.chat);
    if (existsSync(candidate)) return path.dirname(candidate);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`schemas/${SCHEMA_FILES.chat} not found above ${start}`);
    dir = parent;
  }
}

export function createValidators(schemaDir = findSchemaDir()): Validators {
  // allErrors:false → stop at the first problem (cheaper, and we report one).
  // No coercion, no defaults, no removal: the body is checked, never changed.
  const ajv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: false, strict: true, strictRequired: false, allowUnionTypes: true });
  const load = (file: string): Record<string, unknown> =>
    JSON.parse(readFileSync(path.join(schemaDir, file), 'utf8')) as Record<string, unknown>;
  // Register all first so cross-file $refs resolve, then compile each once.
  const schemas = Object.values(SCHEMA_FILES).map(load);
  for (const s of schemas) ajv.addSchema(s);
  const compile = (file: string): ValidateFunction => {
    const id = `serval/${file}`;
    const fn = ajv.getSchema(id);
    if (fn === undefined) throw new Error(`schema ${id} failed to compile`);
    return fn;
  };
  const chat = compile(SCHEMA_FILES.chat);
  const completions = compile(SCHEMA_FILES.completions);
  const embeddings = compile(SCHEMA_FILES.embeddings);
  const rerank = compile(SCHEMA_FILES.rerank);
  const score = compile(SCHEMA_FILES.score);
  const responses = compile(SCHEMA_FILES.responses);
  const tokenize = compile(SCHEMA_FILES.tokenize);
  const detokenize = compile(SCHEMA_FILES.detokenize);
  const run = <T>(fn: ValidateFunction, body: unknown): T => {
    if (fn(body)) return body as T;
    throw toApiError(fn.errors?.[0], body);
  };
  return {
    chat: (b) => run<WireChatRequest>(chat, b),
    completions: (b) => run<WireCompletionRequest>(completions, b),
    embeddings: (b) => run<WireEmbeddingRequest>(embeddings, b),
    rerank: (b) => run<WireRerankRequest>(rerank, b),
    score: (b) => run<WireScoreRequest>(score, b),
    responses: (b) => run<WireResponsesRequest>(responses, b),
    tokenize: (b) => run<WireTokenizeRequest>(tokenize, b),
    detokenize: (b) => run<WireDetokenizeRequest>(detokenize, b),
  };
}

// ------------------------------------------------------------ error mapping

/** `/messages/0/role` → `messages[0].role`. Array positions use brackets; object keys use dots, even numeric ones (`logit_bias.50256`). */
export function pointerToParam(pointer: string, body?: unknown): string {
  let out = '';
  let cur: unknown = body;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const isIndex = /^(0|[1-9][0-9]*)$/.test(seg) && (body === undefined || Array.isArray(cur));
    if (isIndex) out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
  }
  return out;
}

function valueAt(body: unknown, pointer: string): unknown {
  let cur: unknown = body;
  for (const raw of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function toApiError(err: ErrorObject | undefined, body: unknown): ApiError {
  if (err === undefined) return ApiError.invalidRequest('Invalid request body.');
  const param = pointerToParam(err.instancePath, body);
  const value = valueAt(body, err.instancePath);
  const p = err.params as Record<string, unknown>;
  const bad = (msg: string, code = 'invalid_value'): ApiError => ApiError.invalidRequest(msg, param || null, code);

  if (err.propertyName !== undefined) {
    return bad(`Invalid key ${JSON.stringify(err.propertyName)} in '${param}': keys must be token ids (non-negative integers as strings).`);
  }
  switch (err.keyword) {
    case 'required': {
      const missing = String(p.missingProperty);
      const full = param === '' ? missing : `${param}.${missing}`;
      return ApiError.invalidRequest(`Missing required parameter: '${full}'.`, full, 'missing_required_parameter');
    }
    case 'type': {
      if (param === '') return bad('The request body must be a JSON object.', 'invalid_type');
      const expected = Array.isArray(p.type) ? (p.type as string[]).filter((t) => t !== 'null').join(' or ') : String(p.type);
      return bad(`Invalid type for '${param}': expected ${expected}, got ${typeName(value)}.`, 'invalid_type');
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return bad(`Invalid value for '${param}': must be ${String(p.comparison)} ${String(p.limit)}, got ${describe(value)}.`);
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).filter((a) => a !== null).map((a) => `'${String(a)}'`).join(', ');
      return bad(`Invalid value for '${param}': must be one of ${allowed}; got ${describe(value)}.`);
    }
    case 'const':
      return bad(`Invalid value for '${param}': must be '${String(p.allowedValue)}', got ${describe(value)}.`);
    case 'minItems':
      return bad(`Invalid value for '${param}': must contain at least ${String(p.limit)} item(s).`, p.limit === 1 ? 'empty_array' : 'invalid_value');
    case 'maxItems':
      return bad(`Invalid value for '${param}': must contain at most ${String(p.limit)} items.`);
    case 'minLength':
      return bad(`Invalid value for '${param}': must not be ${p.limit === 1 ? 'empty' : `shorter than ${String(p.limit)} characters`}.`);
    case 'pattern':
      return bad(`Invalid value for '${param}': ${describe(value)} does not match ${String(p.pattern)}.`);
    default:
      return bad(`Invalid value for '${param}': ${err.message ?? 'invalid'}.`);
  }
}
