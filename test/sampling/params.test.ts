import t from 'tap';
import { compileSamplerParams, DEFAULT_SAMPLING_PARAMS, parseLogitBias, resolveSamplingParams } from '../../src/sampling/params.js';

const ctx = { vocabSize: 1000 };

t.test('defaults', (t) => {
  const r = resolveSamplingParams({}, ctx);
  t.ok(r.ok);
  if (r.ok) {
    t.match(r.params, { temperature: 1, topP: 1, topK: 0, minP: 0, seed: null, repetitionPenalty: 1, logitBias: null, logprobs: null });
  }
  const withModel = resolveSamplingParams({ temperature: null, topP: 0.5 }, { ...ctx, defaults: { eosTokenIds: [], temperature: 0.6, topP: 0.9, topK: 20 } });
  t.ok(withModel.ok && withModel.params.temperature === 0.6 && withModel.params.topP === 0.5 && withModel.params.topK === 20,
    'generation_config fills absent fields; request wins');
  t.end();
});

t.test('each range violation names its parameter', (t) => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ temperature: -0.1 }, 'temperature'],
    [{ temperature: 2.01 }, 'temperature'],
    [{ temperature: 'hot' }, 'temperature'],
    [{ topP: 0 }, 'top_p'],
    [{ topP: 1.01 }, 'top_p'],
    [{ topK: -2 }, 'top_k'],
    [{ topK: 1.5 }, 'top_k'],
    [{ minP: 1.5 }, 'min_p'],
    [{ minP: -0.1 }, 'min_p'],
    [{ presencePenalty: 2.5 }, 'presence_penalty'],
    [{ frequencyPenalty: -2.5 }, 'frequency_penalty'],
    [{ repetitionPenalty: 0 }, 'repetition_penalty'],
    [{ repetitionPenalty: 2.5 }, 'repetition_penalty'],
    [{ seed: 1.5 }, 'seed'],
    [{ logprobs: 21 }, 'logprobs'],
    [{ logprobs: -1 }, 'logprobs'],
    [{ logitBias: { 5: 101 } }, 'logit_bias'],
    [{ logitBias: { 1000: 1 } }, 'logit_bias'],
    [{ logitBias: { abc: 1 } }, 'logit_bias'],
    [{ logitBias: { '-1': 1 } }, 'logit_bias'],
    [{ logitBias: [1, 2] }, 'logit_bias'],
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
    { temperature: 0 }, { temperature: 2 }, { topP: 1 }, { topP: 1e-9 }, { topK: -1 }, { topK: 0 }, { topK: 50 },
    { minP: 0 }, { minP: 1 }, { presencePenalty: -2 }, { frequencyPenalty: 2 }, { repetitionPenalty: 2 },
    { seed: -5 }, { seed: 2 ** 60 }, { logprobs: 0 }, { logprobs: 20 }, { logitBias: { 0: -100, 999: 100 } },
  ];
  for (const req of good) t.ok(resolveSamplingParams(req, ctx).ok, JSON.stringify(req));
  t.end();
});

t.test('logit_bias parses to sorted ids, zero biases dropped; the sampler form is typed arrays', (t) => {
  const r = parseLogitBias({ 50: 3, 7: -2, 9: 0 }, 100);
  t.ok(r.ok);
  if (r.ok && r.bias) {
    t.same(r.bias, { ids: [7, 50], values: [-2, 3] }, 'plain arrays: it crosses threads as data');
    const compiled = compileSamplerParams({ ...DEFAULT_SAMPLING_PARAMS, logitBias: r.bias }).logitBias;
    t.ok(compiled?.ids instanceof Int32Array && compiled.values instanceof Float64Array);
    t.same(Array.from(compiled?.ids ?? []), [7, 50]);
    t.same(Array.from(compiled?.values ?? []), [-2, 3]);
  } else t.fail('expected a bias');
  t.same(parseLogitBias({}, 100), { ok: true, bias: null });
  t.same(parseLogitBias({ 3: 1.5, 1: 2 }, 100), { ok: true, bias: { ids: [1, 3], values: [2, 1.5] } });
  t.equal(compileSamplerParams(DEFAULT_SAMPLING_PARAMS).logitBias, null);
  t.end();
});
