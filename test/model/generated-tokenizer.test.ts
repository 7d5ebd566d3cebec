// The generated tokenizer.json files load in both the Rust `tokenizers`
// binding and the pure-JS `@huggingface/tokenizers`, give identical ids on
// varied text, decode back exactly, and have exactly the preset's vocab size.
// The chat template renders with @huggingface/jinja.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer as JsTokenizer } from '@huggingface/tokenizers';
import t from 'tap';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { CHAT_TEMPLATE } from '../../src/model/testmodels/chat-template.js';
import { DECODER_PRESETS, ENCODER_PRESET } from '../../src/model/testmodels/presets.js';
import { DECODER_SPECIAL_TOKENS } from '../../src/model/testmodels/special-tokens.js';
import {
  buildDecoderTokenizerConfig,
  buildDecoderTokenizerJson,
  buildEncoderTokenizerConfig,
  buildEncoderTokenizerJson,
} from '../../src/model/testmodels/tokenizer-files.js';
import { tempDir } from './helpers.js';

const HANDWRITTEN = [
  '',
  ' ',
  'a',
  'Hello, world!',
  'The quick brown fox jumps over the lazy dog.',
  "I'm sure it'll be fine; we've done this before, and they're ready.",
  '   leading and trailing spaces   ',
  'tabs\tand\nnewlines\r\nand\n\n\nblank lines',
  'function add(a, b) {\n  return a + b;\n}\n',
  'def f(x):\n    return x ** 2  # square\n',
  '{"name": "get_weather", "arguments": {"city": "Paris"}}',
  '12345 3.14159 -42 1e-9 0x1F 1,000,000',
  'naïve café résumé façade Ångström',
  '我们今天去公园散步，天气很好。',
  '今日はいい天気ですね。',
  '안녕하세요',
  'Привет, мир!',
  'مرحبا بالعالم',
  'नमस्ते दुनिया',
  '😀 🎉 👍🏽 ❤️ 🚀 👨‍👩‍👧‍👦 🏳️‍🌈',
  'Mixed 中文 and English 😀 in one line.',
  '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
  '<tool_call>{"name": "f", "arguments": {}}</tool_call>',
  '<|begin_of_text|>text after bos<|end_of_text|>',
  'unfinished <|im_start',
  '\u0000\u0001\u0007 control chars \u007f',
  'zero\u200bwidth\u200djoiner',
  'https://example.com/path?query=1&other=two#frag',
  'user@example.com',
  '$$$ %%% ^^^ &&& *** ((( )))',
  "'s 't 're 've 'm 'll 'd",
  'ALL CAPS SHOUTING',
  'ThisIsCamelCase and snake_case_words',
  '    indented code\n        more indented',
  '\u00a0non-breaking\u00a0space',
  'é'.normalize('NFD') + ' decomposed',
];

/** Deterministic pseudo-random strings mixing scripts, emoji, digits, punctuation and whitespace. */
function generatedStrings(count: number): string[] {
  let s = 0x9e3779b9;
  const rand = (n: number): number => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s % n;
  };
  const fragments = [
    'the', ' cat', ' sat', 'ing', ' on', ' mat', 'Hello', ' World', ' 42', '3.5', ', ', '. ', '!', '?', '\n', '  ', '\t',
    '😀', '🎉', '👍🏽', '中', '文', '日本', '한국', 'é', 'ß', 'Ω', 'λ', 'ж', '→', '€', '{', '}', '"', "'", "'s", '<', '>',
    '<|im_end|>', '<tool_call>', ' def', ' return', '()', '[]', '==', '=>', '//', '#', '0', '999', ' ', '\r\n',
  ];
  const ranges: [number, number][] = [
    [0x20, 0x7e],
    [0xa0, 0x24f],
    [0x370, 0x3ff],
    [0x400, 0x4ff],
    [0x4e00, 0x9fff],
    [0x3040, 0x30ff],
    [0xac00, 0xd7a3],
    [0x1f300, 0x1f64f],
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let str = '';
    const parts = 1 + rand(12);
    for (let p = 0; p < parts; p++) {
      if (rand(3) === 0) {
        const [lo, hi] = ranges[rand(ranges.length)];
        str += String.fromCodePoint(lo + rand(hi - lo + 1));
      } else str += fragments[rand(fragments.length)];
    }
    out.push(str);
  }
  return out;
}

const STRINGS = [...HANDWRITTEN, ...generatedStrings(200)];

function jsTokenizer(json: object, config: object): JsTokenizer {
  return new JsTokenizer(json, config);
}

for (const preset of ['tiny', 'small', 'bench'] as const) {
  t.test(`${preset} byte-level BPE agrees across both libraries`, async (t) => {
    const vocabSize = DECODER_PRESETS[preset].vocabSize;
    const started = Date.now();
    const json = buildDecoderTokenizerJson(vocabSize);
    const buildMs = Date.now() - started;
    t.ok(buildMs < 20_000, `built in ${buildMs} ms`);
    const dir = tempDir(t);
    const file = path.join(dir, 'tokenizer.json');
    writeFileSync(file, JSON.stringify(json));
    const rust = RustTokenizer.fromFile(file);
    const js = jsTokenizer(json, buildDecoderTokenizerConfig(1024));
    t.equal(rust.getVocabSize(true), vocabSize, 'Rust: vocab size equals the preset');
    const model = json.model as { vocab: Record<string, number>; merges: [string, string][] };
    const ids = new Set(Object.values(model.vocab));
    t.equal(ids.size, vocabSize, 'ids are distinct');
    t.equal(Math.max(...ids), vocabSize - 1, 'ids are 0..vocab-1');
    DECODER_SPECIAL_TOKENS.forEach((tok, i) => t.equal(rust.tokenToId(tok), 256 + i, `${tok} id`));

    let mismatches = 0;
    let badDecodes = 0;
    const examples: string[] = [];
    for (const text of STRINGS) {
      const rustIds = (await rust.encode(text)).getIds();
      const jsIds = js.encode(text).ids;
      if (JSON.stringify(rustIds) !== JSON.stringify(jsIds)) {
        mismatches++;
        if (examples.length < 3) examples.push(`${JSON.stringify(text)}: ${rustIds} vs ${jsIds}`);
      }
      if (rustIds[0] !== 256) badDecodes++; // bos added by the post-processor
      const rustText = await rust.decode(rustIds, true);
      const jsText = js.decode(jsIds, { skip_special_tokens: true });
      // Special tokens inside the text are skipped on decode; compare against the text without them.
      let expected = text;
      for (const tok of DECODER_SPECIAL_TOKENS) expected = expected.split(tok).join('');
      if (rustText !== expected || jsText !== expected) {
        badDecodes++;
        if (examples.length < 6) examples.push(`decode ${JSON.stringify(text)} → ${JSON.stringify(rustText)} / ${JSON.stringify(jsText)}`);
      }
      const withSpecials = await rust.decode(rustIds, false);
      if (withSpecials !== '<|begin_of_text|>' + text) badDecodes++;
    }
    t.equal(mismatches, 0, `identical ids on ${STRINGS.length} strings ${examples.join(' | ')}`);
    t.equal(badDecodes, 0, `exact decode ${examples.join(' | ')}`);

    const chat = (await rust.encode('<|im_start|>user\nhi<|im_end|>', null, { addSpecialTokens: false })).getIds();
    t.same(chat.slice(0, 1), [258], '<|im_start|> is one token');
    t.equal(chat[chat.length - 1], 259, '<|im_end|> is one token');
    if (preset !== 'tiny') {
      const words = (await rust.encode(' the quick brown fox', null, { addSpecialTokens: false })).getIds();
      t.ok(words.length <= 8, `merges compress common English (${words.length} tokens for 4 words)`);
    }
  });
}

t.test('the BPE build is deterministic', async (t) => {
  t.same(buildDecoderTokenizerJson(512), buildDecoderTokenizerJson(512));
});

t.test('encoder WordPiece tokenizer agrees across both libraries', async (t) => {
  const json = buildEncoderTokenizerJson(ENCODER_PRESET.vocabSize, 128);
  const dir = tempDir(t);
  const file = path.join(dir, 'tokenizer.json');
  writeFileSync(file, JSON.stringify(json));
  const rust = RustTokenizer.fromFile(file);
  const js = jsTokenizer(json, buildEncoderTokenizerConfig(128));
  t.equal(rust.getVocabSize(true), ENCODER_PRESET.vocabSize);
  t.same(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((x) => rust.tokenToId(x)), [0, 1, 2, 3, 4]);
  let mismatches = 0;
  const examples: string[] = [];
  for (const text of STRINGS) {
    const r = (await rust.encode(text)).getIds();
    const j = js.encode(text).ids;
    if (JSON.stringify(r) !== JSON.stringify(j)) {
      mismatches++;
      if (examples.length < 3) examples.push(`${JSON.stringify(text)}: ${r} vs ${j}`);
    }
  }
  t.equal(mismatches, 0, `identical ids ${examples.join(' | ')}`);
  const ids = (await rust.encode('Hello, World! Searching documents.')).getIds();
  t.equal(ids[0], 2, '[CLS] first');
  t.equal(ids[ids.length - 1], 3, '[SEP] last');
  t.notOk(ids.includes(1), 'ASCII text never needs [UNK]');
  t.equal(await rust.decode(ids, true), 'hello, world! searching documents.');
});

t.test('chat template renders with @huggingface/jinja', async (t) => {
  const template = new Template(CHAT_TEMPLATE);
  const render = (ctx: Record<string, unknown>): string => template.render({ bos_token: '<|begin_of_text|>', ...ctx });

  t.equal(
    render({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi!' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: [{ type: 'text', text: 'Two ' }, { type: 'image_url' }, { type: 'text', text: 'parts' }] },
      ],
      add_generation_prompt: true,
    }),
    '<|begin_of_text|><|im_start|>system\nBe brief.<|im_end|>\n' +
      '<|im_start|>user\nHi!<|im_end|>\n' +
      '<|im_start|>assistant\nHello.<|im_end|>\n' +
      '<|im_start|>user\nTwo parts<|im_end|>\n' +
      '<|im_start|>assistant\n',
  );

  t.equal(
    render({ messages: [{ role: 'user', content: 'x' }], add_generation_prompt: false }),
    '<|begin_of_text|><|im_start|>user\nx<|im_end|>\n',
    'no system turn without a system message or tools; no generation prompt',
  );

  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const withTools = render({
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: '{"temp": 21}' },
      { role: 'assistant', content: 'Sure.', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Lyon' } } }] },
    ],
    tools,
    add_generation_prompt: true,
  });
  t.ok(withTools.startsWith('<|begin_of_text|><|im_start|>system\n# Tools\n\n'), 'tools open a system turn');
  t.match(withTools, /<tools>\n\{"type": ?"function", ?"function": ?\{"name": ?"get_weather"/, 'tool definitions as JSON');
  const toolJson = withTools.split('<tools>\n')[1].split('\n</tools>')[0];
  t.same(JSON.parse(toolJson), tools[0], 'tool JSON parses back to the definition');
  t.ok(
    withTools.includes('<|im_start|>assistant\n<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call><|im_end|>\n'),
    'string arguments are inserted verbatim',
  );
  t.ok(withTools.includes('<|im_start|>tool\n{"temp": 21}<|im_end|>\n'), 'tool result turn');
  const lyon = withTools.split('<|im_start|>assistant\nSure.\n<tool_call>')[1];
  t.ok(lyon !== undefined, 'content then tool call on a new line');
  const callJson = JSON.parse(lyon.split('</tool_call>')[0]);
  t.same(callJson, { name: 'get_weather', arguments: { city: 'Lyon' } }, 'object arguments serialised as JSON');
  t.ok(withTools.endsWith('<|im_start|>assistant\n'));

  const systemAndTools = render({ messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'u' }], tools });
  t.ok(systemAndTools.startsWith('<|begin_of_text|><|im_start|>system\nS\n\n# Tools'), 'system prompt precedes the tools block');
});
