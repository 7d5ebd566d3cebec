// Unit checks of the protocol pieces that the end-to-end tests only touch
// indirectly: a request using every parameter validates and normalises as
// documented; param paths; routing; base64 embeddings; metric buckets.

import t from 'tap';
import { createValidators, pointerToParam } from '../../src/protocol/validation.js';
import { normalizeChatRequest, normalizeCompletionRequest, normalizeEmbeddingRequest } from '../../src/protocol/requests.js';
import { embeddingToBase64 } from '../../src/protocol/responses.js';
import { Router } from '../../src/front/router.js';
import { ApiError } from '../../src/protocol/errors.js';
import { buckets125 } from '../../src/metrics/registry.js';

const v = createValidators();

t.test('a chat request using every parameter is accepted and normalised', async (t) => {
  const body = {
    model: 'm',
    messages: [
      { role: 'developer', content: 'dev' },
      { role: 'system', content: [{ type: 'text', text: 'sys' }] },
      { role: 'user', content: 'q', name: 'alice' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', content: '42', tool_call_id: 'c1' },
      { role: 'assistant', content: [{ type: 'refusal', refusal: 'no' }] },
    ],
    max_tokens: 10,
    max_completion_tokens: 20,
    temperature: 0,
    top_p: 1,
    n: 2,
    stream: true,
    stream_options: { include_usage: true },
    stop: ['END', 'STOP', '###', '\n\n'],
    presence_penalty: -2,
    frequency_penalty: 2,
    logit_bias: { '0': -100, '50256': 100 },
    logprobs: true,
    top_logprobs: 20,
    seed: -7,
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
    tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object' }, strict: false } }],
    tool_choice: { type: 'function', function: { name: 'f' } },
    parallel_tool_calls: false,
    user: 'u',
    top_k: -1,
    min_p: 0.1,
    repetition_penalty: 1.1,
    min_tokens: 1,
    stop_token_ids: [2, 3],
    ignore_eos: true,
    skip_special_tokens: false,
    include_stop_str_in_output: true,
    chat_template_kwargs: { enable_thinking: false },
    some_future_field: { anything: true },
    store: true,
    metadata: { a: 'b' },
  };
  const r = normalizeChatRequest(v.chat(body));
  t.equal(r.sampling.maxTokens, 20, 'max_completion_tokens wins');
  t.equal(r.sampling.n, 2);
  t.equal(r.stream, true);
  t.equal(r.includeUsage, true);
  t.same(r.sampling.stop, ['END', 'STOP', '###', '\n\n']);
  t.same(r.sampling.logitBias, { 0: -100, 50256: 100 });
  t.equal(r.sampling.logprobs, 20);
  t.equal(r.sampling.seed, -7);
  t.same(r.sampling.responseFormat, { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true });
  t.same(r.tools, [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object' } } }], 'tools in the shape templates show, strict dropped');
  t.same(r.toolChoice, { name: 'f' });
  t.equal(r.parallelToolCalls, false);
  t.equal(r.sampling.topK, -1);
  t.same(r.sampling.stopTokenIds, [2, 3]);
  t.equal(r.sampling.ignoreEos, true);
  t.equal(r.sampling.skipSpecialTokens, false);
  t.same(r.chatTemplateKwargs, { enable_thinking: false });
  t.same(r.messages.map((m) => m.role), ['developer', 'system', 'user', 'assistant', 'tool', 'assistant']);
  t.equal(r.messages[1].content, 'sys');
  t.equal(r.messages[2].name, 'alice');
  t.equal(r.messages[3].content, null);
  t.equal(r.messages[3].toolCalls?.[0].function.name, 'f');
  t.equal(r.messages[4].toolCallId, 'c1');
  t.equal(r.messages[5].content, 'no');
});

t.test('defaults and nulls', async (t) => {
  const r = normalizeChatRequest(v.chat({ model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: null, stop: 'x', n: null }));
  t.equal(r.sampling.temperature, undefined, 'null means not given');
  t.same(r.sampling.stop, ['x'], 'a single stop string becomes a list');
  t.equal(r.sampling.n, 1);
  t.equal(r.sampling.maxTokens, null);
  t.equal(r.sampling.logprobs, null);
  t.equal(r.stream, false);
  t.equal(r.toolChoice, 'none', 'no tools → none');
  const bare = normalizeChatRequest(
    v.chat({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', description: '', parameters: null } }] }),
  );
  t.same(bare.tools, [{ type: 'function', function: { name: 'f' } }], 'an empty description and null parameters are left out');
  t.equal(bare.toolChoice, 'auto', 'tools → auto');
  t.equal(r.addGenerationPrompt, true);
  const c = normalizeCompletionRequest(v.completions({ model: 'm', prompt: [1, 2, 3], logprobs: 0, best_of: 1 }));
  t.same(c.prompts, [{ type: 'tokens', ids: [1, 2, 3] }], 'flat id array is one prompt');
  t.equal(c.sampling.logprobs, 0);
  const e = normalizeEmbeddingRequest(v.embeddings({ model: 'm', input: ['a', 'b'] }));
  t.equal(e.encodingFormat, 'float');
  t.equal(e.inputs.length, 2);
});

t.test('pointerToParam', async (t) => {
  t.equal(pointerToParam('/messages/0/content/2/text'), 'messages[0].content[2].text');
  t.equal(pointerToParam('/logit_bias/123', { logit_bias: { '123': 1 } }), 'logit_bias.123', 'numeric object keys stay keys');
  t.equal(pointerToParam('/a~1b'), 'a/b');
  t.equal(pointerToParam(''), '');
});

t.test('router', async (t) => {
  const r = new Router<string>().add('GET', '/v1/models', 'list').add('GET', '/v1/models/*', 'one').add('POST', '/v1/chat/completions', 'chat');
  t.same(r.match('GET', '/v1/models/org/name'), { route: '/v1/models/*', handler: 'one', rest: 'org/name' });
  t.equal(r.match('GET', '/v1/models/org%2Fname').rest, 'org/name', 'percent-encoded slash decoded');
  t.equal(r.match('GET', '/v1/models/').handler, 'list', 'trailing slash tolerated');
  t.equal(r.match('HEAD', '/v1/models').handler, 'list', 'HEAD served by GET');
  const errorOf = (method: string, path: string): ApiError | null => {
    try {
      r.match(method, path);
    } catch (err) {
      return err as ApiError;
    }
    return null;
  };
  t.equal(errorOf('GET', '/v1/chat/completions')?.status, 405);
  t.equal(errorOf('GET', '/v1/chat/completions')?.headers.Allow, 'POST');
  t.equal(errorOf('DELETE', '/v1/models')?.headers.Allow, 'GET, HEAD');
  t.equal(errorOf('GET', '/nope')?.status, 404);
  t.equal(errorOf('GET', '/v1/models')?.status, undefined, 'a match throws nothing');
});

t.test('embeddingToBase64 is float32 little-endian', async (t) => {
  const values = [1, -2.5, 0.1, 3e-8];
  const buf = Buffer.from(embeddingToBase64(values), 'base64');
  t.equal(buf.length, 16);
  // Independent decode with DataView (explicit little-endian).
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  t.same([0, 1, 2, 3].map((i) => dv.getFloat32(i * 4, true)), values.map((x) => Math.fround(x)));
});

t.test('buckets125', async (t) => {
  t.same(buckets125(2048), [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]);
  t.same(buckets125(1), [1]);
});

t.test('ApiError never carries internals', async (t) => {
  const e = ApiError.from(new Error('ENOENT /secret/path'));
  t.equal(e.status, 500);
  t.notMatch(JSON.stringify(e.toBody()), /secret/);
  const keep = ApiError.invalidRequest('bad', 'x');
  t.equal(ApiError.from(keep), keep);
});
