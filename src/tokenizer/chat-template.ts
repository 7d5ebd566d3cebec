// Chat templates (Jinja, from tokenizer_config.json or chat_template.jinja)
// rendered with @huggingface/jinja.
//
// Requests arrive in OpenAI shape; templates were written for transformers'
// Python dicts and disagree with each other on details. We normalise once here:
// - content-part arrays: templates that iterate parts (`for x in message.content`)
//   get the array; all others get the text parts joined with "\n" (as vLLM does),
//   because e.g. `'<|user|>' + message.content` fails on an array;
// - `content: null` (assistant turns with tool calls) becomes '' so `+` works;
// - tool calls: `function.arguments` (a JSON string in OpenAI's API) is parsed
//   into an object (templates `tojson` it or iterate it), and `name`/`arguments`
//   are also copied onto the call itself for templates that read
//   `tool_call.name` (gpt-oss);
// - tool results get `name` (the called function) looked up from `tool_call_id`;
// - `tools` goes to the template's `tools` variable in OpenAI shape, or, for
//   templates that read it from the system message (Phi-4-mini), into that
//   message as a JSON string of the function definitions.
// `raise_exception` and `strftime_now` are @huggingface/jinja globals; any error
// while rendering becomes a ChatTemplateError (the HTTP layer answers 400).

import { Template } from '@huggingface/jinja';
import type { ToolCall, ToolDefinition } from '../protocol/requests.js';

export interface TextContentPart {
  type: 'text';
  text: string;
}

/** Other part types (images, ...) pass through to templates that iterate parts. */
export interface OtherContentPart {
  type: string;
  [key: string]: unknown;
}

export type ContentPart = TextContentPart | OtherContentPart;

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  reasoning_content?: string;
}

export interface ChatTemplateOptions {
  bosToken?: string | null;
  eosToken?: string | null;
  padToken?: string | null;
  unkToken?: string | null;
}

export interface RenderRequest {
  messages: ChatMessage[];
  addGenerationPrompt: boolean;
  tools?: ToolDefinition[] | null;
  /** Extra template variables (`enable_thinking`, `reasoning_effort`, ...). */
  extra?: Record<string, unknown>;
}

/** How a template wants `content`: a string, or the parts array as sent. */
export type ContentFormat = 'string' | 'parts';

/** Where a template reads tool definitions from. */
export type ToolsPlacement = 'global' | 'system_message' | 'none';

export class ChatTemplateError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChatTemplateError';
  }
}

const ITERATES_CONTENT = /for\s+\w+\s+in\s+(?:\w+\[['"]content['"]\]|\w+\.content\b)/;
const TOOLS_IN_MESSAGE = /['"]tools['"]\s+in\s+\w+|\w+\[['"]tools['"]\]|\bmessage\.tools\b/;

/** True when the template mentions `tools` at all (it can show tool definitions). */
export function templateSupportsTools(source: string): boolean {
  return /\btools\b/.test(source);
}

/**
 * The chat template in a tokenizer_config.json: a string, or a list of
 * `{name, template}` (the one named "default" is the chat template).
 */
export function chatTemplateFromConfig(config: Record<string, unknown> | null | undefined): string | null {
  const value = config?.chat_template;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as { name?: unknown; template?: unknown }[];
    const pick = named.find((t) => t.name === 'default') ?? named[0];
    return typeof pick?.template === 'string' ? pick.template : null;
  }
  return null;
}

export class ChatTemplate {
  readonly source: string;
  readonly contentFormat: ContentFormat;
  readonly toolsPlacement: ToolsPlacement;
  private readonly template: Template;
  private readonly specialTokens: Record<string, string | null>;

  constructor(source: string, options: ChatTemplateOptions = {}) {
    this.source = source;
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new ChatTemplateError(`chat template does not parse: ${messageOf(err)}`, { cause: err });
    }
    this.contentFormat = ITERATES_CONTENT.test(source) ? 'parts' : 'string';
    this.toolsPlacement = TOOLS_IN_MESSAGE.test(source)
      ? 'system_message'
      : templateSupportsTools(source)
        ? 'global'
        : 'none';
    this.specialTokens = {
      bos_token: options.bosToken ?? null,
      eos_token: options.eosToken ?? null,
      pad_token: options.padToken ?? null,
      unk_token: options.unkToken ?? null,
    };
  }

  get supportsTools(): boolean {
    return this.toolsPlacement !== 'none';
  }

  render(request: RenderRequest): string {
    const tools = request.tools && request.tools.length > 0 ? request.tools : undefined;
    let messages = this.normaliseMessages(request.messages);
    if (tools && this.toolsPlacement === 'system_message') messages = attachToolsToSystem(messages, tools);
    const context: Record<string, unknown> = {
      ...this.specialTokens,
      ...(request.extra ?? {}),
      messages,
      add_generation_prompt: request.addGenerationPrompt,
    };
    if (tools && this.toolsPlacement === 'global') context.tools = tools;
    try {
      return this.template.render(context);
    } catch (err) {
      throw new ChatTemplateError(`chat template error: ${messageOf(err)}`, { cause: err });
    }
  }

  private normaliseMessages(messages: ChatMessage[]): Record<string, unknown>[] {
    const callNames = new Map<string, string>();
    return messages.map((message) => {
      const out: Record<string, unknown> = { ...message, content: this.normaliseContent(message.content) };
      if (message.tool_calls) {
        out.tool_calls = message.tool_calls.map((call) => {
          callNames.set(call.id, call.function.name);
          const args = parseArguments(call.function.arguments);
          return {
            id: call.id,
            type: call.type,
            function: { name: call.function.name, arguments: args },
            name: call.function.name,
            arguments: args,
          };
        });
      }
      if (message.role === 'tool' && message.name === undefined && message.tool_call_id !== undefined) {
        const name = callNames.get(message.tool_call_id);
        if (name !== undefined) out.name = name;
      }
      return out;
    });
  }

  private normaliseContent(content: ChatMessage['content']): string | ContentPart[] {
    if (content === null || content === undefined) return '';
    if (typeof content === 'string') return content;
    if (this.contentFormat === 'parts') return content;
    const texts: string[] = [];
    for (const part of content) {
      if (part.type !== 'text' || typeof part.text !== 'string') {
        throw new ChatTemplateError(`this model's chat template accepts only text content parts, got "${part.type}"`);
      }
      texts.push(part.text);
    }
    return texts.join('\n');
  }
}

/** OpenAI sends arguments as a JSON string; templates want the object. */
function parseArguments(args: string): unknown {
  try {
    const parsed: unknown = JSON.parse(args);
    return parsed !== null && typeof parsed === 'object' ? parsed : args;
  } catch {
    return args;
  }
}

/** Phi-4-mini style: `<|tool|>[function definitions]<|/tool|>` inside the system turn. */
function attachToolsToSystem(messages: Record<string, unknown>[], tools: ToolDefinition[]): Record<string, unknown>[] {
  const json = JSON.stringify(tools.map((t) => t.function));
  if (messages[0]?.role === 'system') return [{ ...messages[0], tools: json }, ...messages.slice(1)];
  return [{ role: 'system', content: '', tools: json }, ...messages];
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
