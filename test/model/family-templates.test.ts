// The chat templates the family presets ship (Gemma 3's and Phi-4-mini's own)
// rendered through @huggingface/jinja by Serval's ChatTemplate, against the
// exact text those templates produce in transformers.

import t from 'tap';
import { FAMILY_TOKENS } from '../../src/model/testmodels/family-presets.js';
import { ChatTemplate, ChatTemplateError } from '../../src/tokenizer/chat-template.js';

const template = (name: 'gemma3' | 'phi4-mini'): ChatTemplate => {
  const tokens = FAMILY_TOKENS[name];
  return new ChatTemplate(tokens.chatTemplate, { bosToken: tokens.bos, eosToken: tokens.eos });
};

t.test('Gemma 3: system folded into the first user turn, assistant is "model", content trimmed', async (t) => {
  const gemma = template('gemma3');
  const text = gemma.render({
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: ' Hi! ' },
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: [{ type: 'text', text: 'Servals?' }] },
    ],
    addGenerationPrompt: true,
  });
  t.equal(
    text,
    '<bos><start_of_turn>user\nBe brief.\n\nHi!<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n' +
      '<start_of_turn>user\nServals?<end_of_turn>\n<start_of_turn>model\n',
  );
  t.equal(gemma.contentFormat, 'parts', 'content-part lists reach the template as lists');
  t.equal(gemma.supportsTools, false);
  t.throws(
    () => gemma.render({ messages: [{ role: 'assistant', content: 'x' }], addGenerationPrompt: false }),
    ChatTemplateError,
    'roles must alternate (the template raises)',
  );
});

t.test('Phi-4-mini: role tags, tools inside the system turn, eos without a generation prompt', async (t) => {
  const phi = template('phi4-mini');
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object' } } }];
  t.equal(phi.toolsPlacement, 'system_message');
  t.equal(
    phi.render({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Rain?' }], tools, addGenerationPrompt: true }),
    '<|system|>Be brief.<|tool|>[{"name":"get_weather","description":"Weather","parameters":{"type":"object"}}]<|/tool|><|end|><|user|>Rain?<|end|><|assistant|>',
  );
  t.equal(
    phi.render({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }], addGenerationPrompt: false }),
    '<|user|>Hi<|end|><|assistant|>Hello<|end|><|endoftext|>',
  );
});
