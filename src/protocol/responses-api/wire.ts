// Wire shapes of the OpenAI Responses API (POST /v1/responses), as they appear
// in JSON. Requests are typed as they are after schemas/responses.json has
// validated them (null = not given); the objects and stream events are what
// this server writes. The `openai` SDK's resources/responses/responses.d.ts is
// the contract these follow (only the parts Serval serves are modelled).

type Opt<T> = T | null | undefined;

// ---------------------------------------------------------------- requests

/** A content part of an input message: text parts are served, others refused. */
export interface WireInputPart {
  type: string;
  text?: string;
  refusal?: string;
}

/** One input item; which fields are present depends on `type` (the schema checks the required ones). */
export interface WireInputItem {
  /** Absent on the "easy" message form `{role, content}`. */
  type?: string;
  role?: 'user' | 'system' | 'developer' | 'assistant';
  content?: string | WireInputPart[];
  call_id?: string;
  name?: string;
  arguments?: string;
  output?: string | WireInputPart[];
  id?: Opt<string>;
}

export interface WireResponsesTool {
  type: string;
  name?: string;
  description?: Opt<string>;
  parameters?: Opt<Record<string, unknown>>;
  strict?: Opt<boolean>;
}

export type WireResponsesToolChoice = 'none' | 'auto' | 'required' | { type: string; name?: string };

export type WireTextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown> | boolean; description?: Opt<string>; strict?: Opt<boolean> };

export interface WireResponsesRequest {
  model: string;
  input?: string | WireInputItem[];
  instructions?: Opt<string>;
  max_output_tokens?: Opt<number>;
  temperature?: Opt<number>;
  top_p?: Opt<number>;
  tools?: Opt<WireResponsesTool[]>;
  tool_choice?: Opt<WireResponsesToolChoice>;
  parallel_tool_calls?: Opt<boolean>;
  text?: Opt<{ format?: Opt<WireTextFormat>; verbosity?: Opt<string> }>;
  previous_response_id?: Opt<string>;
  store?: Opt<boolean>;
  stream?: Opt<boolean>;
  stream_options?: Opt<Record<string, unknown>>;
  metadata?: Opt<Record<string, string>>;
  user?: Opt<string>;
  /** vLLM's extension, as on chat completions. */
  priority?: Opt<number>;
  safety_identifier?: Opt<string>;
  prompt_cache_key?: Opt<string>;
  service_tier?: Opt<string>;
  background?: Opt<boolean>;
  include?: Opt<string[]>;
  top_logprobs?: Opt<number>;
  truncation?: Opt<'auto' | 'disabled'>;
  reasoning?: Opt<Record<string, unknown>>;
  max_tool_calls?: Opt<number>;
  /** Recognised and refused (request.ts): no server-side conversations or prompt templates here. */
  conversation?: unknown;
  prompt?: unknown;
}

// ---------------------------------------------------------------- objects

export type WireItemStatus = 'in_progress' | 'completed' | 'incomplete';

export interface WireOutputText {
  type: 'output_text';
  text: string;
  annotations: never[];
  logprobs: never[];
}

export interface WireOutputMessage {
  type: 'message';
  id: string;
  role: 'assistant';
  status: WireItemStatus;
  content: WireOutputText[];
}

export interface WireFunctionCall {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: WireItemStatus;
}

export type WireOutputItem = WireOutputMessage | WireFunctionCall;

export interface WireResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type WireResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

export interface WireResponse {
  id: string;
  object: 'response';
  created_at: number;
  status: WireResponseStatus;
  /** Only when completed. */
  completed_at: number | null;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: WireOutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: null;
  store: boolean;
  temperature: number | null;
  text: { format: WireTextFormat };
  tool_choice: WireResponsesToolChoice;
  tools: WireResponsesTool[];
  top_p: number | null;
  truncation: 'disabled';
  usage: WireResponsesUsage | null;
  user: string | null;
  metadata: Record<string, string>;
  background: false;
}

/** Every streamed event carries its type and a sequence number (0, 1, … per stream). */
export type WireResponsesEvent =
  | { type: 'response.created' | 'response.in_progress' | 'response.completed' | 'response.incomplete'; response: WireResponse }
  | { type: 'response.output_item.added' | 'response.output_item.done'; output_index: number; item: WireOutputItem }
  | { type: 'response.content_part.added' | 'response.content_part.done'; item_id: string; output_index: number; content_index: number; part: WireOutputText }
  | { type: 'response.output_text.delta'; item_id: string; output_index: number; content_index: number; delta: string; logprobs: never[] }
  | { type: 'response.output_text.done'; item_id: string; output_index: number; content_index: number; text: string; logprobs: never[] }
  | { type: 'response.function_call_arguments.delta'; item_id: string; output_index: number; delta: string }
  | { type: 'response.function_call_arguments.done'; item_id: string; output_index: number; name: string; arguments: string }
  | { type: 'error'; code: string | null; message: string; param: string | null };

export interface WireResponseDeleted {
  id: string;
  object: 'response.deleted';
  deleted: true;
}
