// JSON Schema validation of the Messages API bodies (schemas/anthropic-*.json),
// compiled once at startup like the OpenAI routes' schemas; the first ajv
// error becomes a 400 naming the field (`messages[0].role`).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { findSchemaDir, toApiError } from '../validation.js';
import type { AnthropicCountTokensRequest, AnthropicMessagesRequest } from './types.js';

export const ANTHROPIC_SCHEMA_FILES = {
  messages: 'anthropic-messages.json',
  countTokens: 'anthropic-count-tokens.json',
} as const;

export interface AnthropicValidators {
  /** Throws ApiError(400) unless `body` matches schemas/anthropic-messages.json. */
  messages(body: unknown): AnthropicMessagesRequest;
  countTokens(body: unknown): AnthropicCountTokensRequest;
}

export function createAnthropicValidators(schemaDir = findSchemaDir()): AnthropicValidators {
  const ajv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: false, strict: true, strictRequired: false, allowUnionTypes: true });
  const load = (file: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(schemaDir, file), 'utf8')) as Record<string, unknown>;
  const schemas = [load(ANTHROPIC_SCHEMA_FILES.messages), load(ANTHROPIC_SCHEMA_FILES.countTokens)];
  for (const schema of schemas) ajv.addSchema(schema);
  const compile = (schema: Record<string, unknown>): ValidateFunction => {
    const fn = ajv.getSchema(String(schema.$id));
    if (fn === undefined) throw new Error(`schema ${String(schema.$id)} failed to compile`);
    return fn;
  };
  const messages = compile(schemas[0]);
  const countTokens = compile(schemas[1]);
  const run = <T>(fn: ValidateFunction, body: unknown): T => {
    if (fn(body)) return body as T;
    throw toApiError(fn.errors?.[0], body);
  };
  return {
    messages: (body) => run<AnthropicMessagesRequest>(messages, body),
    countTokens: (body) => run<AnthropicCountTokensRequest>(countTokens, body),
  };
}
