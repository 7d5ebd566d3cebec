// The device-side wrapper: masks match a fresh matcher, replay after
// preemption reproduces the state, a forbidden token is an error, and the
// masks plug into the sampler (SamplerRow.allowedMask) as they are.

import t from 'tap';
import { ConstrainedSequence, GrammarViolationError } from '../../src/structured/constrained-sequence.js';
import { jsonSchemaGrammar } from '../../src/structured/schema-grammar.js';
import { GrammarCompiler, maskAllows } from '../../src/structured/xgrammar.js';
import { applyAllowedMask } from '../../src/sampling/logit-processors.js';
import { smallVocab, STOP_IDS } from './helpers.js';

t.test('constrained sequence: accept, replay, violation, sampler mask', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab);
  const spec = await jsonSchemaGrammar({ type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] });
  const ids = await tokenizer.encode('{"ok": true}', { addSpecialTokens: false });

  const live = await ConstrainedSequence.start(compiler, spec);
  for (const id of ids.slice(0, 3)) {
    live.prepareMask();
    t.ok(maskAllows(live.mask, id), `token ${id} allowed`);
    t.equal(live.accept(id), 'continue');
  }
  const replayed = await ConstrainedSequence.start(compiler, spec, ids.slice(0, 3));
  t.same([...replayed.maskForSampling()], [...live.maskForSampling()], 'replay gives the same next mask');

  // The sampler's mask application keeps exactly the allowed tokens.
  const logits = new Float32Array(vocab.vocabSize).fill(1);
  applyAllowedMask(logits, 0, vocab.vocabSize, live.mask);
  let kept = 0;
  for (let id = 0; id < vocab.vocabSize; id++) {
    if (logits[id] === 1) {
      kept++;
      if (!maskAllows(live.mask, id)) t.fail(`token ${id} kept but not allowed`);
    }
  }
  t.ok(kept > 0, `${kept} tokens kept`);

  const forbidden = STOP_IDS[0];
  t.notOk(maskAllows(live.mask, forbidden), 'stop token forbidden mid-object');
  t.throws(() => live.accept(forbidden), GrammarViolationError);
  for (const id of ids.slice(3)) live.accept(id);
  t.equal(live.accept(STOP_IDS[1]), 'terminated', 'either eos id ends the grammar');
  live.dispose();
  replayed.dispose();
  compiler.dispose();
});
