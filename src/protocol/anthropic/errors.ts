// Anthropic's error shape for the /v1/messages routes. Every failure is an
// ApiError first (src/protocol/errors.ts), so status codes stay the ones the
// OpenAI routes use; only the body differs: `{type: "error", error: {type,
// message}}`, with Anthropic's names for the error types.

import type { ApiError, ApiErrorType } from '../errors.js';
import type { AnthropicErrorBody, AnthropicErrorType } from './types.js';

const TYPES: Record<ApiErrorType, AnthropicErrorType> = {
  invalid_request_error: 'invalid_request_error',
  authentication_error: 'authentication_error',
  not_found_error: 'not_found_error',
  // Anthropic has no type for these; the status (405, 415) says which.
  method_not_allowed_error: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  request_too_large: 'request_too_large',
  rate_limit_error: 'rate_limit_error',
  timeout_error: 'timeout_error',
  internal_error: 'api_error',
  // 503 while loading or draining: the SDKs retry overloaded_error.
  service_unavailable: 'overloaded_error',
};

export function anthropicErrorBody(err: ApiError): AnthropicErrorBody {
  // `param` has no field in Anthropic's shape: the message carries it.
  const message = err.param !== null && !err.message.includes(err.param) ? `${err.message} (${err.param})` : err.message;
  return { type: 'error', error: { type: TYPES[err.type], message }, request_id: null };
}
