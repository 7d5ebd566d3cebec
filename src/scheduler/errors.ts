// Errors the scheduler raises. Each carries the HTTP status and the OpenAI
// error `type`/`code` the protocol layer should answer with, so the HTTP
// layer maps them without knowing scheduler internals.
// (Candidate for a project-wide errors module; kept here until one exists.)

export type OpenAIErrorType = 'invalid_request_error' | 'server_error';

export abstract class SchedulerError extends Error {
  abstract readonly status: number;
  abstract readonly type: OpenAIErrorType;
  abstract readonly code: string;
}

/** The request can never be served as given (empty prompt, prompt too long, bad max_tokens). HTTP 400. */
export class InvalidSequenceError extends SchedulerError {
  readonly status = 400;
  readonly type = 'invalid_request_error';
  constructor(
    readonly code: 'empty_prompt' | 'context_length_exceeded' | 'invalid_max_tokens',
    message: string,
    /** The request field at fault, for OpenAI's `param`. */
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'InvalidSequenceError';
  }
}

/** The waiting queue is at `maxWaiting`; the client may retry later. HTTP 503. */
export class QueueFullError extends SchedulerError {
  readonly status = 503;
  readonly type = 'server_error';
  readonly code = 'queue_full';
  constructor(readonly maxWaiting: number) {
    super(`server overloaded: ${maxWaiting} requests already waiting`);
    this.name = 'QueueFullError';
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
