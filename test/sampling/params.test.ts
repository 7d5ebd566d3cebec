import t from 'tap';
import { compileLogitBias, parseLogitBias, resolveSamplingParams } from '../../src/sampling/params.js';

const ctx = { vocabSize: 1000 };

t.test('defaults', (t) => {
  const r = resolveSamplingParams({}, ctx);
  t.ok(r.ok);
  if (r.ok) {
    t.match(r.params, { temperature: 1, topP: 1, topK: 0, minP: 0, seed: null, repetitionPenalty: 1, logitBias: null, logprobs: null });
  }
  const withModel = resolveSamplingParams({ temperature: null, top_p: 0.5 }, { ...ctx, defaults: { eosTokenIds: [], temperature: 0.6, topP: 0.9, topK: 20 } });
  t.ok(withModel.ok && withModel.params.temperature === 0.6 && withModel.params.topP === 0.5 && withModel.params.topK === 20,
    'generation_config fills absent fields; request wins');
  t.end();
});

t.test('each range violation names its parameter', (t) => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ temperature: -0.1 }, 'temperature'],
    [{ temperature: 2.01 }, 'temperature'],
    [{ temperature: 'hot' }, 'temperature'],
    [{ top_p: 0 }, 'top_p'],
    [{ top_p: 1.01 }, 'top_p'],
    [{ top_k: -2 }, 'top_k'],
    [{ top_k: 1.5 }, 'top_k'],
    [{ min_p: 1.5 }, 'min_p'],
    [{ min_p: -0.1 }, 'min_p'],
    [{ presence_penalty: 2.5 }, 'presence_penalty'],
    [{ frequency_penalty: -2.5 }, 'frequency_penalty'],
    [{ repetition_penalty: 0 }, 'repetition_penalty'],
    [{ repetition_penalty: 2.5 }, 'repetition_penalty'],
    [{ seed: 1.5 }, 'seed'],
    [{ logprobs: 21 }, 'logprobs'],
    [{ logprobs: -1 }, 'logprobs'],
    [{ logit_bias: { 5: 101 } }, 'logit_bias'],
    [{ logit_bias: { 1000: 1 } }, 'logit_bias'],
    [{ logit_bias: { abc: 1 } }, 'logit_bias'],
    [{ logit_bias: { '-1': 1 } }, 'logit_bias'],
    [{ logit_bias: [1, 2] }, 'logit_bias'],
  ];
  for (const [req, param] of bad) {
    const r = resolveSamplingParams(req, ctx);
    t.equal(r.ok ? null : r.error.param, param, JSON.stringify(req));
    if (!r.ok) t.ok(r.error.message.includes(param), 'message mentions the parameter');
  }
  const chat = resolveSamplingParams({ logprobs: 30 }, { ...ctx, logprobsParam: 'top_logprobs' });
  t.equal(chat.ok ? null : chat.error.param, 'top_logprobs');
  t.end();
});

t.test('accepted edge values', (t) => {
  const good = [
    { temperature: 0 }, { temperature: 2 }, { top_p: 1 }, { top_p: 1e-9 }, { top_k: -1 }, { top_k: 0 }, { top_k: 50 },
    { min_p: 0 }, { min_p: 1 }, { presence_penalty: -2 }, { frequency_penalty: 2 }, { repetition_penalty: 2 },
    { seed: -5 }, { seed: 2 ** 60 }, { logprobs: 0 }, { logprobs: 20 }, { logit_bias: { 0: -100, 999: 100 } },
  ];
  for (const req of good) t.ok(resolveSamplingParams(req, ctx).ok, JSON.stringify(req));
  t.end();
});

t.test('logit_bias compiles to sorted ids; zero biases dropped', (t) => {
  const r = parseLogitBias({ 50: 3, 7: -2, 9: 0 }, 100);
  t.ok(r.ok);
  if (r.ok && r.bias) {
    t.same(Array.from(r.bias.ids), [7, 50]);
    t.same(Array.from(r.bias.values), [-2, 3]);
  } else t.fail('expected a bias');
  t.equal(compileLogitBias({}), null);
  t.same(Array.from(compileLogitBias({ 3: 1.5, 1: 2 })?.ids ?? []), [1, 3]);
  t.end();
});
