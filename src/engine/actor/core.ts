// The engine loop inside the scheduler actor: messages from the front become
// scheduler sequences; whenever a device worker is idle, the scheduler forms
// its next step, the worker runs it, and the sampled tokens flow back to the
// front. Three calls per step, as in nano-vllm: schedule, run, postprocess.

import type { ActorChannel } from '../../ipc/channel.js';
import type { FaultMessage, FrontToActorMessage, SamplingParams, TokenLogprob as WireTokenLogprob } from '../../ipc/messages.js';
import { Scheduler } from '../../scheduler/scheduler.js';
import { SchedulerError } from '../../scheduler/errors.js';
import type { StepPlan } from '../../scheduler/types.js';
import { toWireSamplingParams } from '../../sampling/wire.js';
import type { DeviceStep, DeviceStepResult, StepRow, TokenLogprob } from '../../worker/types.js';
import { DeviceHandle, DeviceLostError } from './device-handle.js';
import type { EngineConfig } from '../config.js';

export interface ModelLimits {
  maxModelLen: number;
  eosTokenIds: number[];
}

interface RequestState {
  reqId: number;
  arrivalTime: number;
  params: SamplingParams;
  promptTokenIds: number[];
  /** Choices not yet finished. */
  open: number;
  /** Prompt logprobs gathered chunk by chunk; sent with the first tokens. */
  promptLogprobs: (WireTokenLogprob | null)[] | null;
  promptLogprobsSent: boolean;
}

interface SeqInfo {
  request: RequestState;
  choice: number;
  /** Date.now() when the scheduler first ran this choice; null until then. */
  scheduledAt: number | null;
  firstTokenSent: boolean;
}

const STATS_INTERVAL_MS = 200;

export class EngineCore {
  private readonly channel: ActorChannel;
  private readonly devices: DeviceHandle[];
  private readonly scheduler: Scheduler;
  private readonly limits: ModelLimits;
  private readonly requests = new Map<number, RequestState>();
  private readonly seqs = new Map<string, SeqInfo>();
  /** Workers whose next step must drop every slot (after a failed step). */
  private readonly needsReset = new Set<number>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Set once the actor is ending itself (exitAfterInFlight). */
  private exitCode: number | null = null;
  /** Per worker, the application of its latest dispatched step's result (the next one waits for it). */
  private readonly lastApplied = new Map<number, Promise<void>>();
  /** Per worker, the latest plan.step dispatched to it. */
  private readonly lastDispatched = new Map<number, number>();
  /** Per worker, the last step dispatched when it last failed: failures of steps up to it are that same failure. */
  private readonly failedThrough = new Map<number, number>();
  /** Tokens per step since the last stats message (bounded: only a sample is needed). */
  private stepTokens: number[] = [];
  private shuttingDown = false;
  private lastStats = 0;
  private preemptions = 0;
  private promptTokensTotal = 0;
  private generationTokensTotal = 0;
  private sharedPrefillTokens = 0;
  private wake: (() => void) | null = null;
  /** Test-only: a fault to inject into a worker's next step (see FaultMessage). */
  private readonly pendingFaults = new Map<number, 'crash' | 'throw'>();
  private readonly testHooks: boolean;
  /** Workers that failed a step and have not yet answered a probe (their thread may be reloading the model). */
  private readonly recovering = new Set<number>();
  private deviceFailures = 0;

  constructor(channel: ActorChannel, devices: DeviceHandle[], config: EngineConfig, limits: ModelLimits) {
    this.channel = channel;
    this.devices = devices;
    this.limits = limits;
    this.testHooks = config.testHooks && process.env.SERVAL_TEST_HOOKS === '1';
    this.scheduler = new Scheduler({
      workers: devices.length,
      maxSlotsPerWorker: config.maxBatchSize,
      maxBatchTokens: Math.max(config.maxBatchTokens, config.maxBatchSize),
      maxModelLen: limits.maxModelLen,
      kvBudgetTokensPerWorker: kvBudget(config, limits.maxModelLen),
      capacityGranule: config.capacityGranule,
      pipelineDepth: config.pipelineDepth,
    });
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
    for (const id of [...this.seqs.keys()]) this.scheduler.abort(id);
    await Promise.allSettled([...this.inFlight]);
  }

  private handle(msg: FrontToActorMessage): void {
    switch (msg.type) {
      case 'submit':
        this.submit(msg.reqId, msg.promptTokenIds, msg.params, msg.arrivalTime);
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

  private submit(reqId: number, promptTokenIds: number[], params: SamplingParams, arrivalTime: number): void {
    const request: RequestState = {
      reqId,
      arrivalTime,
      params,
      promptTokenIds,
      open: params.n,
      promptLogprobs: params.promptLogprobs !== null ? [null] : null,
      promptLogprobsSent: false,
    };
    const added: string[] = [];
    try {
      for (let choice = 0; choice < params.n; choice++) {
        const seqId = `${reqId}:${choice}`;
        this.scheduler.add({
          id: seqId,
          promptTokenIds,
          maxTokens: params.maxTokens,
          eosTokenIds: this.limits.eosTokenIds,
          ignoreEos: params.ignoreEos,
          stopTokenIds: params.stopTokenIds,
        });
        added.push(seqId);
        this.seqs.set(seqId, { request, choice, scheduledAt: null, firstTokenSent: false });
      }
    } catch (error) {
      for (const seqId of added) {
        this.scheduler.abort(seqId);
        this.seqs.delete(seqId);
      }
      if (error instanceof SchedulerError) {
        const param = 'param' in error && typeof error.param === 'string' ? error.param : undefined;
        this.channel.send({ type: 'rejected', reqId, status: error.status, message: error.message, ...(param ? { param } : {}) });
        return;
      }
      throw error;
    }
    this.requests.set(reqId, request);
    this.promptTokensTotal += promptTokenIds.length * params.n;
  }

  private injectFault(msg: FaultMessage): void {
    if (!this.testHooks) return;
    // The actor dies as if it had crashed (exit code 70).
    if (msg.target === 'actor') this.exitAfterInFlight(70);
    else this.pendingFaults.set(msg.worker, msg.kind);
  }

  /**
   * Ends the actor thread once no device step is in flight. Ending it sooner
   * would terminate the device threads (its children) inside session.run(),
   * and onnxruntime-node then throws a C++ exception into the dead
   * environment, which aborts the whole process. No step is dispatched meanwhile.
   */
  exitAfterInFlight(code: number): void {
    if (this.exitCode !== null) return;
    this.exitCode = code;
    void Promise.allSettled([...this.inFlight]).then(() => process.exit(code));
  }

  private cancel(reqId: number): void {
    const request = this.requests.get(reqId);
    if (!request) return;
    for (let choice = 0; choice < request.params.n; choice++) {
      const seqId = `${reqId}:${choice}`;
      const sequence = this.scheduler.get(seqId);
      if (this.scheduler.abort(seqId)) {
        this.seqs.delete(seqId);
        this.channel.send({
          type: 'finished',
          reqId,
          choice,
          reason: 'abort',
          promptTokens: request.promptTokenIds.length,
          completionTokens: sequence?.outputTokenIds.length ?? 0,
        });
      }
    }
    this.requests.delete(reqId);
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
    const step = this.toDeviceStep(plan);
    if (plan.numTokens > 0 && this.stepTokens.length < 1024) this.stepTokens.push(plan.numTokens);
    const settled = this.devices[plan.worker].run(step).then(
      (result) => ({ result, error: null }),
      (error: unknown) => ({ result: null, error }),
    );
    const applied = (this.lastApplied.get(plan.worker) ?? Promise.resolve())
      .then(() => settled)
      .then(({ result, error }) => (result ? this.complete(plan, result) : this.fail(plan, error)))
      .finally(() => {
        this.inFlight.delete(applied);
        this.wake?.();
      });
    this.lastApplied.set(plan.worker, applied);
    this.lastDispatched.set(plan.worker, plan.step);
    this.inFlight.add(applied);
  }

  private toDeviceStep(plan: StepPlan): DeviceStep {
    const step: DeviceStep = { release: plan.freed, capacity: plan.capacity, admit: [], rows: [] };
    if (this.needsReset.delete(plan.worker)) step.resetAll = true;
    const fault = this.pendingFaults.get(plan.worker);
    if (fault !== undefined && plan.rows.length > 0) {
      this.pendingFaults.delete(plan.worker);
      step.fault = fault;
    }
    for (const row of plan.rows) {
      const info = this.seqs.get(row.seqId) as SeqInfo;
      const { request, choice } = info;
      info.scheduledAt ??= Date.now();
      const sequence = this.scheduler.get(row.seqId);
      if (row.slotAction === 'new') {
        const params = toWireSamplingParams(request.params);
        // Each choice of an n > 1 request draws its own stream from a seed derived from the request's.
        if (params.seed !== null) params.seed += choice;
        step.admit.push({
          seqId: row.seqId,
          params,
          promptTokenIds: request.promptTokenIds,
          generatedTokenIds: sequence ? [...sequence.outputTokenIds] : [],
          grammar: request.params.grammar ?? null,
          stopTokenIds: sequence ? [...sequence.endTokenIds] : [],
        });
      }
      const promptLength = request.promptTokenIds.length;
      const wantsPromptLogprobs = request.promptLogprobs !== null && !request.promptLogprobsSent && choice === 0 && row.startPos < promptLength;
      const end = row.startPos + row.tokens.length;
      const deviceRow: StepRow = {
        seqId: row.seqId,
        tokens: row.tokens,
        startPos: row.startPos,
        sample: row.wantsSample,
        promptLogprobs: wantsPromptLogprobs ? (request.params.promptLogprobs as number) : null,
        followingToken: wantsPromptLogprobs && end < promptLength ? request.promptTokenIds[end] : null,
      };
      step.rows.push(deviceRow);
    }
    return step;
  }

  private complete(plan: StepPlan, result: DeviceStepResult): void {
    this.sharedPrefillTokens += result.sharedPrefillTokens;
    for (const scored of result.promptLogprobs) {
      const info = this.seqs.get(scored.seqId);
      if (info?.request.promptLogprobs) info.request.promptLogprobs.push(...scored.entries.map(toWire));
    }
    const logprobBySeq = new Map(result.samples.map((sample) => [sample.seqId, sample.logprob]));
    const outcome = this.scheduler.postprocess(
      plan,
      result.samples.map((sample) => ({ seqId: sample.seqId, tokenId: sample.token })),
    );
    this.preemptions += outcome.preempted.length;
    this.generationTokensTotal += outcome.tokens.length;
    for (const { seqId, tokenId } of outcome.tokens) {
      const info = this.seqs.get(seqId);
      if (!info) continue;
      const { request, choice } = info;
      const logprob = logprobBySeq.get(seqId) ?? null;
      const message = {
        type: 'tokens' as const,
        reqId: request.reqId,
        choice,
        tokenIds: [tokenId],
        ...(logprob ? { logprobs: [toWire(logprob)] } : {}),
        ...(request.promptLogprobs && !request.promptLogprobsSent && choice === 0 ? { promptLogprobs: request.promptLogprobs } : {}),
        ...(info.firstTokenSent ? {} : { queueTimeMs: (info.scheduledAt ?? Date.now()) - request.arrivalTime }),
      };
      info.firstTokenSent = true;
      if (message.promptLogprobs) request.promptLogprobsSent = true;
      this.channel.send(message);
    }
    for (const finished of outcome.finished) {
      const info = this.seqs.get(finished.seqId);
      if (!info) continue;
      this.seqs.delete(finished.seqId);
      this.finishChoice(info, {
        reason: finished.reason,
        completionTokens: finished.outputTokenIds.length,
      });
    }
  }

  /**
   * A failed step loses the worker's KV: every sequence on it fails; the worker
   * starts clean. Steps already queued behind the failed one belong to the same
   * failure: when they fail too, nothing more is aborted or counted (sequences
   * admitted since then are not theirs).
   */
  private fail(plan: StepPlan, error: unknown): void {
    if (plan.step <= (this.failedThrough.get(plan.worker) ?? -1)) {
      this.scheduler.postprocess(plan, []);
      return;
    }
    this.failedThrough.set(plan.worker, this.lastDispatched.get(plan.worker) ?? plan.step);
    const message = error instanceof DeviceLostError ? error.message : `device step failed: ${String(error)}`;
    this.needsReset.add(plan.worker);
    for (const [seqId, info] of [...this.seqs]) {
      const sequence = this.scheduler.get(seqId);
      if (!sequence || sequence.worker !== plan.worker) continue;
      const completionTokens = sequence.outputTokenIds.length;
      this.scheduler.abort(seqId);
      this.seqs.delete(seqId);
      this.finishChoice(info, { reason: 'error', completionTokens, error: { message, code: 'device_error' } });
    }
    // Every row's sequence is gone now, so closing the plan with no tokens is valid.
    this.scheduler.postprocess(plan, []);
    this.deviceFailures += 1;
    this.probe(plan.worker);
  }

  /**
   * Confirms a failed worker is back: an empty step runs once Piscina's
   * replacement thread has loaded the model (it queues ahead of any real
   * step, which would wait for the load anyway). Until then the worker is
   * reported in stats as recovering.
   */
  private probe(worker: number): void {
    this.recovering.add(worker);
    const probing: Promise<void> = this.devices[worker]
      .ready()
      .then(
        () => {
          this.recovering.delete(worker);
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

  private finishChoice(
    info: SeqInfo,
    end: { reason: 'stop' | 'length' | 'error'; completionTokens: number; error?: { message: string; code: string } },
  ): void {
    const { request, choice } = info;
    this.channel.send({
      type: 'finished',
      reqId: request.reqId,
      choice,
      reason: end.reason,
      promptTokens: request.promptTokenIds.length,
      completionTokens: end.completionTokens,
      ...(end.error ? { error: end.error } : {}),
    });
    request.open -= 1;
    if (request.open === 0) this.requests.delete(request.reqId);
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
      stepTokens: this.stepTokens,
      deviceFailures: this.deviceFailures,
      recoveringWorkers: [...this.recovering],
      time: now,
    });
    this.stepTokens = [];
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

function toWire(entry: TokenLogprob): WireTokenLogprob {
  return { logprob: entry.logprob, top: entry.top };
}

export function kvBudget(config: EngineConfig, maxModelLen: number): number {
  return config.kvCacheTokens ?? config.maxBatchSize * maxModelLen;
}
