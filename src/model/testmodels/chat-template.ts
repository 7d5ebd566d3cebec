// ChatML-style chat template for generated models, in the Jinja dialect that
// transformers and @huggingface/jinja both render. Newlines are emitted as
// {{ '\n' }} so whitespace control (`-`) can be used freely around tags.

const NL = "{{ '\\n' }}";

/** Renders a message's content: a string, or the text parts of a content-part list. */
const CONTENT = (v: string): string =>
  `{%- if ${v}.content is string -%}{{ ${v}.content }}` +
  `{%- elif ${v}.content -%}{%- for part in ${v}.content -%}{%- if part.type == 'text' -%}{{ part.text }}{%- endif -%}{%- endfor -%}` +
  `{%- endif -%}`;

export const CHAT_TEMPLATE = [
  '{{- bos_token -}}',
  "{%- if messages and messages[0].role == 'system' -%}",
  '{%- set system_message = messages[0] -%}{%- set loop_messages = messages[1:] -%}',
  '{%- else -%}',
  '{%- set system_message = none -%}{%- set loop_messages = messages -%}',
  '{%- endif -%}',
  // System turn: the system prompt, then tool signatures when tools are given.
  '{%- if system_message is not none or tools -%}',
  `<|im_start|>system${NL}`,
  `{%- if system_message is not none -%}${CONTENT('system_message')}{%- endif -%}`,
  '{%- if tools -%}',
  `{%- if system_message is not none -%}${NL}${NL}{%- endif -%}`,
  `# Tools${NL}${NL}You may call one or more functions to assist with the user query. Function signatures are given in <tools></tools> tags:${NL}<tools>`,
  `{%- for tool in tools -%}${NL}{{ tool | tojson }}{%- endfor -%}`,
  `${NL}</tools>${NL}${NL}To call a function, reply with a JSON object inside tags: <tool_call>{"name": <function-name>, "arguments": <args-json-object>}</tool_call>`,
  '{%- endif -%}',
  `<|im_end|>${NL}`,
  '{%- endif -%}',
  // Conversation turns.
  '{%- for message in loop_messages -%}',
  "{%- if message.role == 'assistant' -%}",
  `<|im_start|>assistant${NL}${CONTENT('message')}`,
  '{%- if message.tool_calls -%}',
  '{%- for tool_call in message.tool_calls -%}',
  '{%- if tool_call.function -%}{%- set call = tool_call.function -%}{%- else -%}{%- set call = tool_call -%}{%- endif -%}',
  `{%- if message.content or not loop.first -%}${NL}{%- endif -%}`,
  '<tool_call>{"name": {{ call.name | tojson }}, "arguments": ',
  // OpenAI clients send arguments as a JSON string; a dict is serialised. No left trim: keep the space.
  '{% if call.arguments is string -%}{{ call.arguments }}{%- else -%}{{ call.arguments | tojson }}{%- endif -%}',
  '}</tool_call>',
  '{%- endfor -%}',
  '{%- endif -%}',
  `<|im_end|>${NL}`,
  '{%- else -%}',
  `<|im_start|>{{ message.role }}${NL}${CONTENT('message')}<|im_end|>${NL}`,
  '{%- endif -%}',
  '{%- endfor -%}',
  `{%- if add_generation_prompt -%}<|im_start|>assistant${NL}{%- endif -%}`,
].join('');
