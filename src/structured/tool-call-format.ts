// Which textual format a model writes tool calls in, read off its chat
// template, and the special tokens each format needs kept visible as text.
//
//  - hermes   <tool_call>{"name": "f", "arguments": {...}}</tool_call>  (Qwen 2.5/3, Hermes, our built-in models)
//  - llama3   {"name": "f", "parameters": {...}}, optionally after <|python_tag|>, calls separated by ";"
//  - mistral  [TOOL_CALLS][{"name": "f", "arguments": {...}}, ...]

export type ToolCallFormat = 'hermes' | 'llama3' | 'mistral';

export interface ToolFormatInfo {
  format: ToolCallFormat;
  /**
   * Render `tools` (and tool_calls / tool messages) through the chat template.
   * False when the template ignores tools, or speaks a call format we cannot
   * parse (Gemma's `<|tool_call>call:`, Phi-4's `<|tool_call|>`, gpt-oss
   * harmony): then tools are not passed to the template; withDefaultToolPrompt()
   * (tool-prompt.ts) describes them and asks for hermes calls.
   */
  templateSupportsTools: boolean;
}

/** Picks the call format from the chat template; hermes (via the default prompt) otherwise. */
export function detectToolCallFormat(chatTemplate: string | null | undefined): ToolFormatInfo {
  const template = chatTemplate ?? '';
  const mentionsTools = /\btools\b/.test(template);
  if (template.includes(CALL_START.mistral)) return { format: 'mistral', templateSupportsTools: mentionsTools };
  if (template.includes(CALL_START.hermes)) return { format: 'hermes', templateSupportsTools: mentionsTools };
  if (template.includes(CALL_START.llama3) || (template.includes('<|start_header_id|>') && template.includes('"parameters"'))) {
    return { format: 'llama3', templateSupportsTools: mentionsTools };
  }
  return { format: 'hermes', templateSupportsTools: false };
}

/** The marker calls (hermes: each call, mistral: the list) start with; llama3 may also start with a bare object. */
export const CALL_START: Record<ToolCallFormat, string> = { hermes: '<tool_call>', llama3: '<|python_tag|>', mistral: '[TOOL_CALLS]' };

/** The tag that ends each hermes call. */
export const HERMES_CALL_END = '</tool_call>';

/** Special tokens of each format that must stay visible as text (GrammarVocab textSpecialTokens, detokenizer). */
export const FORMAT_MARKERS: Record<ToolCallFormat, readonly string[]> = {
  hermes: [CALL_START.hermes, HERMES_CALL_END],
  llama3: [CALL_START.llama3],
  mistral: [CALL_START.mistral],
};
