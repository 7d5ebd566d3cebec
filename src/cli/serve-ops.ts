// `serval serve` operations glue: API keys from flag / env / file, the HTTP
// server's limit, auth and CORS options from the flags, and the stop policy
// (graceful drain on SIGTERM/SIGINT; exit non-zero when the scheduler actor
// dies, so a supervisor restarts a clean process).

import { readFile } from 'node:fs/promises';
import type { Engine } from '../engine/client/engine.js';
import { parseAllowedOrigins } from '../front/cors.js';
import type { Logger } from '../front/logger.js';
import type { HttpServer, HttpServerOptions } from '../front/server.js';
import { UsageError, type ServeOptions } from './serve-options.js';

export const API_KEY_ENV = 'SERVAL_API_KEY';

/** Every accepted key: --api-key, SERVAL_API_KEY, and the lines of --api-key-file. Empty = auth off. */
export async function resolveApiKeys(options: Pick<ServeOptions, 'apiKey' | 'apiKeyFile'>, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const keys: string[] = [];
  if (options.apiKey !== null) keys.push(options.apiKey);
  const fromEnv = env[API_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') keys.push(fromEnv.trim());
  if (options.apiKeyFile !== null) {
    let text: string;
    try {
      text = await readFile(options.apiKeyFile, 'utf8');
    } catch (error) {
      throw new UsageError(`--api-key-file: cannot read '${options.apiKeyFile}': ${(error as Error).message}`);
    }
    const lines = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    if (lines.length === 0) throw new UsageError(`--api-key-file: '${options.apiKeyFile}' holds no key`);
    keys.push(...lines);
  }
  if (options.apiKey !== null && options.apiKey.trim() === '') throw new UsageError('--api-key must not be empty');
  return keys;
}

/** The HTTP server options that come from the operations flags. */
export function httpOpsOptions(options: ServeOptions, apiKeys: string[], sequenceSlots: number): Partial<HttpServerOptions> {
  return {
    apiKeys,
    authAllRoutes: options.authScope === 'all',
    allowedOrigins: parseAllowedOrigins(options.allowedOrigins),
    // The engine cannot run more sequences than it has KV slots: waiting beyond that happens here, bounded.
    maxConcurrency: options.maxConcurrency ?? sequenceSlots,
    maxQueue: options.maxQueue,
    requestTimeoutMs: options.requestTimeout > 0 ? options.requestTimeout * 1000 : null,
    bodyTimeoutMs: options.bodyTimeout > 0 ? options.bodyTimeout * 1000 : null,
    streamStallTimeoutMs: options.streamStallTimeout > 0 ? options.streamStallTimeout * 1000 : null,
    transport: options.httpTransport,
  };
}

export type StopReason = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'actor-died'; error: Error };

/**
 * Why the server stops: the first SIGTERM/SIGINT, or the scheduler actor's
 * death. `force` fires on a second signal (skip the rest of the drain).
 */
export class StopWatch {
  readonly stopped: Promise<StopReason>;
  private readonly forceController = new AbortController();
  private resolveStop!: (reason: StopReason) => void;
  private signals = 0;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.signals += 1;
    if (this.signals === 1) this.resolveStop({ kind: 'signal', signal });
    else this.forceController.abort();
  };

  constructor() {
    this.stopped = new Promise((resolve) => (this.resolveStop = resolve));
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  get force(): AbortSignal {
    return this.forceController.signal;
  }

  /** A dead scheduler actor stops the server too (requests already failed; the engine cannot recover). */
  watchEngine(engine: Engine): void {
    engine.onActorDeath((error) => this.resolveStop({ kind: 'actor-died', error }));
  }

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

/**
 * Acts on a stop: drains the HTTP server (graceful, within the shutdown
 * timeout) on a signal, or fails fast when the actor died; then runs
 * `closeAll` and returns the exit code. A timer makes sure the process exits
 * even if some handle lingers.
 */
export async function stopServer(
  reason: StopReason,
  server: HttpServer,
  options: {
    shutdownTimeoutMs: number;
    force: AbortSignal;
    logger: Logger;
    closeAll: () => Promise<void>;
    /** Called if closing hangs for 15 s (default process.exit). */
    forceExit?: (code: number) => void;
  },
): Promise<number> {
  const { logger } = options;
  const code = reason.kind === 'signal' ? 0 : 1;
  if (reason.kind === 'signal') {
    logger.info({ signal: reason.signal, inFlight: server.inFlight, shutdownTimeoutMs: options.shutdownTimeoutMs }, 'shutting down: draining in-flight requests');
    const result = await server.drain(options.shutdownTimeoutMs, options.force);
    logger.info(result, 'drained');
  } else {
    logger.error(
      { err: reason.error },
      'scheduler actor died: in-flight requests were failed; exiting with code 1 so a supervisor can restart the server',
    );
  }
  // Whatever happens next, do not hang: exit once closing had a fair chance.
  const forceExit = options.forceExit ?? ((c: number) => process.exit(c));
  const watchdog = setTimeout(() => forceExit(code), 15_000);
  watchdog.unref();
  await server.close();
  await options.closeAll();
  clearTimeout(watchdog);
  return code;
}

/** KV slots over all device workers: the default --max-concurrency. */
export function sequenceSlots(options: Pick<ServeOptions, 'device' | 'workers' | 'maxBatchSize'>): number {
  const devices = options.device === 'cpu' ? options.workers : options.device.split(',').length;
  return Math.max(1, devices * options.maxBatchSize);
}

/** The operations part of the HTTP server options, or a usage error message (exit 2). */
export async function prepareHttpOps(options: ServeOptions): Promise<Partial<HttpServerOptions> | { usageError: string }> {
  try {
    return httpOpsOptions(options, await resolveApiKeys(options), sequenceSlots(options));
  } catch (error) {
    if (error instanceof UsageError) return { usageError: error.message };
    throw error;
  }
}
