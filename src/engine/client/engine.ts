// Runs on the front thread. The library API: `const engine = await
// Engine.create(config)`, then `for await (const event of
// engine.generate(promptIds, { maxTokens: 16 }))`. The engine proper (scheduler
// + device workers) runs in the scheduler actor thread (../actor); this side
// only routes its messages to per-request event queues. The HTTP server is one
// client of this class; it fans a request's n choices out into n generate() calls.

import { Worker } from 'node:worker_threads';
import { createChannelPair, FrontChannel } from '../channel/channel.js';
import type { ActorToFrontMessage, FinishedMessage, StatsMessage, TokensMessage } from '../channel/messages.js';
import { ApiError } from '../../protocol/errors.js';
import { DEFAULT_SAMPLING_PARAMS, type SamplingParams } from '../../sampling/params.js';
import { EventQueue } from './event-queue.js';
import type { EngineConfig } from '../config.js';
import { priorityProblem } from '../../scheduler/admission-order.js';

/** What generate() yields: the actor's messages for the request, as they arrive. */
export type EngineEvent = TokensMessage | FinishedMessage;

/** How one generate() call is scheduled besides its tokens and sampling. */
export interface ScheduleOptions {
  /** The client request it belongs to: a request's sequences take turns with other requests' (fair admission). */
  group?: string;
  /** Lower runs first; only a server with schedulingPolicy 'priority' accepts a value other than 0 (see checkPriority). */
  priority?: number;
}

/** Library defaults: the sampler's neutral settings, but greedy (temperature 0). */
export const DEFAULT_SAMPLING: Readonly<SamplingParams> = { ...DEFAULT_SAMPLING_PARAMS, temperature: 0 };

const ACTOR_FILE = new URL('../../../workers/scheduler-actor.js', import.meta.url);

export class Engine {
  readonly config: EngineConfig;
  maxModelLen = 0;
  private readonly worker: Worker;
  private readonly channel: FrontChannel;
  private readonly requests = new Map<number, EventQueue<EngineEvent>>();
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
   * Refuses a prompt the context window cannot hold with room for one
   * generated token: a 400 naming `param`, the request field it came from.
   * The one check of prompt length; generate() applies it too.
   */
  checkPrompt(promptTokenIds: readonly number[], param = 'prompt'): void {
    if (promptTokenIds.length === 0) throw ApiError.invalidRequest('The prompt is empty.', param);
    if (promptTokenIds.length >= this.maxModelLen) {
      throw ApiError.invalidRequest(
        `This model's maximum context length is ${this.maxModelLen} tokens, but the prompt has ${promptTokenIds.length} tokens, leaving no room for a completion.`,
        param,
        'context_length_exceeded',
      );
    }
  }

  /**
   * Refuses a `priority` the scheduler would not accept: not a 32-bit integer,
   * or non-zero without --scheduling-policy priority (vLLM refuses it too). A
   * 400 naming `priority`; generate() applies it too.
   */
  checkPriority(priority: number): void {
    const problem = priorityProblem(priority, this.config.schedulingPolicy);
    if (problem !== null) throw ApiError.invalidRequest(problem, 'priority', 'invalid_value');
  }

  /**
   * Generates one sequence from token ids: its tokens, then one `finished`.
   * A refusal (an ApiError) fails the iterator. Breaking out of the loop, or
   * aborting `signal`, cancels the request and frees its KV slot.
   */
  generate(promptTokenIds: number[], params: Partial<SamplingParams> = {}, signal?: AbortSignal, schedule: ScheduleOptions = {}): AsyncIterableIterator<EngineEvent> {
    const reqId = this.nextReqId++;
    const full: SamplingParams = { ...DEFAULT_SAMPLING, ...params };
    const queue = new EventQueue<EngineEvent>(() => this.cancel(reqId));
    if (this.closed || this.actorError) {
      queue.fail(this.actorError ?? new Error('engine is closed'));
      return queue;
    }
    try {
      this.checkPrompt(promptTokenIds);
      this.checkPriority(schedule.priority ?? 0);
    } catch (error) {
      queue.fail(error);
      return queue;
    }
    this.requests.set(reqId, queue);
    if (signal) {
      if (signal.aborted) {
        queue.end();
        this.requests.delete(reqId);
        return queue;
      }
      signal.addEventListener('abort', () => this.cancel(reqId), { once: true });
    }
    const { group, priority } = schedule;
    // Optional fields are left out rather than undefined (messages.ts); priority 0 is the default.
    const extra = { ...(group !== undefined ? { group } : {}), ...(priority ? { priority } : {}) };
    this.channel.send({ type: 'submit', reqId, promptTokenIds, params: full, arrivalTime: Date.now(), ...extra }).catch((error: unknown) => {
      this.requests.delete(reqId);
      queue.fail(error);
    });
    return queue;
  }

  private cancel(reqId: number): void {
    const queue = this.requests.get(reqId);
    if (!queue) return;
    this.requests.delete(reqId);
    queue.end();
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
        const queue = this.requests.get(msg.reqId);
        if (!queue) return;
        this.requests.delete(msg.reqId);
        const { message, type, param, code } = msg.error;
        queue.fail(msg.status === 429 ? ApiError.tooManyRequests(message, msg.retryAfterSeconds) : new ApiError(msg.status, type, message, param, code));
        return;
      }
      case 'tokens':
        this.requests.get(msg.reqId)?.push(msg);
        return;
      case 'finished': {
        const queue = this.requests.get(msg.reqId);
        if (!queue) return;
        this.requests.delete(msg.reqId);
        queue.push(msg);
        queue.end();
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
    for (const queue of this.requests.values()) queue.fail(error);
    this.requests.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const queue of this.requests.values()) queue.end();
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
