// Tool-call format detection from chat templates, built-in and real.

import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CHAT_TEMPLATE } from '../../src/model/testmodels/chat-template.js';
import { detectToolCallFormat, FORMAT_MARKERS } from '../../src/structured/tool-call-format.js';
import { sharedAbsent, sharedDir } from './helpers.js';

t.test('format detection from chat templates', async (t) => {
  t.same(detectToolCallFormat(CHAT_TEMPLATE), { format: 'hermes', templateSupportsTools: true }, 'built-in models');
  t.same(detectToolCallFormat("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"), { format: 'hermes', templateSupportsTools: false }, 'no tools');
  t.same(detectToolCallFormat(null), { format: 'hermes', templateSupportsTools: false }, 'no template');
  t.same(detectToolCallFormat('{% if tools %}[AVAILABLE_TOOLS]{{ tools|tojson }}[/AVAILABLE_TOOLS]{% endif %}[TOOL_CALLS]'), { format: 'mistral', templateSupportsTools: true });
  t.same(detectToolCallFormat('<|start_header_id|>ipython<|end_header_id|>{% if tools %}<|python_tag|>{% endif %}'), { format: 'llama3', templateSupportsTools: true });
});

t.test('format detection on real templates', { skip: sharedAbsent }, async (t) => {
  const dir = path.join(sharedDir, 'models', 'tokenizers', 'chat-templates');
  const template = (file: string): string => {
    const text = readFileSync(path.join(dir, file), 'utf8');
    return file.endsWith('.json') ? String((JSON.parse(text) as { chat_template: unknown }).chat_template) : text;
  };
  t.same(detectToolCallFormat(template('qwen2.5--tokenizer_config.json')), { format: 'hermes', templateSupportsTools: true });
  t.same(detectToolCallFormat(template('qwen3--tokenizer_config.json')), { format: 'hermes', templateSupportsTools: true });
  // Formats we do not parse: tools go through the default prompt instead.
  t.same(detectToolCallFormat(template('gemma-4--chat_template.jinja')), { format: 'hermes', templateSupportsTools: false });
  t.same(detectToolCallFormat(template('phi-4-mini--tokenizer_config.json')), { format: 'hermes', templateSupportsTools: false });
});

t.test('each format keeps its call markers visible', async (t) => {
  t.same(FORMAT_MARKERS, { hermes: ['<tool_call>', '</tool_call>'], llama3: ['<|python_tag|>'], mistral: ['[TOOL_CALLS]'] });
});
