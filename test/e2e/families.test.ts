// Each added decoder family served end to end once: a real server on the
// family's make-model preset (its config.json keys, tensor names and chat
// template), the official openai client. The prompt the server counts must be
// the family's own template rendered and tokenised, and greedy replies must not
// depend on what else is in the batch.

import t from 'tap';
import { FAMILY_PRESET_NAMES, FAMILY_TOKENS } from '../../src/model/testmodels/family-presets.js';
import { ChatTemplate } from '../../src/tokenizer/chat-template.js';
import { MODEL_ID, startRealServer } from './harness.js';

/** What each family's template writes to open the assistant's turn. */
const GENERATION_PROMPT: Record<string, string> = {
  smollm3: '<|im_start|>assistant\n',
  granite3: '<|im_start|>assistant\n',
  'phi4-mini': '<|assistant|>',
  gemma3: '<start_of_turn>model\n',
};

const conversation = (question: string) => [
  { role: 'system' as const, content: 'You answer briefly.' },
  { role: 'user' as const, content: question },
];

for (const preset of FAMILY_PRESET_NAMES) {
  t.test(preset, async (t) => {
    const served = await startRealServer({ maxBatchSize: 4 }, preset);
    t.teardown(() => served.close());
    const { client, model } = served;
    const tokens = FAMILY_TOKENS[preset];

    const messages = conversation('Tell me about serval cats.');
    const reply = await client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 6, temperature: 0 });
    t.equal(reply.choices[0].message.role, 'assistant');
    t.ok(['length', 'stop'].includes(reply.choices[0].finish_reason ?? ''), `finish_reason ${reply.choices[0].finish_reason}`);

    const rendered = new ChatTemplate(tokens.chatTemplate, { bosToken: tokens.bos, eosToken: tokens.eos }).render({ messages, addGenerationPrompt: true });
    t.ok(rendered.endsWith(GENERATION_PROMPT[preset]), `template ends with the assistant turn: ${JSON.stringify(rendered.slice(-24))}`);
    t.ok(rendered.includes('You answer briefly.') && rendered.includes('Tell me about serval cats.'), 'system and user text rendered');
    const promptIds = await model.tokenizer.encode(rendered, { addSpecialTokens: false });
    t.equal(reply.usage?.prompt_tokens, promptIds.length, `the server's prompt is the rendered template (${promptIds.length} tokens)`);

    // Batch invariance through the whole server: two requests at once equal each one alone.
    const questions = ['Where do servals live?', 'How far can a serval jump?'];
    const ask = async (question: string): Promise<string> =>
      (await client.chat.completions.create({ model: MODEL_ID, messages: conversation(question), max_tokens: 8, temperature: 0 })).choices[0].message.content ?? '';
    const together = await Promise.all(questions.map(ask));
    for (let i = 0; i < questions.length; i++) t.equal(together[i], await ask(questions[i]), `question ${i}: batched equals alone`);
  });
}

// The device worker's RoPE tables have exactly --max-model-len rows (position N
// would fail the graph's Gather): replies that run into the limit, one of them
// batched with another, end by 'length' without asking for a position beyond it.
t.test('phi4-mini at a max model length of 32: replies run to the limit inside the tables', async (t) => {
  const N = 32;
  const served = await startRealServer({ maxBatchSize: 4, maxModelLen: N }, 'phi4-mini');
  t.teardown(() => served.close());
  const complete = async (promptLength: number) => {
    const prompt = Array.from({ length: promptLength }, (_, i) => 300 + i);
    const reply = await served.client.completions.create({ model: MODEL_ID, prompt, max_tokens: 100, temperature: 0, ignore_eos: true } as never);
    return { finish: reply.choices[0].finish_reason, completion: reply.usage?.completion_tokens };
  };
  const [a, b] = await Promise.all([complete(20), complete(9)]);
  t.same(a, { finish: 'length', completion: N - 20 }, 'prompt 20: generates up to the limit');
  t.same(b, { finish: 'length', completion: N - 9 }, 'prompt 9, batched with it');
  t.same(await complete(N - 1), { finish: 'length', completion: 1 }, `prompt ${N - 1}: one token`);
});
