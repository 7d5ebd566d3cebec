// One log line per request, written when it ends (response sent, client gone,
// or stream cut): method, route, status, model, tokens, time to first output,
// total time and the request id; the reason for every 4xx at info, 5xx at
// error. Handlers fill the RequestRecord their Exchange carries; the server
// writes the line, so every route gets it without code of its own.

import { randomUUID } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { ApiError } from '../protocol/errors.js';
import type { Logger } from './logger.js';

/** How a request ended, beyond its status. */
export type RequestOutcome = 'completed' | 'aborted' | 'stalled';

/** What one request did, filled in as it runs. */
export class RequestRecord {
  model: string | null = null;
  promptTokens: number | null = null;
  completionTokens: number | null = null;
  /** ms from arrival to the first generated output. */
  ttftMs: number | null = null;
  /** The error answered (as a status or as an SSE error event). */
  error: ApiError | null = null;
  outcome: RequestOutcome = 'completed';

  constructor(readonly id: string) {}
}

/** A client's X-Request-Id is kept when it is short and plain (so it cannot forge log lines or headers); otherwise one is made. */
export function requestId(sent: string): string {
  return /^[\w.:@+/=-]{1,128}$/.test(sent) ? sent : randomUUID();
}

export interface RequestSummary {
  method: string;
  path: string;
  route: string;
  /** The status sent; 499 when the client went away first. */
  status: number;
  /** ms from arrival to the end. */
  ms: number;
}

const round = (ms: number | null): number | null => (ms === null ? null : Math.round(ms * 10) / 10);

export function logRequest(logger: Logger, record: RequestRecord, s: RequestSummary): void {
  const err = record.error;
  const line = {
    reqId: record.id,
    method: s.method,
    // The path only where no route matched (a route pattern keeps ids like model names out of most lines).
    route: s.route === '*' ? s.path.slice(0, 200) : s.route,
    status: s.status,
    model: record.model,
    promptTokens: record.promptTokens,
    completionTokens: record.completionTokens,
    ttftMs: round(record.ttftMs),
    ms: round(s.ms),
    ...(record.outcome === 'completed' ? {} : { outcome: record.outcome }),
    ...(err === null ? {} : { error: { status: err.status, message: err.message, param: err.param, code: err.code } }),
  };
  const msg = `${s.method} ${line.route} ${s.status}${record.outcome === 'completed' ? '' : ` (${record.outcome})`} ${line.ms} ms`;
  if ((err !== null && err.status >= 500) || s.status >= 500) logger.error(line, msg);
  else if (record.outcome === 'stalled') logger.warn(line, msg);
  else logger.info(line, msg);
}

/** Streams the server ended because the client stopped reading them (see the Exchange's stall bound). */
export function registerStallCounter(registry: Registry): Counter {
  const existing = registry.getSingleMetric('serval:http_streams_stalled_total');
  if (existing instanceof Counter) return existing;
  return new Counter({
    name: 'serval:http_streams_stalled_total',
    help: 'Streamed responses the server ended (error event, [DONE], close) because the client read nothing for --stream-stall-timeout.',
    registers: [registry],
  });
}
