// Server-sent events framing and the chunk encoders for streamed chat and
// completions. Encoders return finished SSE frames as strings; they do no I/O.
//
// Chat stream, per OpenAI:
//   1. per choice: delta {role:'assistant', content:''}
//   2. per text delta: delta {content}, logprobs {content:[…]} or null
//   3. per tool-call delta: delta {tool_calls:[{index, id, type, function:{name, arguments:''}}]}
//      when a call starts, then delta {tool_calls:[{index, function:{arguments}}]} per fragment
//   4. per choice: delta {}, finish_reason ('tool_calls' after calls)
//   5. include_usage: a chunk with choices [] and usage; every earlier chunk has usage null
//   6. data: [DONE]
// One id/created for the whole stream. The constant part of each chunk is
// serialised once per stream and reused (only the choice varies).
//
// Errors after the headers went out: `data: {"error":{…}}` then `data: [DONE]`
// (vLLM does the same). The openai npm client throws an APIError on the
// error frame (core/streaming: `if (data && data.error) throw new APIError`),
// and plain SSE readers still see a terminated stream.

import type { ApiError } from '../protocol/errors.js';
import type { WireChatChunkChoice, WireCompletionChoice, WireFinishReason, WireToolCallDelta, WireUsage } from '../protocol/openai-types.js';
import { chatLogprobs, completionLogprobs, newId } from '../protocol/responses.js';
import type { TextTokenLogprob, ToolCallDelta } from './backend.js';

export const SSE_DONE = 'data: [DONE]\n\n';

export function sseData(json: string): string {
  return `data: ${json}\n\n`;
}

export function sseError(err: ApiError): string {
  return sseData(JSON.stringify(err.toBody()));
}

/** The parts every generation stream encoder provides to the pump. */
export interface ChunkEncoder {
  /** Frames sent once, right after the headers (chat: the role chunks). */
  opening(choiceCount: number): string;
  delta(index: number, text: string, logprobs: readonly TextTokenLogprob[] | undefined): string;
  /** Absent on endpoints without tool calls (completions). */
  toolCall?(index: number, delta: ToolCallDelta): string;
  finish(index: number, reason: WireFinishReason): string;
  usage(usage: WireUsage): string;
  /** The stream's last frames, replacing the usage chunk and `[DONE]` (APIs with their own closing event). */
  end?(usage: WireUsage): string;
  /** The stream's last frames after a failure, replacing the error chunk and `[DONE]`. */
  error?(err: ApiError): string;
}

/** `{"id":…,"object":…,"created":…,"model":…,"system_fingerprint":null,"choices":[` and its closing. */
function framing(object: string, id: string, created: number, model: string, includeUsage: boolean): { head: string; tail: string; usageHead: string } {
  const head = `data: {"id":${JSON.stringify(id)},"object":"${object}","created":${created},"model":${JSON.stringify(model)},"system_fingerprint":null,"choices":[`;
  return { head, tail: includeUsage ? '],"usage":null}\n\n' : ']}\n\n', usageHead: `${head}],"usage":` };
}

export class ChatChunkEncoder implements ChunkEncoder {
  readonly id: string;
  private readonly head: string;
  private readonly tail: string;
  private readonly usageHead: string;

  constructor(model: string, created: number, includeUsage: boolean, id = newId('chatcmpl')) {
    this.id = id;
    ({ head: this.head, tail: this.tail, usageHead: this.usageHead } = framing('chat.completion.chunk', id, created, model, includeUsage));
  }

  private frame(choice: WireChatChunkChoice): string {
    return this.head + JSON.stringify(choice) + this.tail;
  }

  opening(choiceCount: number): string {
    let out = '';
    for (let index = 0; index < choiceCount; index++) {
      out += this.frame({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null });
    }
    return out;
  }

  delta(index: number, text: string, logprobs: readonly TextTokenLogprob[] | undefined): string {
    return this.frame({ index, delta: { content: text }, logprobs: logprobs === undefined ? null : chatLogprobs(logprobs), finish_reason: null });
  }

  toolCall(index: number, d: ToolCallDelta): string {
    const call: WireToolCallDelta =
      d.id !== undefined
        ? { index: d.index, id: d.id, type: 'function', function: { name: d.function.name ?? '', arguments: d.function.arguments } }
        : { index: d.index, function: { arguments: d.function.arguments } };
    return this.frame({ index, delta: { tool_calls: [call] }, logprobs: null, finish_reason: null });
  }

  finish(index: number, reason: WireFinishReason): string {
    return this.frame({ index, delta: {}, logprobs: null, finish_reason: reason });
  }

  usage(usage: WireUsage): string {
    return `${this.usageHead}${JSON.stringify(usage)}}\n\n`;
  }
}

export class CompletionChunkEncoder implements ChunkEncoder {
  readonly id: string;
  private readonly head: string;
  private readonly tail: string;
  private readonly usageHead: string;

  constructor(model: string, created: number, includeUsage: boolean, private readonly topLogprobs: boolean, id = newId('cmpl')) {
    this.id = id;
    ({ head: this.head, tail: this.tail, usageHead: this.usageHead } = framing('text_completion', id, created, model, includeUsage));
  }

  private frame(choice: WireCompletionChoice): string {
    return this.head + JSON.stringify(choice) + this.tail;
  }

  opening(): string {
    return '';
  }

  delta(index: number, text: string, logprobs: readonly TextTokenLogprob[] | undefined): string {
    return this.frame({
      index,
      text,
      logprobs: logprobs === undefined ? null : completionLogprobs(logprobs, this.topLogprobs),
      finish_reason: null,
    });
  }

  finish(index: number, reason: WireFinishReason): string {
    return this.frame({ index, text: '', logprobs: null, finish_reason: reason });
  }

  usage(usage: WireUsage): string {
    return `${this.usageHead}${JSON.stringify(usage)}}\n\n`;
  }
}
