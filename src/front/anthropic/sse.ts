// Server-sent events of the Messages API: every frame names its event
// (`event: message_start`) and carries the same `type` in its data, as
// Anthropic's stream does; an error after the headers is an `error` event.

import type { ApiError } from '../../protocol/errors.js';
import { anthropicErrorBody } from '../../protocol/anthropic/errors.js';
import type { AnthropicStreamEvent } from '../../protocol/anthropic/types.js';

export function sseEvent(event: AnthropicStreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export function sseErrorEvent(err: ApiError): string {
  return `event: error\ndata: ${JSON.stringify(anthropicErrorBody(err))}\n\n`;
}
