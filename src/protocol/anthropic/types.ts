// Wire shapes of Anthropic's Messages API (POST /v1/messages and
// /v1/messages/count_tokens), as they appear in JSON. Request bodies are typed
// as they are after JSON Schema validation (schemas/anthropic-*.json); the
// response and stream shapes follow @anthropic-ai/sdk's resources/messages
// types, which are the contract. translate.ts turns requests into the
// internal chat request; nothing else speaks these shapes.

// ---------------------------------------------------------------- requests

export interface AnthropicTextBlockParam { type: 'text'; text: string }

export interface AnthropicToolUseBlockParam { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }

export interface AnthropicToolResultBlockParam {
  type: 'tool_result';
  tool_use_id: string;
  content?: string | Array<{ type: string; text?: string }>;
  is_error?: boolean;
}

/** Block types recognised but not served (images, documents, server tools): refused by name in translate.ts. */
export interface AnthropicOtherBlockParam { type: string }

export type AnthropicContentBlockParam =
  | AnthropicTextBlockParam
  | AnthropicToolUseBlockParam
  | AnthropicToolResultBlockParam
  | AnthropicOtherBlockParam;

export interface AnthropicMessageParam {
  role: 'user' | 'assistant' | 'system';
  content: string | AnthropicContentBlockParam[];
}

export interface AnthropicTool {
  /** Absent or 'custom' for a client tool; anything else is an Anthropic server tool (refused). */
  type?: string | null;
  name: string;
  description?: string;
  input_schema?: Record<string, unknown>;
}

export type AnthropicToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

/** The fields count_tokens and create share. */
export interface AnthropicPromptFields {
  model: string;
  messages: AnthropicMessageParam[];
  system?: string | AnthropicTextBlockParam[];
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  thinking?: { type: string; budget_tokens?: number };
  output_config?: { effort?: string | null; format?: { type: 'json_schema'; schema: Record<string, unknown> } | null };
}

export interface AnthropicMessagesRequest extends AnthropicPromptFields {
  max_tokens: number;
  stop_sequences?: string[];
  stream?: boolean;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  metadata?: { user_id?: string | null };
}

export type AnthropicCountTokensRequest = AnthropicPromptFields;

// ---------------------------------------------------------------- responses

export type AnthropicStopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';

export interface AnthropicTextBlock { type: 'text'; text: string; citations: null }

export interface AnthropicToolUseBlock { type: 'tool_use'; id: string; name: string; input: unknown; caller: { type: 'direct' } }

export type AnthropicContentBlock = AnthropicTextBlock | AnthropicToolUseBlock;

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: null;
  server_tool_use: null;
  service_tier: 'standard';
}

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicContentBlock[];
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  stop_details: null;
  container: null;
  usage: AnthropicUsage;
}

export type AnthropicBlockDelta = { type: 'text_delta'; text: string } | { type: 'input_json_delta'; partial_json: string };

export type AnthropicStreamEvent =
  | { type: 'message_start'; message: AnthropicMessage }
  | { type: 'content_block_start'; index: number; content_block: AnthropicContentBlock }
  | { type: 'content_block_delta'; index: number; delta: AnthropicBlockDelta }
  | { type: 'content_block_stop'; index: number }
  | {
      type: 'message_delta';
      delta: { stop_reason: AnthropicStopReason; stop_sequence: string | null; stop_details: null; container: null };
      usage: { input_tokens: number; output_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number; server_tool_use: null };
    }
  | { type: 'message_stop' }
  | { type: 'ping' };

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'timeout_error'
  | 'api_error'
  | 'overloaded_error';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
  request_id: null;
}
