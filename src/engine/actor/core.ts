// Runs in the scheduler actor thread. The engine loop: messages from the
// front become scheduler sequences (one engine request = one sequence; the
// front fans a request's n choices out); whenever a device worker has room in
// its pipeline, the scheduler forms its next step, the worker runs it, and the
// sampled tokens flow back to the front. Three calls per step, as in
// nano-vllm: schedule, run, postprocess.

import type { ActorChannel } from '../channel/channel.js';
import type { FaultMessage, FrontToActorMessage, StepDuration, SubmitMessage } from '../channel/messages.js';
import type { TokenLogprob } from '../../sampling/logprobs.js';
import type { SamplingParams } from '../../sampling/params.js';
import { Scheduler } from '../../scheduler/scheduler.js';
import { InvalidSequenceError } from '../../scheduler/errors.js';
import type { FinishReason, StepPlan } from '../../scheduler/types.js';
import type { AnnouncedSamples, DeviceRow, DeviceStep, DeviceStepResult, RowSample } from '../../worker/types.js';
import type { EngineConfig } from '../config.js';
import type { Grammar } from '../../structured/grammar.js';
import { EarlyTokens } from './early-tokens.js';
import { GrammarCompiles, type GrammarCompiler } from './grammar-compiles.js';
import { stepKind } from './step-kind.js';

export interface ModelLimits {
  maxModelLen: number;
  eosTokenIds: number[];
}

/** What EngineCore needs of a device worker: DeviceHandle in production, fakes in its unit tests. */
export interface Device {
  /** Runs one step; rejects when the worker failed it, and its KV state is then gone. */
  run(step: DeviceStep): Promise<DeviceStepResult>;
  /** Resolves once the worker can run steps (after a failure: once its replacement thread has loaded the model). */
  ready(): Promise<void>;
  /** Compiles a grammar into the worker's cache as a task between steps (absent: grammars compile when admitted). */
  compileGrammar?(grammar: Grammar): Promise<void>;
  /** Samples a running step announces before its result (DeviceStep.announce; absent: results only). */
  onAnnouncedSamples?(listener: (announced: AnnouncedSamples) => void): void;
}

/** The part of the actor's channel EngineCore uses. */
export type CoreChannel = Pick<ActorChannel, 'poll' | 'closed' | 'send' | 'trySend' | 'hasMessages' | 'waitForMessagesAsync'>;

/** One engine request: one scheduler sequence, whose id is String(reqId). */
interface Request {
  reqId: number;
  arrivalTime: number;
  params: SamplingParams;
  promptTokenIds: number[];
  /** Date.now() when the scheduler first ran it; null until then. */
  scheduledAt: number | null;
  firstTokenSent: boolean;
  /** Prompt logprobs gathered chunk by chunk; sent with the first token. */
  promptLogprobs: (TokenLogprob | null)[] | null;
  /** Prompt positions its latest admission took from the prefix cache; sent with the first token. */
  cachedTokens: number;
}

/** The actor's view of one device worker. */
interface WorkerState {
  device: Device;
  /** The application of the latest dispatched step's result: the next one waits for it (plan order). */
  lastApplied: Promise<void>;
  /** plan.step of the latest step dispatched to it. */
  lastDispatched: number;
  /** The last step dispatched when it last failed: failures of steps up to it are that same failure. */
  failedThrough: number;
  /** Its next step must drop every slot (after a failed step). */
  needsReset: boolean;
  /** Test-only: a fault to inject into its next step with rows (see FaultMessage). */
  pendingFault: 'crash' | 'throw' | null;
  /** It failed a step and has not yet answered a probe (its thread may be reloading the model). */
  recovering: boolean;
}

const STATS_INTERVAL_MS = 200;

export class EngineCore {
  private readonly channel: CoreChannel;
  private readonly workers: WorkerState[];
  private readonly scheduler: Scheduler;
  private readonly limits: ModelLimits;
  /** Live requests by sequence id. */
  private readonly requests = new Map<string, Request>();
  /** Null unless lock-step: with a second step queued, planning it may preempt a sequence whose sample is in flight, and that sample is then dropped. */
  private readonly early: EarlyTokens | null;
  private readonly inFlight = new Set<Promise<void>>();
  /** Set once the actor is ending itself (exitAfterInFlight). */
  private exitCode: number | null = null;
  /** Tokens per step since the last stats message (bounded: only a sample is needed). */
  private stepTokens: number[] = [];
  /** Device steps' wall times since the last stats message (bounded like stepTokens). */
  private stepDurations: StepDuration[] = [];
  private shuttingDown = false;
  private lastStats = 0;
  private preemptions = 0;
  private promptTokensTotal = 0;
  private generationTokensTotal = 0;
  private sharedPrefillTokens = 0;
  private deviceFailures = 0;
  private wake: (() => void) | null = null;
  private readonly testHooks: boolean;
  /** Null when a device cannot compile ahead (unit-test fakes): grammars then compile at admission. */
  private readonly compiles: GrammarCompiles | null;

  constructor(channel: CoreChannel, devices: Device[], config: EngineConfig, limits: ModelLimits) {
    this.channel = channel;
    this.workers = devices.map((device) => ({
      device,
      lastApplied: Promise.resolve(),
      lastDispatched: -1,
      failedThrough: -1,
      needsReset: false,
      pendingFault: null,
      recovering: false,
    }));
    this.limits = limits;
    this.testHooks = config.testHooks && process.env.SERVAL_TEST_HOOKS === '1';
    const compilers = devices.filter((device): device is Device & GrammarCompiler => device.compileGrammar !== undefined);
    this.compiles =
      compilers.length === devices.length
        ? new GrammarCompiles(compilers, config.maxQueuedGrammarCompiles, (seqId, worker, error) => this.compiled(seqId, worker, error))
        : null;
    this.scheduler = new Scheduler({
      workers: devices.length,
      maxSlotsPerWorker: config.maxBatchSize,
      maxBatchTokens: Math.max(config.maxBatchTokens, config.maxBatchSize),
      maxPrefillTokensWithDecode: config.maxPrefillTokensWithDecode,
      maxModelLen: limits.maxModelLen,
      kvBudgetTokensPerWorker: kvBudget(config, limits.maxModelLen),
      capacityGranule: config.capacityGranule,
      pipelineDepth: config.pipelineDepth,
      prefixCaching: config.prefixCaching,
      schedulingPolicy: config.schedulingPolicy,
    });
    this.early = config.pipelineDepth === 1 ? new EarlyTokens() : null;
    if (this.early) devices.forEach((device, worker) => device.onAnnouncedSamples?.((announced) => this.announced(worker, announced)));
  }

  /** Runs until a shutdown message arrives (or the front closes the channel) and in-flight steps end. */
  async run(): Promise<void> {
    for (;;) {
      for (const msg of this.channel.poll()) this.handle(msg);
      if (this.shuttingDown || this.channel.closed) break;
      this.dispatchIdleWorkers();
      this.maybeSendStats();
      await this.waitForWork();
    }
    for (const seqId of [...this.requests.keys()]) this.scheduler.abort(seqId);
    await Promise.allSettled([...this.inFlight]);
  }

  private handle(msg: FrontToActorMessage): void {
    switch (msg.type) {
      case 'submit':
        this.submit(msg);
        return;
      case 'cancel':
        this.cancel(msg.reqId);
        return;
      case 'shutdown':
        this.shuttingDown = true;
        return;
      case 'fault':
        this.injectFault(msg);
        return;
    }
  }

  private submit({ reqId, promptTokenIds, params, arrivalTime, group, priority }: SubmitMessage): void {
    const seqId = String(reqId);
    const compileFirst = params.grammar !== null && this.compiles !== null;
    try {
      this.scheduler.add({
        id: seqId,
        promptTokenIds,
        maxTokens: params.maxTokens,
        eosTokenIds: this.limits.eosTokenIds,
        ignoreEos: params.ignoreEos,
        stopTokenIds: params.stopTokenIds,
        group,
        priority,
        held: compileFirst,
        // Prompt logprobs need every prompt position's logits: such a request computes its whole prompt.
        reusesPrefix: params.promptLogprobs === null,
      });
    } catch (error) {
      if (!(error instanceof InvalidSequenceError)) throw error;
      const { status, type, code, param, message } = error;
      this.channel.send({ type: 'rejected', reqId, status, error: { message, type, param, code } });
      return;
    }
    if (compileFirst && !this.compiles?.enqueue(seqId, params.grammar as Grammar)) {
      this.scheduler.abort(seqId);
      const { queued } = this.compiles?.counters() ?? { queued: 0 };
      const message = `Too many structured-output grammars are waiting to compile (${queued}). Retry later.`;
      this.channel.send({ type: 'rejected', reqId, status: 429, retryAfterSeconds: 2, error: { message, type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } });
      return;
    }
    this.requests.set(seqId, {
      reqId,
      arrivalTime,
      params,
      promptTokenIds,
      scheduledAt: null,
      firstTokenSent: false,
      promptLogprobs: params.promptLogprobs !== null ? [null] : null,
      cachedTokens: 0,
    });
    this.promptTokensTotal += promptTokenIds.length;
  }

  private injectFault(msg: FaultMessage): void {
    if (!this.testHooks) return;
    // The actor dies as if it had crashed (exit code 70).
    if (msg.target === 'actor') this.exitAfterInFlight(70);
    else if (this.workers[msg.worker]) this.workers[msg.worker].pendingFault = msg.kind;
  }

  /**
   * Ends the actor thread once no device step is in flight. Ending it sooner
   * would terminate the device threads (its children) inside session.run(),
   * and onnxruntime-node then throws a C++ exception into the dead
   * environment, which aborts the whole process. No step is dispatched meanwhile.
   */
  exitAfterInFlight(code: number, exit: (code: number) => void = (status) => process.exit(status)): void {
    if (this.exitCode !== null) return;
    this.exitCode = code;
    void Promise.allSettled([...this.inFlight]).then(() => exit(code));
  }

  private cancel(reqId: number): void {
    const seqId = String(reqId);
    const request = this.requests.get(seqId);
    if (!request) return;
    const completionTokens = this.scheduler.get(seqId)?.outputTokenIds.length ?? 0;
    this.compiles?.cancel(seqId);
    this.scheduler.abort(seqId);
    this.finish(seqId, request, { reason: 'abort', completionTokens });
  }

  /** A held sequence's grammar is in `worker`'s cache: it may run there; or it failed to compile. */
  private compiled(seqId: string, worker: number, error: Error | null): void {
    const request = this.requests.get(seqId);
    if (!request) return;
    if (error === null) this.scheduler.ready(seqId, worker);
    else {
      this.scheduler.abort(seqId);
      this.finish(seqId, request, { reason: 'error', completionTokens: 0, error: { message: `grammar compile failed: ${error.message}`, code: 'grammar_error' } });
    }
    this.wake?.();
  }

  /**
   * Plans every worker until its pipeline is full: with pipelineDepth 2 a
   * worker's next step is queued on it while the current one runs. Results
   * are applied in plan order per worker (a failed step and the one queued
   * behind it may settle in either order).
   */
  private dispatchIdleWorkers(): void {
    if (this.exitCode !== null) return;
    for (let plans = this.scheduler.schedule(); plans.length > 0; plans = this.scheduler.schedule()) {
      for (const plan of plans) this.dispatch(plan);
    }
  }

  private dispatch(plan: StepPlan): void {
    const worker = this.workers[plan.worker];
    const step = this.toDeviceStep(plan, worker);
    if (this.early) {
      step.announce = plan.step;
      this.early.expect(plan.worker, plan.step, step.rows);
    }
    if (plan.numTokens > 0 && this.stepTokens.length < 1024) this.stepTokens.push(plan.numTokens);
    const settled = worker.device.run(step).then(
      (result) => ({ result, error: null }),
      (error: unknown) => ({ result: null, error }),
    );
    const applied = worker.lastApplied
      .then(() => settled)
      .then(({ result, error }) => (result ? this.complete(plan, result) : this.fail(plan, error)))
      .finally(() => {
        this.inFlight.delete(applied);
        this.wake?.();
      });
    worker.lastApplied = applied;
    worker.lastDispatched = plan.step;
    this.inFlight.add(applied);
  }

  private toDeviceStep(plan: StepPlan, worker: WorkerState): DeviceStep {
    const step: DeviceStep = {
      cacheDrops: plan.cacheDrops,
      cacheSaves: plan.cacheSaves,
      cacheDropsAfterRun: plan.cacheDropsAfterRun,
      cacheSavesAfterRun: plan.cacheSavesAfterRun,
      release: plan.freed,
      capacity: plan.capacity,
      capacityCeiling: plan.capacityCeiling,
      admit: [],
      rows: [],
    };
    if (worker.needsReset) {
      worker.needsReset = false;
      step.resetAll = true;
    }
    if (worker.pendingFault !== null && plan.rows.length > 0) {
      step.fault = worker.pendingFault;
      worker.pendingFault = null;
    }
    for (const row of plan.rows) {
      const request = this.requests.get(row.seqId) as Request;
      request.scheduledAt ??= Date.now();
      if (row.slotAction === 'new') {
        const sequence = this.scheduler.get(row.seqId);
        if (!request.firstTokenSent) request.cachedTokens = Math.min(row.startPos, request.promptTokenIds.length);
        step.admit.push({
          seqId: row.seqId,
          params: request.params,
          promptTokenIds: request.promptTokenIds,
          generatedTokenIds: sequence ? [...sequence.outputTokenIds] : [],
          stopTokenIds: sequence ? [...sequence.endTokenIds] : [],
          ...(row.prefixBlocks ? { prefixBlocks: row.prefixBlocks } : {}),
        });
      }
      const promptLength = request.promptTokenIds.length;
      const scoresPrompt = request.promptLogprobs !== null && !request.firstTokenSent && row.startPos < promptLength;
      const end = row.startPos + row.tokens.length;
      const deviceRow: DeviceRow = {
        seqId: row.seqId,
        tokens: row.tokens,
        startPos: row.startPos,
        sample: row.sample,
        promptLogprobs: scoresPrompt ? request.params.promptLogprobs : null,
        followingToken: scoresPrompt && end < promptLength ? request.promptTokenIds[end] : null,
      };
      step.rows.push(deviceRow);
    }
    return step;
  }

  /** Samples a worker announced before its step's result: their tokens go out now. */
  private announced(worker: number, announced: AnnouncedSamples): void {
    for (const sample of this.early?.accept(worker, announced) ?? []) {
      const request = this.requests.get(sample.seqId);
      if (request) this.sendToken(request, sample);
    }
  }

  private complete(plan: StepPlan, result: DeviceStepResult): void {
    const sentEarly = this.early?.settle(plan.rows) ?? new Set<string>();
    this.sharedPrefillTokens += result.sharedPrefillTokens;
    const kind = stepKind(plan.rows);
    if (kind !== null && this.stepDurations.length < 1024) this.stepDurations.push({ kind, ms: result.stepMs });
    for (const scored of result.promptLogprobs) this.requests.get(scored.seqId)?.promptLogprobs?.push(...scored.entries);
    const outcome = this.scheduler.postprocess(plan, result.samples);
    this.preemptions += outcome.preempted.length;
    this.generationTokensTotal += outcome.tokens.length;
    for (const sample of outcome.tokens) {
      const request = this.requests.get(sample.seqId);
      // Only a sequence's first token of the step can have gone out early (its follow-on row's token comes after it).
      if (sentEarly.delete(sample.seqId)) continue;
      if (request) this.sendToken(request, sample);
    }
    for (const finished of outcome.finished) {
      const request = this.requests.get(finished.seqId);
      if (request) this.finish(finished.seqId, request, { reason: finished.reason, completionTokens: finished.outputTokenIds.length });
    }
  }

  private sendToken(request: Request, { token, logprob }: RowSample): void {
    const first = !request.firstTokenSent;
    request.firstTokenSent = true;
    this.channel.send({
      type: 'tokens',
      reqId: request.reqId,
      tokenIds: [token],
      ...(logprob ? { logprobs: [logprob] } : {}),
      ...(first && request.promptLogprobs ? { promptLogprobs: request.promptLogprobs } : {}),
      ...(first ? { queueTimeMs: (request.scheduledAt ?? Date.now()) - request.arrivalTime, cachedTokens: request.cachedTokens } : {}),
    });
  }

  /**
   * A failed step loses the worker's KV: every sequence on it fails; the worker
   * starts clean. Steps already queued behind the failed one belong to the same
   * failure: when they fail too, nothing more is aborted or counted (sequences
   * admitted since then are not theirs).
   */
  private fail(plan: StepPlan, error: unknown): void {
    this.early?.settle(plan.rows);
    const worker = this.workers[plan.worker];
    if (plan.step <= worker.failedThrough) {
      this.scheduler.postprocess(plan, []);
      return;
    }
    worker.failedThrough = worker.lastDispatched;
    worker.needsReset = true;
    const message = error instanceof Error ? error.message : `device step failed: ${String(error)}`;
    for (const [seqId, request] of [...this.requests]) {
      const sequence = this.scheduler.get(seqId);
      if (!sequence || sequence.worker !== plan.worker) continue;
      const completionTokens = sequence.outputTokenIds.length;
      this.scheduler.abort(seqId);
      this.finish(seqId, request, { reason: 'error', completionTokens, error: { message, code: 'device_error' } });
    }
    // Every row's sequence is gone now, so closing the plan with no tokens is valid.
    this.scheduler.postprocess(plan, []);
    this.scheduler.forgetCache(plan.worker);
    this.deviceFailures += 1;
    this.probe(worker);
  }

  /**
   * Confirms a failed worker is back: ready() resolves once the replacement
   * thread has loaded the model (it queues ahead of any real step, which would
   * wait for the load anyway). Until then the worker is reported in stats as
   * recovering.
   */
  private probe(worker: WorkerState): void {
    worker.recovering = true;
    const probing: Promise<void> = worker.device
      .ready()
      .then(
        () => {
          worker.recovering = false;
        },
        () => undefined, // still failing: the next real step fails its sequences and probes again
      )
      .finally(() => {
        this.inFlight.delete(probing);
        this.lastStats = 0; // report the change promptly
        this.wake?.();
      });
    this.inFlight.add(probing);
  }

  private finish(
    seqId: string,
    request: Request,
    end: { reason: FinishReason; completionTokens: number; error?: { message: string; code: string } },
  ): void {
    this.requests.delete(seqId);
    this.channel.send({
      type: 'finished',
      reqId: request.reqId,
      reason: end.reason,
      promptTokens: request.promptTokenIds.length,
      completionTokens: end.completionTokens,
      ...(end.error ? { error: end.error } : {}),
    });
  }

  private maybeSendStats(): void {
    const now = Date.now();
    if (now - this.lastStats < STATS_INTERVAL_MS) return;
    this.lastStats = now;
    const usage = this.scheduler.usage();
    this.channel.trySend({
      type: 'stats',
      running: this.scheduler.numRunning,
      waiting: this.scheduler.numWaiting,
      kvUsage: usage.map((worker) => worker.costTokens / worker.budgetTokens),
      preemptions: this.preemptions,
      promptTokensTotal: this.promptTokensTotal,
      generationTokensTotal: this.generationTokensTotal,
      sharedPrefillTokens: this.sharedPrefillTokens,
      prefixCacheQueries: this.scheduler.prefixQueries,
      prefixCacheHits: this.scheduler.prefixHits,
      stepTokens: this.stepTokens,
      stepDurations: this.stepDurations,
      deviceFailures: this.deviceFailures,
      recoveringWorkers: this.workers.flatMap((worker, index) => (worker.recovering ? [index] : [])),
      ...(this.compiles ? { grammarCompiles: this.compiles.counters() } : {}),
      time: now,
    });
    this.stepTokens = [];
    this.stepDurations = [];
  }

  /** Sleeps until a step finishes or a message may have arrived. */
  private async waitForWork(): Promise<void> {
    if (this.channel.hasMessages()) return;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      this.channel.waitForMessagesAsync(STATS_INTERVAL_MS).then(resolve, resolve);
    });
    this.wake = null;
  }
}

export function kvBudget(config: EngineConfig, maxModelLen: number): number {
  return config.kvCacheTokens ?? config.maxBatchSize * maxModelLen;
}
