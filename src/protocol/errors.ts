// The one place where OpenAI-shaped errors are made. Every failure the HTTP
// layer reports — validation, routing, backend refusals, crashes — becomes an
// ApiError first, so status code, `type` and `code` stay consistent.

/** OpenAI's `error.type` values (plus the ones OpenAI-compatible servers commonly add). */
export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'method_not_allowed_error'
  | 'request_too_large'
  | 'unsupported_media_type'
  | 'rate_limit_error'
  | 'timeout_error'
  | 'internal_error'
  | 'service_unavailable';

/** The JSON body OpenAI clients expect on failure. */
export interface ApiErrorBody {
  error: { message: string; type: ApiErrorType; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers (e.g. `Allow` on 405, `Retry-After` on 429/503). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  /** 400: the request is well-formed HTTP but its content is wrong. */
  static invalidRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
    return new ApiError(400, 'invalid_request_error', message, param, code);
  }

  /** 400: a parameter or value we understand but deliberately do not implement. */
  static unsupported(message: string, param: string | null): ApiError {
    return new ApiError(400, 'invalid_request_error', message, param, 'unsupported_parameter');
  }

  static invalidJson(): ApiError {
    return new ApiError(
      400,
      'invalid_request_error',
      'We could not parse the JSON body of your request. The body must be a single JSON object.',
      null,
      'invalid_json',
    );
  }

  static unauthorized(message = 'Missing or invalid API key. Send it as "Authorization: Bearer <key>" or "x-api-key: <key>".'): ApiError {
    return new ApiError(401, 'authentication_error', message, null, 'invalid_api_key');
  }

  static routeNotFound(method: string, path: string): ApiError {
    return new ApiError(404, 'not_found_error', `Unknown route: ${method} ${path}`, null, 'unknown_route');
  }

  static modelNotFound(model: string, param: string | null = 'model'): ApiError {
    return new ApiError(
      404,
      'not_found_error',
      `The model '${model}' does not exist or is not served here. See GET /v1/models.`,
      param,
      'model_not_found',
    );
  }

  static methodNotAllowed(method: string, path: string, allowed: readonly string[]): ApiError {
    return new ApiError(
      405,
      'method_not_allowed_error',
      `Method ${method} is not allowed on ${path}. Allowed: ${allowed.join(', ')}.`,
      null,
      'method_not_allowed',
      { Allow: allowed.join(', ') },
    );
  }

  static bodyTooLarge(limitBytes: number): ApiError {
    return new ApiError(
      413,
      'request_too_large',
      `Request body exceeds the limit of ${limitBytes} bytes.`,
      null,
      'request_too_large',
    );
  }

  static unsupportedMediaType(contentType: string): ApiError {
    const got = contentType === '' ? 'no Content-Type' : `Content-Type '${contentType}'`;
    return new ApiError(
      415,
      'unsupported_media_type',
      `Expected Content-Type 'application/json', got ${got}.`,
      null,
      'unsupported_media_type',
    );
  }

  static tooManyRequests(message = 'The server is at capacity. Retry later.', retryAfterSeconds?: number): ApiError {
    const headers: Record<string, string> = retryAfterSeconds === undefined ? {} : { 'Retry-After': String(Math.ceil(retryAfterSeconds)) };
    return new ApiError(429, 'rate_limit_error', message, null, 'rate_limit_exceeded', headers);
  }

  /** 408: the request did not finish within --request-timeout (also: a body that arrives too slowly). */
  static requestTimeout(seconds: number, what = 'The request did not finish within the server\'s request timeout'): ApiError {
    return new ApiError(408, 'timeout_error', `${what} of ${formatSeconds(seconds)} s.`, null, 'request_timeout');
  }

  /** A streamed response whose client read nothing for the stall bound (sent in-band, then the connection is closed). */
  static streamStalled(seconds: number): ApiError {
    return new ApiError(408, 'timeout_error', `The client read nothing of this stream for ${formatSeconds(seconds)} s; the server ended it.`, null, 'stream_stalled');
  }

  /** 503 while the server drains for shutdown: new requests are refused, and those it had to cut short end with this. */
  static shuttingDown(message = 'The server is shutting down. Retry on another instance or after it restarts.'): ApiError {
    return new ApiError(503, 'service_unavailable', message, null, 'server_shutting_down', { 'Retry-After': '1' });
  }

  /** 500. The message is fixed on purpose: internals (stack traces, paths) never reach the client. */
  /** Broken HTTP framing or an unsupported request form (400, 431, 501, 505): answered, then the connection is closed. */
  static malformedHttp(status: number, message: string, code: string): ApiError {
    return new ApiError(status, 'invalid_request_error', message, null, code);
  }

  static internal(message = 'The server had an error while processing your request.'): ApiError {
    return new ApiError(500, 'internal_error', message, null, 'internal_error');
  }

  static notReady(message = 'The model is still loading. Retry shortly.'): ApiError {
    return new ApiError(503, 'service_unavailable', message, null, 'model_loading', { 'Retry-After': '1' });
  }

  /** Anything thrown: ApiErrors pass through, everything else is an opaque 500. */
  static from(err: unknown): ApiError {
    return err instanceof ApiError ? err : ApiError.internal();
  }
}

function formatSeconds(seconds: number): string {
  return Number.isInteger(seconds) ? String(seconds) : seconds.toFixed(3).replace(/0+$/, '');
}

/** HTTP status line text for the statuses this server emits (uWS wants the full "200 OK" string). */
export function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? 'Unknown'}`;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};
