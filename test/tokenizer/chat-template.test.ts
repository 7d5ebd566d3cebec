// Chat templates from real models, rendered with @huggingface/jinja. Expected
// strings are written by hand from each template's documented format.

import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ChatTemplate,
  ChatTemplateError,
  chatTemplateFromConfig,
  templateSupportsTools,
  type ChatMessage,
} from '../../src/tokenizer/chat-template.js';
import type { ToolDefinition } from '../../src/protocol/requests.js';
import { modelsDir, readJson, skipUnlessShared } from './fixtures.js';

const CT = 'tokenizers/chat-templates';

function fromConfig(rel: string): { template: ChatTemplate; config: Record<string, unknown> } {
  const config = readJson(rel);
  const source = chatTemplateFromConfig(config);
  if (source === null) throw new Error(`${rel} has no chat_template`);
  const token = (key: string): string | null => {
    const v = config[key];
    if (typeof v === 'string') return v;
    if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
    return null;
  };
  return { template: new ChatTemplate(source, { bosToken: token('bos_token'), eosToken: token('eos_token') }), config };
}

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi there' },
  { role: 'assistant', content: 'Hello!' },
  { role: 'user', content: 'What is 2+2?' },
];

const weatherTool: ToolDefinition = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the weather',
    parameters: { type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'] },
  },
};

const toolConversation: ChatMessage[] = [
  { role: 'user', content: 'Weather in Paris?' },
  {
    role: 'assistant',
    content: null,
    tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
  },
  { role: 'tool', tool_call_id: 'call_1', content: '{"temp":20}' },
];

const QWEN_TOOLS_BLOCK =
  '# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
  'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
  '{"type": "function", "function": {"name": "get_weather", "description": "Get the weather", "parameters": ' +
  '{"type": "object", "properties": {"city": {"type": "string", "description": "City name"}}, "required": ["city"]}}}\n' +
  '</tools>\n\nFor each function call, return a json object with function name and arguments within ' +
  '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n';

const QWEN_TOOL_HISTORY =
  '<|im_start|>user\nWeather in Paris?<|im_end|>\n' +
  '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n' +
  '<|im_start|>user\n<tool_response>\n{"temp":20}\n</tool_response><|im_end|>\n';

t.test('qwen2.5', { skip: skipUnlessShared(`${CT}/qwen2.5--tokenizer_config.json`) }, async (t) => {
  const { template } = fromConfig(`${CT}/qwen2.5--tokenizer_config.json`);
  t.equal(template.toolsPlacement, 'global');
  t.equal(template.contentFormat, 'string');
  const body =
    '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n' +
    '<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n';
  t.equal(template.render({ messages: conversation, addGenerationPrompt: true }), body + '<|im_start|>assistant\n');
  t.equal(template.render({ messages: conversation, addGenerationPrompt: false }), body);
  t.equal(
    template.render({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'text', text: 'there' }] }],
      addGenerationPrompt: true,
    }),
    '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
      '<|im_start|>user\nHi\nthere<|im_end|>\n<|im_start|>assistant\n',
    'default system prompt; text parts joined with a newline',
  );
  t.equal(
    template.render({ messages: toolConversation, addGenerationPrompt: true, tools: [weatherTool] }),
    '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n' +
      QWEN_TOOLS_BLOCK +
      QWEN_TOOL_HISTORY +
      '<|im_start|>assistant\n',
    'tools, tool call (arguments parsed to an object), tool response',
  );
});

t.test('qwen3', { skip: skipUnlessShared(`${CT}/qwen3--tokenizer_config.json`) }, async (t) => {
  const { template } = fromConfig(`${CT}/qwen3--tokenizer_config.json`);
  const body =
    '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n' +
    '<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n';
  t.equal(template.render({ messages: conversation, addGenerationPrompt: true }), body + '<|im_start|>assistant\n');
  t.equal(template.render({ messages: conversation, addGenerationPrompt: false }), body);
  t.equal(
    template.render({ messages: conversation, addGenerationPrompt: true, extra: { enable_thinking: false } }),
    body + '<|im_start|>assistant\n<think>\n\n</think>\n\n',
    'extra template variables reach the template',
  );
  t.equal(
    template.render({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], addGenerationPrompt: true }),
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    'qwen3 drops non-string content, so parts must arrive joined',
  );
  t.equal(
    template.render({
      messages: [{ role: 'system', content: 'You are terse.' }, ...toolConversation],
      addGenerationPrompt: true,
      tools: [weatherTool],
    }),
    '<|im_start|>system\nYou are terse.\n\n' + QWEN_TOOLS_BLOCK + QWEN_TOOL_HISTORY + '<|im_start|>assistant\n',
  );
});

t.test('phi-3-mini', { skip: skipUnlessShared('tokenizers/phi-3-mini/tokenizer_config.json') }, async (t) => {
  const { template } = fromConfig('tokenizers/phi-3-mini/tokenizer_config.json');
  t.equal(template.toolsPlacement, 'none');
  t.notOk(template.supportsTools);
  const body =
    '<|system|>\nYou are terse.<|end|>\n<|user|>\nHi there<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\nWhat is 2+2?<|end|>\n';
  t.equal(template.render({ messages: conversation, addGenerationPrompt: true }), body + '<|assistant|>\n');
  t.equal(template.render({ messages: conversation, addGenerationPrompt: false }), body + '<|endoftext|>', 'eos_token from config');
  t.equal(
    template.render({ messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }], addGenerationPrompt: true }),
    '<|user|>\na\nb<|end|>\n<|assistant|>\n',
  );
  t.throws(
    () => template.render({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }], addGenerationPrompt: true }),
    ChatTemplateError,
    'non-text parts rejected for string templates',
  );
});

t.test('phi-4-mini: tools inside the system message', { skip: skipUnlessShared(`${CT}/phi-4-mini--tokenizer_config.json`) }, async (t) => {
  const { template } = fromConfig(`${CT}/phi-4-mini--tokenizer_config.json`);
  t.equal(template.toolsPlacement, 'system_message');
  t.equal(
    template.render({ messages: conversation, addGenerationPrompt: true }),
    '<|system|>You are terse.<|end|><|user|>Hi there<|end|><|assistant|>Hello!<|end|><|user|>What is 2+2?<|end|><|assistant|>',
  );
  t.equal(
    template.render({ messages: conversation.slice(0, 2), addGenerationPrompt: false, tools: [weatherTool] }),
    '<|system|>You are terse.<|tool|>[{"name":"get_weather","description":"Get the weather","parameters":' +
      '{"type":"object","properties":{"city":{"type":"string","description":"City name"}},"required":["city"]}}]' +
      '<|/tool|><|end|><|user|>Hi there<|end|><|endoftext|>',
  );
  t.equal(
    template.render({ messages: toolConversation, addGenerationPrompt: true, tools: [weatherTool] }),
    '<|system|><|tool|>[{"name":"get_weather","description":"Get the weather","parameters":' +
      '{"type":"object","properties":{"city":{"type":"string","description":"City name"}},"required":["city"]}}]' +
      '<|/tool|><|end|><|user|>Weather in Paris?<|end|><|assistant|><|end|><|tool|>{"temp":20}<|end|><|assistant|>',
    'no system message: one is added to carry the tools; this template does not print tool calls',
  );
});

t.test('gemma-4 (.jinja): iterates content parts', { skip: skipUnlessShared(`${CT}/gemma-4--chat_template.jinja`) }, async (t) => {
  const template = new ChatTemplate(readFileSync(path.join(modelsDir, CT, 'gemma-4--chat_template.jinja'), 'utf8'), { bosToken: '<bos>' });
  t.equal(template.contentFormat, 'parts');
  t.equal(
    template.render({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi ' }, { type: 'text', text: 'there' }] }], addGenerationPrompt: true }),
    '<bos><|turn>user\nHithere<turn|>\n<|turn>model\n',
    'parts reach the template as an array (each trimmed by the template)',
  );
  t.equal(
    template.render({ messages: conversation, addGenerationPrompt: false }),
    '<bos><|turn>system\nYou are terse.<turn|>\n<|turn>user\nHi there<turn|>\n<|turn>model\nHello!<turn|>\n<|turn>user\nWhat is 2+2?<turn|>\n',
  );
  t.equal(
    template.render({ messages: toolConversation, addGenerationPrompt: true, tools: [weatherTool] }),
    '<bos><|turn>system\n<|tool>declaration:get_weather{description:<|"|>Get the weather<|"|>,parameters:{properties:' +
      '{city:{description:<|"|>City name<|"|>,type:<|"|>STRING<|"|>}},required:[<|"|>city<|"|>],type:<|"|>OBJECT<|"|>}}<tool|><turn|>\n' +
      '<|turn>user\nWeather in Paris?<turn|>\n<|turn>model\n<|tool_call>call:get_weather{city:<|"|>Paris<|"|>}<tool_call|>' +
      '<|tool_response>response:get_weather{value:<|"|>{"temp":20}<|"|>}<tool_response|>',
  );
});

t.test('gpt-oss (.jinja)', { skip: skipUnlessShared(`${CT}/gpt-oss--chat_template.jinja`) }, async (t) => {
  const template = new ChatTemplate(readFileSync(path.join(modelsDir, CT, 'gpt-oss--chat_template.jinja'), 'utf8'));
  const now = new Date();
  const pad = (n: number): string => String(n).padStart(2, '0');
  const today = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  const system =
    '<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\n' +
    `Current date: ${today}\n\nreasoning: low\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.\n` +
    "Calls to these tools must go to the commentary channel: 'functions'.<|end|>";
  t.equal(
    template.render({ messages: toolConversation, addGenerationPrompt: true, tools: [weatherTool], extra: { reasoning_effort: 'low' } }),
    system +
      '<|start|>developer<|message|>\n\n# Tools\n\n## functions\n\nnamespace functions {\n\n// Get the weather\ntype get_weather = (_: {\n// City name\ncity: string,\n}) => any;\n\n} // namespace functions<|end|>' +
      '<|start|>user<|message|>Weather in Paris?<|end|>' +
      '<|start|>assistant<|channel|>analysis<|message|><|end|><|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{"city": "Paris"}<|end|>' +
      '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>"{\\"temp\\":20}"<|end|>' +
      '<|start|>assistant',
    'strftime_now works; tool_calls[0].name (flattened) is available',
  );
});

t.test('Llama 2 classic template: raise_exception → ChatTemplateError', { skip: skipUnlessShared('onnx/ogenai-tiny-random-llama-fp16/tokenizer_config.json') }, async (t) => {
  // tokenizers/llama2/tokenizer_config.json has no chat_template; this test model carries Llama 2's.
  t.equal(chatTemplateFromConfig(readJson('tokenizers/llama2/tokenizer_config.json')), null);
  const { template } = fromConfig('onnx/ogenai-tiny-random-llama-fp16/tokenizer_config.json');
  t.equal(
    template.render({ messages: conversation, addGenerationPrompt: true }),
    '<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! </s><s>[INST] What is 2+2? [/INST]',
  );
  t.throws(
    () => template.render({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }], addGenerationPrompt: true }),
    { name: 'ChatTemplateError', message: /Conversation roles must alternate user\/assistant/ },
  );
});

t.test('template helpers', async (t) => {
  t.ok(templateSupportsTools('{% if tools %}x{% endif %}'));
  t.notOk(templateSupportsTools('{{ messages[0].content }}'));
  t.equal(chatTemplateFromConfig({ chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }] }), 'D');
  t.equal(chatTemplateFromConfig({}), null);
  t.throws(() => new ChatTemplate('{% if %}'), ChatTemplateError, 'parse errors are ChatTemplateErrors');
  const echo = new ChatTemplate("{{ raise_exception('nope') }}");
  t.throws(() => echo.render({ messages: [], addGenerationPrompt: false }), { name: 'ChatTemplateError', message: /nope/ });
  const dated = new ChatTemplate("{{ strftime_now('%Y') }}");
  t.equal(dated.render({ messages: [], addGenerationPrompt: false }), String(new Date().getFullYear()));
  // Invalid JSON arguments stay a string rather than failing the request.
  const args = new ChatTemplate('{{ messages[0].tool_calls[0].function.arguments }}');
  t.equal(
    args.render({
      messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{oops' } }] }],
      addGenerationPrompt: false,
    }),
    '{oops',
  );
});
