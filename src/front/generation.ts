// Drives one generation request: pulls GenerationEvents from the backend and
// turns them into either one JSON response or an SSE stream, recording the
// per-request metrics on the way. Endpoint differences (chat vs completions)
// are confined to the encoder and the final-object builder passed in.

import { ApiError } from '../protocol/errors.js';
import type { WireUsage } from '../protocol/openai-types.js';
import { type ChoiceResult, wireUsage } from '../protocol/responses.js';
import type { FinishedReasonLabel, ServerMetrics } from '../metrics/registry.js';
import { assembleToolCalls } from '../structured/tool-call-deltas.js';
import type { GenerationEvent, ToolCallDelta, UsageEvent } from './backend.js';
import type { Exchange } from './exchange.js';
import { type ChunkEncoder, SSE_DONE } from './sse.js';
import type { Logger } from './logger.js';
import type { RequestRecord } from './request-log.js';

export interface GenerationJob {
  events: AsyncIterable<GenerationEvent>;
  choiceCount: number;
  stream: boolean;
  includeUsage: boolean;
  /** Wants per-token logprobs kept for the non-streamed response. */
  logprobs: boolean;
  encoder: ChunkEncoder;
  /** Builds the non-streamed response body from the finished choices. */
  buildResponse(choices: ChoiceResult[], usage: WireUsage): unknown;
  /** performance.now() at request arrival. */
  arrival: number;
}

export interface GenerationContext {
  metrics: ServerMetrics | null;
  logger: Logger;
}

/** Never throws: every failure ends up as an HTTP error, an SSE error frame, or silence after an abort. */
export async function runGeneration(ctx: GenerationContext, ex: Exchange, job: GenerationJob): Promise<void> {
  const iterator = job.events[Symbol.asyncIterator]();
  const tracker = new RequestTracker(ctx.metrics, job.arrival, ex.record);
  const finished = new Array<boolean>(job.choiceCount).fill(false);
  let finishedCount = 0;
  let usage: UsageEvent | null = null;
  let started = false; // headers committed (streaming) — errors after this go in-band
  const choices: ChoiceResult[] = Array.from({ length: job.choiceCount }, () => ({
    text: '',
    logprobs: job.logprobs ? [] : null,
    finishReason: 'stop',
    toolCalls: null,
  }));

  const fail = (err: ApiError): void => {
    tracker.done('error', usage);
    if (ex.aborted) return;
    if (started) {
      ex.endStreamWithError(err, false, job.encoder.error?.(err));
    } else {
      ex.sendError(err);
    }
  };
  const emit = async (frame: string): Promise<void> => {
    if (!started) {
      started = true;
      if (!ex.beginStream(job.encoder.opening(job.choiceCount) + frame)) await ex.waitWritable();
    } else if (frame !== '' && !ex.write(frame)) {
      await ex.waitWritable();
    }
  };
  const checkIndex = (i: number): void => {
    if (!Number.isInteger(i) || i < 0 || i >= job.choiceCount || finished[i]) {
      throw new Error(`backend contract violation: event for choice ${i} (count ${job.choiceCount}, finished ${String(finished[i])})`);
    }
  };
  // Tool calls announced per choice, and (non-streamed) the deltas to reassemble.
  const callCounts = new Array<number>(job.choiceCount).fill(0);
  const callDeltas: ToolCallDelta[][] = Array.from({ length: job.choiceCount }, () => []);
  const checkToolCall = (choice: number, d: ToolCallDelta): void => {
    const header = d.index === callCounts[choice] && d.id !== undefined && d.function.name !== undefined;
    const fragment = Number.isInteger(d.index) && d.index >= 0 && d.index < callCounts[choice] && d.id === undefined && d.function.name === undefined;
    if (!header && !fragment) {
      throw new Error(`backend contract violation: tool call delta ${JSON.stringify(d)} for choice ${choice} with ${callCounts[choice]} calls announced`);
    }
    if (header) callCounts[choice]++;
  };

  try {
    for (;;) {
      const step = await iterator.next();
      // Gone: the client aborted, or the server ended a stalled stream.
      if (ex.aborted || ex.finished) break;
      if (step.done === true) break;
      const ev = step.value;
      switch (ev.type) {
        case 'delta': {
          checkIndex(ev.choiceIndex);
          tracker.firstOutput();
          if (job.stream) await emit(job.encoder.delta(ev.choiceIndex, ev.text, ev.logprobs));
          else {
            const c = choices[ev.choiceIndex];
            c.text += ev.text;
            if (c.logprobs !== null && ev.logprobs !== undefined) for (const lp of ev.logprobs) c.logprobs.push(lp);
          }
          break;
        }
        case 'tool_call_delta': {
          checkIndex(ev.choiceIndex);
          if (job.encoder.toolCall === undefined) throw new Error('backend contract violation: tool call delta on an endpoint without tool calls');
          checkToolCall(ev.choiceIndex, ev.delta);
          tracker.firstOutput();
          if (job.stream) await emit(job.encoder.toolCall(ev.choiceIndex, ev.delta));
          else callDeltas[ev.choiceIndex].push(ev.delta);
          break;
        }
        case 'finish': {
          checkIndex(ev.choiceIndex);
          finished[ev.choiceIndex] = true;
          finishedCount++;
          tracker.reason(ev.finishReason === 'length' ? 'length' : 'stop');
          const c = choices[ev.choiceIndex];
          c.finishReason = ev.finishReason;
          if (job.stream) await emit(job.encoder.finish(ev.choiceIndex, ev.finishReason));
          else if (callCounts[ev.choiceIndex] > 0) {
            c.toolCalls = assembleToolCalls(callDeltas[ev.choiceIndex]);
            callDeltas[ev.choiceIndex] = [];
          }
          break;
        }
        case 'usage':
          usage = ev;
          break;
        case 'prompt':
          break;
        case 'error':
          fail(ev.error);
          await iterator.return?.();
          return;
      }
      if (ex.aborted || ex.finished) break;
    }
  } catch (err) {
    if (ex.aborted || ex.finished) {
      tracker.done('abort', usage);
      return;
    }
    if (!(err instanceof ApiError)) ctx.logger.error({ err }, 'generation failed');
    fail(ApiError.from(err));
    await safeReturn(iterator);
    return;
  }

  if (ex.aborted || ex.finished) {
    tracker.done('abort', usage);
    await safeReturn(iterator);
    return;
  }
  if (finishedCount !== job.choiceCount) {
    ctx.logger.error({ finishedCount, choiceCount: job.choiceCount }, 'backend contract violation: stream ended before every choice finished');
    fail(ApiError.internal());
    return;
  }
  if (usage === null) ctx.logger.warn({}, 'backend contract violation: no usage event; reporting zeros');
  const wire = wireUsage(usage ?? { type: 'usage', promptTokens: 0, completionTokens: 0 });
  tracker.done(null, usage);
  if (job.stream) {
    await emit('');
    ex.endStream(job.encoder.end !== undefined ? job.encoder.end(wire) : (job.includeUsage ? job.encoder.usage(wire) : '') + SSE_DONE);
  } else {
    ex.sendJson(200, JSON.stringify(job.buildResponse(choices, wire)));
  }
}

async function safeReturn(it: AsyncIterator<GenerationEvent>): Promise<void> {
  try {
    await it.return?.();
  } catch {
    // The backend failed while being closed; nothing left to tell the client.
  }
}

/** Per-request latency/outcome metrics, measured at the HTTP layer. */
export class RequestTracker {
  private firstAt = 0;
  private finishReason: FinishedReasonLabel = 'stop';
  private recorded = false;

  constructor(
    private readonly metrics: ServerMetrics | null,
    private readonly arrival: number,
    private readonly record: RequestRecord,
  ) {}

  firstOutput(): void {
    if (this.firstAt !== 0) return;
    this.firstAt = performance.now();
    this.record.ttftMs = this.firstAt - this.arrival;
    this.metrics?.timeToFirstToken.observe((this.firstAt - this.arrival) / 1000);
  }

  /** A request counts as 'length' if any choice hit the limit (vLLM reports per request, too). */
  reason(r: FinishedReasonLabel): void {
    if (r === 'length') this.finishReason = 'length';
  }

  /** `outcome` null = completed normally (use the finish reason seen). */
  done(outcome: FinishedReasonLabel | null, usage: UsageEvent | null): void {
    if (usage !== null) {
      this.record.promptTokens = usage.promptTokens;
      this.record.completionTokens = usage.completionTokens;
    }
    if (this.recorded || this.metrics === null) return;
    this.recorded = true;
    // A request refused before producing anything (400/429/503 from the backend) is not a finished request.
    if (outcome === 'error' && this.firstAt === 0) return;
    const m = this.metrics;
    const now = performance.now();
    m.requestSuccess[outcome ?? this.finishReason].inc();
    m.e2eRequestLatency.observe((now - this.arrival) / 1000);
    if (usage !== null) {
      m.promptTokens.inc(usage.promptTokens);
      m.generationTokens.inc(usage.completionTokens);
      m.requestPromptTokens.observe(usage.promptTokens);
      m.requestGenerationTokens.observe(usage.completionTokens);
      if (this.firstAt !== 0 && usage.completionTokens > 1) {
        m.timePerOutputToken.observe((now - this.firstAt) / 1000 / (usage.completionTokens - 1));
      }
    }
  }
}
