// Tokens that can never be valid UTF-8 are hidden from grammars: the byte
// rules, and the effect on a real vocabulary and a JSON string grammar.

import t from 'tap';
import { ConstrainedSequence } from '../../src/structured/constrained-sequence.js';
import { jsonSchemaGrammar } from '../../src/structured/schema-grammar.js';
import { neverValidUtf8 } from '../../src/structured/utf8-validity.js';
import { GrammarCompiler, GrammarVocab, maskAllows } from '../../src/structured/xgrammar.js';
import { smallVocab } from './helpers.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

t.test('byte rules', async (t) => {
  for (const [name, value] of [
    ['ASCII', bytes(0x41, 0x7a)],
    ['é', bytes(0xc3, 0xa9)],
    ['你', bytes(0xe4, 0xbd, 0xa0)],
    ['an emoji', bytes(0xf0, 0x9f, 0x98, 0x80)],
    ['U+10FFFF', bytes(0xf4, 0x8f, 0xbf, 0xbf)],
    ['a lone lead byte (completed by the next token)', bytes(0xe4)],
    ['a lone continuation byte (completing the previous token)', bytes(0xbd)],
  ] as const) {
    t.notOk(neverValidUtf8(value), `${name} can be valid`);
  }
  for (const [name, value] of [
    ['0xF5 (beyond U+10FFFF)', bytes(0xf5)],
    ['0xFF', bytes(0x61, 0xff)],
    ['0xC0 (overlong)', bytes(0xc0)],
    ['0xC1', bytes(0xc1, 0x81)],
    ['overlong E0 80', bytes(0xe0, 0x80, 0x80)],
    ['a surrogate ED A0', bytes(0xed, 0xa0, 0x80)],
    ['overlong F0 80', bytes(0xf0, 0x80)],
    ['beyond U+10FFFF F4 90', bytes(0xf4, 0x90)],
  ] as const) {
    t.ok(neverValidUtf8(value), `${name} is never valid`);
  }
});

t.test('a grammar never offers a token that cannot be valid UTF-8, even inside a JSON string', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const invalid: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) if (!tokenizer.isSpecial(id) && neverValidUtf8(tokenizer.tokenBytes(id))) invalid.push(id);
  t.ok(invalid.length >= 13, `${invalid.length} such tokens in the byte-level vocabulary (0xC0, 0xC1, 0xF5–0xFF at least)`);
  const strings = GrammarVocab.vocabStrings(tokenizer, []);
  t.ok(
    invalid.every((id) => strings[id] === ''),
    'all blanked in the strings xgrammar gets',
  );

  const compiler = new GrammarCompiler(vocab);
  const spec = await jsonSchemaGrammar({ type: 'object', properties: { s: { type: 'string' } }, required: ['s'] });
  const sequence = await ConstrainedSequence.start(compiler, spec, await tokenizer.encode('{"s": "', { addSpecialTokens: false }));
  const mask = sequence.maskForSampling();
  const lead = (await tokenizer.encode('你', { addSpecialTokens: false }))[0];
  t.ok(maskAllows(mask, lead), 'inside the string, a valid multi-byte start is allowed');
  t.same(
    invalid.filter((id) => maskAllows(mask, id)),
    [],
    'and no never-valid token is',
  );
  sequence.dispose();
});
