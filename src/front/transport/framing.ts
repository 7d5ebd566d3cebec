// Request framing rules both transports enforce on top of their parsers, so
// that a proxy in front and Serval can never disagree on where a request ends
// (request smuggling): one Content-Length, and a Transfer-Encoding that is
// exactly `chunked` (the only coding Serval decodes). node:http's llhttp
// already refuses repeated Content-Length / Transfer-Encoding lines and both
// together; uWebSockets.js does not, so uws.ts feeds every such line here.

import { ApiError } from '../../protocol/errors.js';

/** More header lines than this → 431 (node:http; uWS drops requests over its own 48 silently). */
export const MAX_REQUEST_HEADERS = 100;

/** The framing headers of one request, every line of each as received. */
export interface FramingHeaders {
  contentLength: readonly string[];
  transferEncoding: readonly string[];
}

/** The error to answer (then close) for a request whose framing is ambiguous or unsupported; null when sound. */
export function checkFraming({ contentLength, transferEncoding }: FramingHeaders): ApiError | null {
  if (contentLength.length > 1) return ApiError.malformedHttp(400, 'The request has more than one Content-Length header.', 'invalid_framing');
  if (contentLength.length === 1 && !/^\d{1,15}$/.test(contentLength[0].trim())) {
    return ApiError.malformedHttp(400, 'The Content-Length header is not a number.', 'invalid_framing');
  }
  if (transferEncoding.length === 0) return null;
  if (transferEncoding.length > 1) return ApiError.malformedHttp(400, 'The request has more than one Transfer-Encoding header.', 'invalid_framing');
  if (contentLength.length > 0) return ApiError.malformedHttp(400, 'The request has both Content-Length and Transfer-Encoding.', 'invalid_framing');
  const coding = transferEncoding[0].trim().toLowerCase();
  if (coding !== 'chunked') {
    return ApiError.malformedHttp(501, `Transfer-Encoding '${transferEncoding[0].slice(0, 64)}' is not supported; send 'chunked' or a Content-Length.`, 'unsupported_transfer_encoding');
  }
  return null;
}

export function tooManyHeaders(): ApiError {
  return ApiError.malformedHttp(431, `The request has more than ${MAX_REQUEST_HEADERS} header lines.`, 'too_many_headers');
}

export function unsupportedVersion(version: string): ApiError {
  return ApiError.malformedHttp(505, `HTTP/${version.slice(0, 8)} is not supported; send HTTP/1.1 (or HTTP/1.0).`, 'http_version_not_supported');
}

/** `http://host/path?q` (absolute-form, which HTTP/1.1 servers must accept) → `/path?q`; other targets unchanged. */
export function originForm(target: string): string {
  const absolute = /^https?:\/\/[^/?#]*/i.exec(target);
  if (absolute === null) return target;
  const rest = target.slice(absolute[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}
