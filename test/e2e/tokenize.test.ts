// vLLM's /tokenize and /detokenize against a real Serval server: a round
// trip through the real tokenizer, the chat form counting exactly what the
// chat route bills as prompt tokens, and bad input refused with 400.

import t from 'tap';
import { MODEL_ID, startRealServer } from './harness.js';

const served = await startRealServer();
t.teardown(() => served.close());
const { client, base, model } = served;

interface TokenizeBody {
  count: number;
  max_model_len: number;
  tokens: number[];
  token_strs: string[] | null;
}
interface ErrorBody {
  error: { type: string; param: string | null; code: string | null; message: string };
}

async function post(path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

t.test('prompt: ids of the real tokenizer, and back', async (t) => {
  const text = 'Serval cats hunt at dusk. Größe: 你好!';
  const { status, json } = await post('/tokenize', { model: MODEL_ID, prompt: text });
  t.equal(status, 200);
  const body = json as TokenizeBody;
  const expected = await model.tokenizer.encode(text, { addSpecialTokens: true });
  t.same(body.tokens, expected, 'the ids the tokenizer gives, special tokens added by default');
  t.equal(body.count, expected.length);
  t.equal(body.max_model_len, model.engine.maxModelLen);
  t.equal(body.token_strs, null);

  const back = await post('/detokenize', { model: MODEL_ID, tokens: await model.tokenizer.encode(text, { addSpecialTokens: false }) });
  t.equal(back.status, 200);
  t.same(back.json, { prompt: text }, 'round trip');

  const bare = (await post('/tokenize', { prompt: text, add_special_tokens: false, return_token_strs: true })).json as TokenizeBody;
  t.same(bare.tokens, await model.tokenizer.encode(text, { addSpecialTokens: false }), 'model may be left out; add_special_tokens honoured');
  t.same(bare.token_strs, bare.tokens.map((id) => model.tokenizer.idToToken(id)));
});

t.test('messages: the chat template applies; the count is what the chat route bills', async (t) => {
  const messages = [
    { role: 'system' as const, content: 'Be brief.' },
    { role: 'user' as const, content: 'Tell me about serval cats.' },
  ];
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  for (const withTools of [false, true]) {
    const { status, json } = await post('/tokenize', { model: MODEL_ID, messages, ...(withTools ? { tools } : {}) });
    t.equal(status, 200);
    const body = json as TokenizeBody;
    const chat = await client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 1, ...(withTools ? { tools } : {}) });
    t.equal(body.count, chat.usage!.prompt_tokens, `count = chat prompt_tokens${withTools ? ' (with tools)' : ''}`);
    const rendered = (await post('/detokenize', { tokens: body.tokens })).json as { prompt: string };
    t.match(rendered.prompt, /Tell me about serval cats\./, 'the template wraps the content');
    t.not(rendered.prompt, 'Be brief.Tell me about serval cats.');
  }
  const open = (await post('/tokenize', { messages, add_generation_prompt: false })).json as TokenizeBody;
  const prompted = (await post('/tokenize', { messages })).json as TokenizeBody;
  t.ok(open.count < prompted.count, 'add_generation_prompt: false leaves the assistant header out');
});

t.test('bad input: 400 with the field named', async (t) => {
  const cases: Array<[string, unknown, number, string | null]> = [
    ['/detokenize', { tokens: [1, model.vocabSize + 5] }, 400, 'tokens[1]'],
    ['/detokenize', { tokens: [-1] }, 400, 'tokens[0]'],
    ['/detokenize', { tokens: 'abc' }, 400, 'tokens'],
    ['/detokenize', {}, 400, 'tokens'],
    ['/tokenize', {}, 400, 'prompt'],
    ['/tokenize', { prompt: 'a', messages: [{ role: 'user', content: 'b' }] }, 400, 'messages'],
    ['/tokenize', { prompt: 42 }, 400, 'prompt'],
    ['/tokenize', { messages: [{ role: 'wizard', content: 'b' }] }, 400, 'messages[0].role'],
    ['/tokenize', { messages: [{ role: 'user', content: 'b' }], add_generation_prompt: true, continue_final_message: true }, 400, 'continue_final_message'],
    ['/tokenize', { model: 'nope', prompt: 'a' }, 404, 'model'],
  ];
  for (const [path, body, status, param] of cases) {
    const r = await post(path, body);
    t.equal(r.status, status, `${path} ${JSON.stringify(body)}`);
    t.equal((r.json as ErrorBody).error.param, param);
  }
  const get = await fetch(`${base}/tokenize`);
  t.equal(get.status, 405, 'POST only');
  t.equal((await fetch(`${base}/v1/tokenize`, { method: 'POST' })).status, 404, 'served at /tokenize only, as vLLM does');
});

t.test('tokenize takes a permit for its characters: beyond the budget and queue, 429 + Retry-After at once', async (t) => {
  // A budget one request fills (a request larger than the budget runs alone) and no queue.
  const small = await startRealServer({}, 'tiny', { tokenizeBudget: { maxInFlight: 1, maxQueue: 0 } });
  t.teardown(() => small.close());
  // Long enough (≈ 18k characters) that each tokenization holds the permit for several
  // milliseconds, and many at once: with 440 characters (about a millisecond each), node:http
  // on a loaded CI box once parsed 8 requests one after another, each after the last had finished.
  const prompt = 'the quick brown fox jumps over the lazy dog '.repeat(400);
  const replies = await Promise.all(
    Array.from({ length: 32 }, () =>
      fetch(`${small.base}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL_ID, prompt }) }),
    ),
  );
  const statuses = replies.map((r) => r.status);
  t.ok(statuses.includes(200), `one runs (${statuses.join(', ')})`);
  const refused = replies.filter((r) => r.status === 429);
  t.ok(refused.length >= 1, `${refused.length} refused while the budget was in use`);
  for (const r of refused) {
    t.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After set');
    t.equal(((await r.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
  }
  const after = await fetch(`${small.base}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL_ID, prompt: 'hi' }) });
  t.equal(after.status, 200, 'once the budget is free, a request runs again');
});
