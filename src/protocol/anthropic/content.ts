// The answer as Anthropic content blocks. Generated text and tool calls
// arrive in order; each run of text is one `text` block and each call one
// `tool_use` block, numbered as they open. The same assembler feeds the
// stream (block start / delta / stop events as they happen) and the
// non-streamed message (the finished blocks), so the two cannot disagree.

import { randomBytes } from 'node:crypto';
import type { AnthropicContentBlock, AnthropicMessage, AnthropicStopReason, AnthropicStreamEvent, AnthropicUsage } from './types.js';

type BlockEvent = Extract<AnthropicStreamEvent, { type: 'content_block_start' | 'content_block_delta' | 'content_block_stop' }>;

/** `msg_` + 24 random hex digits. */
export function newMessageId(): string {
  return `msg_${randomBytes(12).toString('hex')}`;
}

/** Tool-use ids look like Anthropic's (`toolu_…`); the part after the prefix is the engine's call id. */
export function toolUseId(callId: string): string {
  return `toolu_${callId.replace(/^call_/, '')}`;
}

interface OpenBlock {
  kind: 'text' | 'tool_use';
  /** Text so far, or the input JSON text so far. */
  text: string;
  id: string;
  name: string;
}

export class ContentAssembler {
  private readonly blocks: OpenBlock[] = [];
  private open: OpenBlock | null = null;

  /** Text from the model; '' adds nothing. */
  text(text: string): BlockEvent[] {
    if (text === '') return [];
    const events: BlockEvent[] = [];
    if (this.open?.kind !== 'text') {
      events.push(...this.close());
      events.push(this.start({ kind: 'text', text: '', id: '', name: '' }));
    }
    (this.open as OpenBlock).text += text;
    events.push({ type: 'content_block_delta', index: this.blocks.length - 1, delta: { type: 'text_delta', text } });
    return events;
  }

  /** A tool call opens: its block starts with an empty input, the JSON follows as `toolInput` fragments. */
  toolStart(callId: string, name: string): BlockEvent[] {
    const events = this.close();
    events.push(this.start({ kind: 'tool_use', text: '', id: toolUseId(callId), name }));
    return events;
  }

  toolInput(json: string): BlockEvent[] {
    if (this.open?.kind !== 'tool_use') throw new Error('tool input outside a tool_use block');
    if (json === '') return [];
    this.open.text += json;
    return [{ type: 'content_block_delta', index: this.blocks.length - 1, delta: { type: 'input_json_delta', partial_json: json } }];
  }

  /** Closes the open block, if any (at the end of the answer). */
  close(): BlockEvent[] {
    if (this.open === null) return [];
    this.open = null;
    return [{ type: 'content_block_stop', index: this.blocks.length - 1 }];
  }

  /**
   * The finished blocks. A tool input that is not a JSON object (cut short by
   * max_tokens) becomes `{}`, the value a block starts with in the stream.
   */
  content(): AnthropicContentBlock[] {
    return this.blocks.map((b) => (b.kind === 'text' ? { type: 'text', text: b.text, citations: null } : { type: 'tool_use', id: b.id, name: b.name, input: parseInput(b.text), caller: { type: 'direct' } }));
  }

  private start(block: OpenBlock): BlockEvent {
    this.blocks.push(block);
    this.open = block;
    const contentBlock: AnthropicContentBlock =
      block.kind === 'text' ? { type: 'text', text: '', citations: null } : { type: 'tool_use', id: block.id, name: block.name, input: {}, caller: { type: 'direct' } };
    return { type: 'content_block_start', index: this.blocks.length - 1, content_block: contentBlock };
  }
}

function parseInput(json: string): unknown {
  try {
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

/** The engine's finish reason as Anthropic's stop_reason; `stopSequence` is the stop string that ended it, if one did. */
export function stopReason(finish: 'stop' | 'length' | 'tool_calls', stopSequence: string | null): AnthropicStopReason {
  if (finish === 'tool_calls') return 'tool_use';
  if (finish === 'length') return 'max_tokens';
  return stopSequence === null ? 'end_turn' : 'stop_sequence';
}

export function anthropicUsage(inputTokens: number, outputTokens: number): AnthropicUsage {
  // No prompt-cache accounting: the prefix cache is transparent here, and
  // Anthropic's input_tokens would then exclude cached tokens.
  return {
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: null,
    server_tool_use: null,
    service_tier: 'standard',
  };
}

export function anthropicMessage(
  id: string,
  model: string,
  content: AnthropicContentBlock[],
  stop: { reason: AnthropicStopReason; sequence: string | null } | null,
  usage: AnthropicUsage,
): AnthropicMessage {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stop?.reason ?? null,
    stop_sequence: stop?.sequence ?? null,
    stop_details: null,
    container: null,
    usage,
  };
}
