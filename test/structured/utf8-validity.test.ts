// Tokens that can never be valid UTF-8 are hidden from grammars: the byte
// rules, and the effect on a real vocabulary and a JSON string grammar.

import t from 'tap';
import { ConstrainedSequence } from '../../src/structured/constrained-sequence.js';
import { jsonSchemaGrammar } from '../../src/structured/schema-grammar.js';
import { neverValidUtf8, utf8Step } from '../../src/structured/utf8-validity.js';
import { GrammarCompiler, GrammarVocab, maskAllows } from '../../src/structured/xgrammar.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { prng, sequenceWalk, smallVocab } from './helpers.js';

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

t.test('the decoder state machine follows Unicode table 3-7', async (t) => {
  const strict = new TextDecoder('utf-8', { fatal: true });
  const rand = prng(7);
  // Random short byte strings, biased to the interesting bytes: valid exactly when a strict decoder accepts them.
  const pool = [0x41, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xf0, 0xf1, 0xf4, 0xc0, 0xf5];
  let disagreements = 0;
  for (let i = 0; i < 20000; i++) {
    const value = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pool[Math.floor(rand() * pool.length)]);
    let state = 0;
    for (const b of value) state = state === 0xff ? 0xff : utf8Step(state, b);
    let valid = true;
    try {
      strict.decode(Uint8Array.from(value));
    } catch {
      valid = false;
    }
    if (valid !== (state === 0)) disagreements++;
  }
  t.equal(disagreements, 0, 'complete and valid exactly when TextDecoder (fatal) accepts the bytes');
});

t.test('regression (issue 15): a token ending in 0xED is never followed by one starting 0xA0–0xBF', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const endsInED: number[] = [];
  const startsSurrogateTail: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (tokenizer.isSpecial(id)) continue;
    const b = tokenizer.tokenBytes(id);
    if (b.length > 0 && b[b.length - 1] === 0xed && !neverValidUtf8(b)) endsInED.push(id);
    if (b.length > 0 && b[0] >= 0xa0 && b[0] <= 0xbf) startsSurrogateTail.push(id);
  }
  t.ok(endsInED.length > 0 && startsSurrogateTail.length > 0, `the vocabulary has both (${endsInED.length}, ${startsSurrogateTail.length})`);
  const compiler = new GrammarCompiler(vocab);
  const spec = await jsonSchemaGrammar({ type: 'object', properties: { s: { type: 'string', maxLength: 10 } }, required: ['s'] });
  const prefix = await tokenizer.encode('{"s": "', { addSpecialTokens: false });
  const sequence = await ConstrainedSequence.start(compiler, spec, [...prefix, endsInED[0]]);
  const mask = sequence.maskForSampling();
  t.same(startsSurrogateTail.filter((id) => maskAllows(mask, id)), [], 'after ED no token starting A0–BF is allowed');
  const quote = (await tokenizer.encode('"', { addSpecialTokens: false }))[0];
  t.notOk(maskAllows(mask, quote), 'nor the closing quote: two bytes are still owed');
  t.ok(
    Array.from({ length: tokenizer.vocabSize }, (_, id) => id).some((id) => maskAllows(mask, id)),
    'but some continuation (80–9F) is',
  );
  sequence.dispose();

  // The reported failure: random walks under maxLength 10; before the fix ~1 % of these held invalid UTF-8.
  const validate = new Ajv2020({ strict: false }).compile({ type: 'object', properties: { s: { type: 'string', maxLength: 10 } }, required: ['s'] });
  const strict = new TextDecoder('utf-8', { fatal: true });
  const bad: string[] = [];
  let finished = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const walk = await sequenceWalk(compiler, spec, tokenizer, prng(seed), 80, 0.05);
    if (!walk.neverStuck) bad.push(`seed ${seed}: stuck (no token allowed)`);
    if (!walk.terminated) continue;
    finished++;
    try {
      if (!validate(JSON.parse(strict.decode(walk.bytes)))) bad.push(`seed ${seed}: does not validate`);
    } catch {
      bad.push(`seed ${seed}: ${Buffer.from(walk.bytes).toString('hex')}`);
    }
  }
  t.ok(finished > 300, `${finished}/400 walks finished`);
  t.same(bad, [], 'every finished walk is valid UTF-8 and validates');
  compiler.dispose();
});
