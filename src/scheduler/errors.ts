// Errors the scheduler raises. A refused request carries the HTTP status and
// the OpenAI error `type`/`code`, which travel to the front unchanged (the
// actor's `rejected` message) and become the ApiError the client sees.

import type { ApiErrorType } from '../protocol/errors.js';

/** The request can never be served as given (bad max_tokens, bad or disabled priority). HTTP 400. */
export class InvalidSequenceError extends Error {
  readonly status = 400;
  readonly type: ApiErrorType = 'invalid_request_error';
  constructor(
    readonly code: 'invalid_max_tokens' | 'invalid_value',
    message: string,
    /** The request field at fault, for OpenAI's `param`. */
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'InvalidSequenceError';
  }
}

/** The scheduler was configured with values it cannot honour. Raised at startup, never per request. */
export class SchedulerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchedulerConfigError';
  }
}

/** The caller broke the schedule → execute → postprocess protocol (a bug in the engine loop, not the client). */
export class SchedulerProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchedulerProtocolError';
  }
}
