// The Responses API stream: generation events → named SSE events
// (`event: <type>` + `data: {…, sequence_number}`), in the documented order:
//   response.created, response.in_progress;
//   the message: output_item.added, content_part.added, output_text.delta…,
//     then output_text.done, content_part.done, output_item.done;
//   each function call: output_item.added, function_call_arguments.delta…,
//     function_call_arguments.done, output_item.done (when the next call
//     starts or the choice finishes);
//   response.completed (response.incomplete when cut by max_output_tokens),
//     carrying the whole response with usage.
// The output follows the non-streamed rule (objects.ts outputItems): the
// message holds all the text and is left out when the model only called tools
// around whitespace, so leading whitespace is held until real text arrives.
// A failure after the headers ends the stream with an `error` event (the
// openai SDK throws it as an APIError). No `[DONE]`: OpenAI sends none here.

import type { ApiError } from '../../protocol/errors.js';
import type { WireFinishReason, WireUsage } from '../../protocol/openai-types.js';
import { messageItem, newResponsesId, responseObject, responsesUsage } from '../../protocol/responses-api/objects.js';
import type { ResponseEcho } from '../../protocol/responses-api/request.js';
import type { WireFunctionCall, WireItemStatus, WireOutputItem, WireOutputMessage, WireResponse, WireResponsesEvent } from '../../protocol/responses-api/wire.js';
import type { ChunkEncoder } from '../sse.js';
import type { ToolCallDelta } from '../backend.js';

export class ResponsesStreamEncoder implements ChunkEncoder {
  private sequence = 0;
  private opened = false;
  /** Output items by output_index. */
  private readonly output: WireOutputItem[] = [];
  private message: { index: number; item: WireOutputMessage } | null = null;
  /** Whitespace held while no message is open. */
  private held = '';
  private call: { index: number; item: WireFunctionCall } | null = null;
  private calls = 0;
  private status: 'completed' | 'incomplete' = 'completed';

  constructor(
    private readonly echo: ResponseEcho,
    readonly id: string,
    private readonly createdAt: number,
    /** Receives the finished response (to store it). */
    private readonly onComplete: (response: WireResponse) => void,
  ) {}

  private frame(event: WireResponsesEvent): string {
    // The pump asks for the opening after the first frame is made: sequence numbers must still start there.
    const opening = this.opened ? '' : this.opening();
    return `${opening}event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: this.sequence++ })}\n\n`;
  }

  private snapshot(usage: WireUsage | null): WireResponse {
    return responseObject(this.echo, {
      id: this.id,
      createdAt: this.createdAt,
      status: usage === null ? 'in_progress' : this.status,
      output: usage === null ? [] : this.output,
      usage: usage === null ? null : responsesUsage(usage),
    });
  }

  /** response.created and response.in_progress, once: before the first frame made, whichever asks first. */
  opening(): string {
    if (this.opened) return '';
    this.opened = true;
    const response = this.snapshot(null);
    return this.frame({ type: 'response.created', response }) + this.frame({ type: 'response.in_progress', response });
  }

  delta(_index: number, text: string): string {
    if (this.message !== null) return this.textDelta(text);
    this.held += text;
    return this.held.trim() === '' ? '' : this.openMessage();
  }

  toolCall(_index: number, d: ToolCallDelta): string {
    let out = '';
    if (d.id !== undefined) {
      out += this.closeCall();
      const item: WireFunctionCall = { type: 'function_call', id: newResponsesId('fc'), call_id: d.id, name: d.function.name ?? '', arguments: '', status: 'in_progress' };
      this.call = { index: this.output.length, item };
      this.calls++;
      this.output.push(item);
      out += this.frame({ type: 'response.output_item.added', output_index: this.call.index, item: { ...item } });
    }
    const call = this.call;
    if (call === null || d.function.arguments === '') return out;
    call.item.arguments += d.function.arguments;
    return out + this.frame({ type: 'response.function_call_arguments.delta', item_id: call.item.id, output_index: call.index, delta: d.function.arguments });
  }

  finish(_index: number, reason: WireFinishReason): string {
    this.status = reason === 'length' ? 'incomplete' : 'completed';
    const itemStatus: WireItemStatus = this.status;
    // A turn with no tool call always has a message, even an empty one.
    let out = this.message === null && this.calls === 0 ? this.openMessage() : '';
    out += this.closeCall(itemStatus);
    const message = this.message;
    if (message !== null) {
      const { index, item } = message;
      const part = item.content[0];
      item.status = itemStatus;
      out += this.frame({ type: 'response.output_text.done', item_id: item.id, output_index: index, content_index: 0, text: part.text, logprobs: [] });
      out += this.frame({ type: 'response.content_part.done', item_id: item.id, output_index: index, content_index: 0, part: { ...part } });
      out += this.frame({ type: 'response.output_item.done', output_index: index, item: structuredClone(item) });
    }
    return out;
  }

  /** Never called: end() closes this stream, with the usage inside the response. */
  usage(): string {
    return '';
  }

  end(usage: WireUsage): string {
    const response = this.snapshot(usage);
    this.onComplete(response);
    return this.frame({ type: this.status === 'completed' ? 'response.completed' : 'response.incomplete', response });
  }

  error(err: ApiError): string {
    return this.frame({ type: 'error', code: err.code, message: err.message, param: err.param });
  }

  private openMessage(): string {
    const item = messageItem(newResponsesId('msg'), '', 'in_progress');
    const index = this.output.length;
    this.message = { index, item };
    this.output.push(item);
    const added = this.frame({ type: 'response.output_item.added', output_index: index, item: { ...item, content: [] } });
    const part = this.frame({ type: 'response.content_part.added', item_id: item.id, output_index: index, content_index: 0, part: { ...item.content[0] } });
    const held = this.held;
    this.held = '';
    return added + part + (held === '' ? '' : this.textDelta(held));
  }

  private textDelta(text: string): string {
    const message = this.message;
    if (message === null || text === '') return '';
    message.item.content[0].text += text;
    return this.frame({ type: 'response.output_text.delta', item_id: message.item.id, output_index: message.index, content_index: 0, delta: text, logprobs: [] });
  }

  private closeCall(status: WireItemStatus = 'completed'): string {
    const call = this.call;
    if (call === null) return '';
    this.call = null;
    call.item.status = status;
    const { id, name, arguments: args } = call.item;
    return (
      this.frame({ type: 'response.function_call_arguments.done', item_id: id, output_index: call.index, name, arguments: args }) +
      this.frame({ type: 'response.output_item.done', output_index: call.index, item: { ...call.item } })
    );
  }
}
