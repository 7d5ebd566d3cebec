// Drives one Messages API request: pulls the backend's GenerationEvents (the
// same ones /v1/chat/completions renders) and turns them into Anthropic
// content blocks, either as one message or as the documented event stream:
// message_start, ping, per block content_block_start / _delta / _stop,
// message_delta (stop_reason, usage), message_stop. As on the OpenAI routes,
// headers are committed only with the first output, so refusals before it are
// plain HTTP errors; later ones are an `error` event.

import { ApiError } from '../../protocol/errors.js';
import { anthropicMessage, anthropicUsage, ContentAssembler, newMessageId, stopReason } from '../../protocol/anthropic/content.js';
import type { AnthropicStopReason, AnthropicStreamEvent } from '../../protocol/anthropic/types.js';
import type { FinishEvent, GenerationEvent, ToolCallDelta, UsageEvent } from '../backend.js';
import type { Exchange } from '../exchange.js';
import { RequestTracker, type GenerationContext } from '../generation.js';
import { sseErrorEvent, sseEvent } from './sse.js';

export interface MessagesJob {
  events: AsyncIterable<GenerationEvent>;
  stream: boolean;
  model: string;
  /** performance.now() at request arrival. */
  arrival: number;
}

/** Never throws: every failure ends up as an HTTP error, an `error` event, or silence after an abort. */
export async function runMessages(ctx: GenerationContext, ex: Exchange, job: MessagesJob): Promise<void> {
  const iterator = job.events[Symbol.asyncIterator]();
  const tracker = new RequestTracker(ctx.metrics, job.arrival, ex.record);
  const id = newMessageId();
  const blocks = new ContentAssembler();
  let promptTokens = 0;
  let usage: UsageEvent | null = null;
  let finish: FinishEvent | null = null;
  let started = false;
  let calls = 0;

  const fail = (err: ApiError): void => {
    tracker.done('error', usage);
    if (ex.aborted) return;
    if (started) ex.endStreamWithError(err, false, sseErrorEvent(err));
    else ex.sendError(err);
  };
  /** Streams `events`; the first output also sends message_start and a ping. */
  const send = async (events: AnthropicStreamEvent[], force = false): Promise<void> => {
    if (!job.stream || (events.length === 0 && !force)) return;
    let frames = events.map(sseEvent).join('');
    if (!started) {
      started = true;
      const opening = anthropicMessage(id, job.model, [], null, anthropicUsage(promptTokens, 0));
      frames = sseEvent({ type: 'message_start', message: opening }) + sseEvent({ type: 'ping' }) + frames;
      if (!ex.beginStream(frames)) await ex.waitWritable();
    } else if (!ex.write(frames)) await ex.waitWritable();
  };
  const toolCall = (d: ToolCallDelta): AnthropicStreamEvent[] => {
    if (d.id !== undefined && d.index === calls) {
      calls++;
      return [...blocks.toolStart(d.id, d.function.name ?? ''), ...blocks.toolInput(d.function.arguments)];
    }
    if (d.id === undefined && d.index === calls - 1) return blocks.toolInput(d.function.arguments);
    throw new Error(`backend contract violation: tool call delta ${JSON.stringify(d)} with ${calls} calls announced`);
  };

  try {
    for (;;) {
      const step = await iterator.next();
      if (ex.aborted || step.done === true) break;
      const ev = step.value;
      if (finish !== null && ev.type !== 'usage') throw new Error(`backend contract violation: '${ev.type}' after the finish of the only choice`);
      switch (ev.type) {
        case 'prompt':
          promptTokens = ev.promptTokens;
          break;
        case 'delta':
          tracker.firstOutput();
          await send(blocks.text(ev.text));
          break;
        case 'tool_call_delta':
          tracker.firstOutput();
          await send(toolCall(ev.delta));
          break;
        case 'finish':
          finish = ev;
          tracker.reason(ev.finishReason === 'length' ? 'length' : 'stop');
          await send(blocks.close(), true);
          break;
        case 'usage':
          usage = ev;
          break;
        case 'error':
          fail(ev.error);
          await safeReturn(iterator);
          return;
      }
      if (ex.aborted) break;
    }
  } catch (err) {
    if (ex.aborted) {
      tracker.done('abort', usage);
      return;
    }
    if (!(err instanceof ApiError)) ctx.logger.error({ err }, 'generation failed');
    fail(ApiError.from(err));
    await safeReturn(iterator);
    return;
  }

  if (ex.aborted) {
    tracker.done('abort', usage);
    await safeReturn(iterator);
    return;
  }
  if (finish === null || usage === null) {
    ctx.logger.error({ finished: finish !== null, usage: usage !== null }, 'backend contract violation: stream ended without a finish and usage');
    fail(ApiError.internal());
    return;
  }
  tracker.done(null, usage);
  const reason: AnthropicStopReason = stopReason(finish.finishReason, finish.stopSequence ?? null);
  const sequence = reason === 'stop_sequence' ? (finish.stopSequence ?? null) : null;
  if (job.stream) {
    const delta: AnthropicStreamEvent = {
      type: 'message_delta',
      delta: { stop_reason: reason, stop_sequence: sequence, stop_details: null, container: null },
      usage: { input_tokens: usage.promptTokens, output_tokens: usage.completionTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, server_tool_use: null },
    };
    ex.endStream(sseEvent(delta) + sseEvent({ type: 'message_stop' }));
  } else {
    const message = anthropicMessage(id, job.model, blocks.content(), { reason, sequence }, anthropicUsage(usage.promptTokens, usage.completionTokens));
    ex.sendJson(200, JSON.stringify(message));
  }
}

async function safeReturn(it: AsyncIterator<GenerationEvent>): Promise<void> {
  try {
    await it.return?.();
  } catch {
    // The backend failed while being closed; nothing left to tell the client.
  }
}
