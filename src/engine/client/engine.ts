// The library API: `const engine = await Engine.create({ modelDir })`, then
// `for await (const event of engine.generate(promptIds, { maxTokens: 16 }))`.
// The engine proper (scheduler + device workers) runs in the scheduler actor
// thread; this side only routes messages to per-request event queues. The
// HTTP server is one client of this class.

import { Worker } from 'node:worker_threads';
import { createChannelPair, FrontChannel } from '../../ipc/channel.js';
import type { ActorToFrontMessage, FinishReason, SamplingParams, StatsMessage, TokenLogprob } from '../../ipc/messages.js';
import { DEFAULT_SAMPLING_PARAMS } from '../../sampling/params.js';
import { EventQueue } from './event-queue.js';
import type { EngineConfig } from '../config.js';

export type EngineEvent =
  | {
      type: 'tokens';
      choice: number;
      tokenIds: number[];
      logprobs?: TokenLogprob[];
      promptLogprobs?: (TokenLogprob | null)[];
      /** On a choice's first tokens: ms between submission and the scheduler first running it. */
      queueTimeMs?: number;
    }
  | {
      type: 'finished';
      choice: number;
      reason: FinishReason;
      promptTokens: number;
      completionTokens: number;
      error?: { message: string; code: string };
    };

/** The scheduler refused the request before running it (status is an HTTP status). */
export class EngineRequestError extends Error {
  readonly status: number;
  readonly param: string | undefined;
  constructor(status: number, message: string, param?: string) {
    super(message);
    this.status = status;
    this.param = param;
  }
}

/** Library defaults: the sampler's neutral settings, but greedy (temperature 0) and 16 tokens. */
export const DEFAULT_SAMPLING: SamplingParams = {
  ...DEFAULT_SAMPLING_PARAMS,
  temperature: 0,
  logitBias: {},
  maxTokens: 16,
  stopTokenIds: [],
  ignoreEos: false,
  promptLogprobs: null,
  n: 1,
};

interface ActiveRequest {
  queue: EventQueue<EngineEvent>;
  /** Choices still generating; the queue ends when it reaches zero. */
  open: number;
}

const ACTOR_FILE = new URL('../../../workers/scheduler-actor.js', import.meta.url);

export class Engine {
  readonly config: EngineConfig;
  maxModelLen = 0;
  private readonly worker: Worker;
  private readonly channel: FrontChannel;
  private readonly requests = new Map<number, ActiveRequest>();
  private nextReqId = 1;
  private lastStats: StatsMessage | null = null;
  private readonly statsListeners: Array<(stats: StatsMessage) => void> = [];
  private readyResolve: (() => void) | null = null;
  private closed = false;
  private actorError: Error | null = null;
  private readonly deathListeners: Array<(error: Error) => void> = [];
  private actorExited = false;

  private constructor(config: EngineConfig) {
    this.config = config;
    const { frontSabs, actorSabs } = createChannelPair();
    this.channel = new FrontChannel(frontSabs);
    this.worker = new Worker(ACTOR_FILE, { workerData: { sabs: actorSabs, config } });
    this.worker.once('exit', () => (this.actorExited = true));
  }

  /** Starts the scheduler actor and its device workers; resolves when every worker has loaded the model. */
  static async create(config: EngineConfig): Promise<Engine> {
    const engine = new Engine(config);
    await engine.start();
    return engine;
  }

  private start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.worker.once('error', (error) => {
        this.actorError = error;
        reject(error);
        this.failAll(error);
      });
      this.worker.once('exit', (code) => {
        if (!this.closed) {
          const error = this.actorError ?? new Error(`scheduler actor exited with code ${code}`);
          reject(error);
          this.failAll(error);
        }
      });
      this.channel.onMessage((msg) => this.dispatch(msg)).catch((error: unknown) => this.failAll(error as Error));
    });
  }

  /** Calls `listener` with every scheduler snapshot (a few per second while busy). */
  onStats(listener: (stats: StatsMessage) => void): void {
    this.statsListeners.push(listener);
  }

  /** Latest scheduler snapshot (running, waiting, KV usage), or null before the first one. */
  stats(): StatsMessage | null {
    return this.lastStats;
  }

  /** Requests whose events are still being delivered. */
  get inFlight(): number {
    return this.requests.size;
  }

  /**
   * Generates from token ids. Events arrive per choice; the iterator ends after
   * every choice finished. Breaking out of the loop, or aborting `signal`,
   * cancels the request and frees its KV slots.
   */
  generate(promptTokenIds: number[], params: Partial<SamplingParams> = {}, signal?: AbortSignal): AsyncIterableIterator<EngineEvent> {
    const reqId = this.nextReqId++;
    const full: SamplingParams = { ...DEFAULT_SAMPLING, ...params };
    const queue = new EventQueue<EngineEvent>(() => this.cancel(reqId));
    if (this.closed || this.actorError) {
      queue.fail(this.actorError ?? new Error('engine is closed'));
      return queue;
    }
    this.requests.set(reqId, { queue, open: full.n });
    if (signal) {
      if (signal.aborted) {
        queue.end();
        this.requests.delete(reqId);
        return queue;
      }
      signal.addEventListener('abort', () => this.cancel(reqId), { once: true });
    }
    this.channel.send({ type: 'submit', reqId, promptTokenIds, params: full, arrivalTime: Date.now() }).catch((error: unknown) => {
      this.requests.delete(reqId);
      queue.fail(error);
    });
    return queue;
  }

  private cancel(reqId: number): void {
    const request = this.requests.get(reqId);
    if (!request) return;
    this.requests.delete(reqId);
    request.queue.end();
    if (!this.closed) this.channel.send({ type: 'cancel', reqId }).catch(() => undefined);
  }

  private dispatch(msg: ActorToFrontMessage): void {
    switch (msg.type) {
      case 'ready':
        this.maxModelLen = msg.maxModelLen;
        this.readyResolve?.();
        this.readyResolve = null;
        return;
      case 'loading':
        return;
      case 'stats':
        this.lastStats = msg;
        for (const listener of this.statsListeners) listener(msg);
        return;
      case 'rejected': {
        const request = this.requests.get(msg.reqId);
        if (!request) return;
        this.requests.delete(msg.reqId);
        request.queue.fail(new EngineRequestError(msg.status, msg.message, msg.param));
        return;
      }
      case 'tokens': {
        const request = this.requests.get(msg.reqId);
        if (!request) return;
        request.queue.push({
          type: 'tokens',
          choice: msg.choice ?? 0,
          tokenIds: msg.tokenIds,
          logprobs: msg.logprobs,
          promptLogprobs: msg.promptLogprobs,
          queueTimeMs: msg.queueTimeMs,
        });
        return;
      }
      case 'finished': {
        const request = this.requests.get(msg.reqId);
        if (!request) return;
        request.queue.push({
          type: 'finished',
          choice: msg.choice ?? 0,
          reason: msg.reason,
          promptTokens: msg.promptTokens,
          completionTokens: msg.completionTokens,
          error: msg.error,
        });
        request.open -= 1;
        if (request.open <= 0) {
          this.requests.delete(msg.reqId);
          request.queue.end();
        }
        return;
      }
    }
  }

  /**
   * Calls `listener` once if the scheduler actor dies (crash, or exit without
   * close()). Every in-flight request has already failed by then and new ones
   * fail at once: the engine is unusable and must be replaced.
   */
  onActorDeath(listener: (error: Error) => void): void {
    if (this.actorError !== null) {
      if (!this.closed) listener(this.actorError);
    }
    else this.deathListeners.push(listener);
  }

  /**
   * Test-only fault injection, refused unless the config has `testHooks` and
   * the environment SERVAL_TEST_HOOKS=1: the next step that device worker
   * `worker` runs with work in it crashes its thread ('crash') or throws
   * ('throw'); target 'actor' kills the scheduler actor thread.
   */
  injectFault(target: 'device' | 'actor', worker = 0, kind: 'crash' | 'throw' = 'crash'): void {
    if (!this.config.testHooks || process.env.SERVAL_TEST_HOOKS !== '1') {
      throw new Error('fault injection needs testHooks in the engine config and SERVAL_TEST_HOOKS=1');
    }
    void this.channel.send({ type: 'fault', target, worker, kind }).catch(() => undefined);
  }

  private failAll(error: Error): void {
    this.actorError = error;
    if (!this.closed) for (const listener of this.deathListeners.splice(0)) listener(error);
    for (const request of this.requests.values()) request.queue.fail(error);
    this.requests.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const request of this.requests.values()) request.queue.end();
    this.requests.clear();
    if (this.actorExited) {
      // The actor died earlier: nobody is left to answer a shutdown message.
      this.channel.close();
      return;
    }
    await this.channel.send({ type: 'shutdown' }).catch(() => undefined);
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    const timeout = setTimeout(() => void this.worker.terminate(), 10_000);
    await exited;
    clearTimeout(timeout);
    this.channel.close();
  }
}
