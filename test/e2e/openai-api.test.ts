// The official `openai` client against a real Serval server (tiny generated
// model, real engine). Greedy outputs are compared across modes, so a
// streaming or batching bug shows up as a text mismatch.

import http from 'node:http';
import t from 'tap';
import { loadModelFolder } from '../../src/model/folder.js';
import { ReferenceDecoder } from '../../src/model/reference/llama-reference.js';
import { MODEL_ID, metricValue, startRealServer } from './harness.js';

const served = await startRealServer();
t.teardown(() => served.close());
const { client, base } = served;
const folder = await loadModelFolder(served.modelDir);
const reference = new ReferenceDecoder(folder.config, folder.weights);

function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const logZ = max + Math.log(sum);
  return Float64Array.from(logits, (v) => v - logZ);
}

t.test('models and health', async (t) => {
  const list = await client.models.list();
  t.same(
    list.data.map((m) => m.id),
    [MODEL_ID],
  );
  const one = await client.models.retrieve(MODEL_ID);
  t.equal(one.id, MODEL_ID);
  const health = await fetch(`${base}/health`);
  t.equal(health.status, 200);
});

t.test('chat: plain and streamed give the same greedy text', async (t) => {
  const messages = [{ role: 'user' as const, content: 'Tell me about serval cats.' }];
  const plain = await client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 12, temperature: 0 });
  const choice = plain.choices[0];
  t.equal(plain.object, 'chat.completion');
  t.equal(choice.message.role, 'assistant');
  t.ok(choice.finish_reason === 'length' || choice.finish_reason === 'stop');
  t.ok((plain.usage?.completion_tokens ?? 0) >= 1 && (plain.usage?.completion_tokens ?? 0) <= 12);
  t.ok((plain.usage?.prompt_tokens ?? 0) > 5);

  const stream = await client.chat.completions.create({
    model: MODEL_ID,
    messages,
    max_tokens: 12,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  const ids = new Set<string>();
  let first = true;
  let finish: string | null = null;
  let usageChunks = 0;
  for await (const chunk of stream) {
    ids.add(chunk.id);
    if (chunk.choices.length === 0) {
      usageChunks++;
      // The repeat reuses the plain request's prompt from the prefix cache: all of it but the last token's block.
      const { prompt_tokens_details: details, ...counts } = chunk.usage ?? {};
      const { prompt_tokens_details: _plainDetails, ...plainCounts } = plain.usage ?? {};
      t.same(counts, plainCounts, 'streamed usage counts equal the plain usage');
      t.equal(details?.cached_tokens, Math.floor(((plain.usage?.prompt_tokens ?? 0) - 1) / 16) * 16, 'the repeat found its prompt cached');
      continue;
    }
    if (first) t.equal(chunk.choices[0].delta.role, 'assistant', 'role in the first delta');
    first = false;
    text += chunk.choices[0].delta.content ?? '';
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  t.equal(ids.size, 1, 'one id for the whole stream');
  t.equal(usageChunks, 1);
  t.equal(text, choice.message.content);
  t.equal(finish, choice.finish_reason);
});

t.test('completions: string, array and token-id prompts, plain and streamed', async (t) => {
  const single = await client.completions.create({ model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
  t.equal(single.choices.length, 1);
  const array = await client.completions.create({ model: MODEL_ID, prompt: ['Once upon a time', 'The serval'], max_tokens: 6, temperature: 0 });
  t.same(
    array.choices.map((c) => c.index),
    [0, 1],
  );
  t.equal(array.choices[0].text, single.choices[0].text, 'batched prompt 0 equals it alone');
  const ids = await client.completions.create({ model: MODEL_ID, prompt: [5, 6, 7, 8], max_tokens: 4, temperature: 0, ignore_eos: true } as never);
  t.equal(ids.usage?.prompt_tokens, 4);
  t.equal(ids.usage?.completion_tokens, 4);

  const stream = await client.completions.create({ model: MODEL_ID, prompt: ['Once upon a time', 'The serval'], max_tokens: 6, temperature: 0, stream: true });
  const texts = ['', ''];
  for await (const chunk of stream) for (const c of chunk.choices) texts[c.index] += c.text;
  t.same(
    texts,
    array.choices.map((c) => c.text),
  );
});

t.test('echo returns a text prompt as written (no BOS), streamed or not, with logprobs tokens that spell it', async (t) => {
  const prompt = 'The serval hunts at dusk';
  const plain = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 3, temperature: 0, echo: true });
  t.ok(plain.choices[0].text.startsWith(prompt), `text starts with the prompt: ${JSON.stringify(plain.choices[0].text)}`);
  const generated = plain.choices[0].text.slice(prompt.length);
  const alone = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 3, temperature: 0 });
  t.equal(generated, alone.choices[0].text, 'then exactly the completion');

  const stream = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 3, temperature: 0, echo: true, stream: true });
  let streamed = '';
  for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? '';
  t.equal(streamed, plain.choices[0].text, 'streamed echo is the same text');

  const withLogprobs = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 3, temperature: 0, echo: true, logprobs: 1 });
  const lp = withLogprobs.choices[0].logprobs;
  if (!lp?.tokens || !lp.text_offset) throw new Error('no logprobs');
  t.equal(withLogprobs.choices[0].text, plain.choices[0].text);
  t.equal(lp.tokens.join(''), withLogprobs.choices[0].text, 'the tokens spell the echoed prompt and the completion');
  t.equal(lp.text_offset[0], 0, 'the first token starts the text');
});

t.test('completions logprobs: top_logprobs always hold the sampled token; text_offset points into the text', async (t) => {
  const sampled = await client.completions.create({ model: MODEL_ID, prompt: 'x', max_tokens: 8, temperature: 1.5, seed: 9, logprobs: 1, ignore_eos: true } as never);
  const lp = sampled.choices[0].logprobs;
  if (!lp?.tokens || !lp.top_logprobs || !lp.token_logprobs) throw new Error('no logprobs');
  lp.tokens.forEach((token, i) => {
    const top = lp.top_logprobs?.[i] ?? {};
    t.equal(top[token], lp.token_logprobs?.[i], `position ${i}: the sampled token ${JSON.stringify(token)} is among the top_logprobs`);
    t.ok(Object.keys(top).length <= 2, 'at most logprobs + 1 entries');
  });
  const none = await client.completions.create({ model: MODEL_ID, prompt: 'x', max_tokens: 3, temperature: 0, logprobs: 0, ignore_eos: true } as never);
  t.same(
    none.choices[0].logprobs?.top_logprobs?.map((top) => Object.keys(top ?? {}).length),
    [1, 1, 1],
    'logprobs 0: the sampled token alone',
  );

  // 228 189 160 are the three bytes of 你: the tokens holding them start where the character does.
  const split = await client.completions.create({ model: MODEL_ID, prompt: [97, 228, 189, 160, 98], max_tokens: 2, temperature: 0, echo: true, logprobs: 0 } as never);
  const text = split.choices[0].text;
  const offsets = split.choices[0].logprobs?.text_offset ?? [];
  const tokens = split.choices[0].logprobs?.tokens ?? [];
  t.ok(text.startsWith('a你b'), `echoed ${JSON.stringify(text)}`);
  t.same(offsets.slice(0, 5), [0, 1, 1, 1, 2], 'a, then the three byte tokens at the character, then b after it');
  tokens.forEach((token, i) => {
    if (!token.includes('\ufffd')) t.ok(text.startsWith(token, offsets[i]), `token ${i} ${JSON.stringify(token)} is at text_offset ${offsets[i]}`);
  });
  const stream = await client.completions.create({ model: MODEL_ID, prompt: [97, 228, 189, 160, 98], max_tokens: 2, temperature: 0, echo: true, logprobs: 0, stream: true } as never);
  const streamedOffsets: number[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<{ choices: { logprobs: { text_offset: number[] } | null }[] }>) {
    streamedOffsets.push(...(chunk.choices[0]?.logprobs?.text_offset ?? []));
  }
  t.same(streamedOffsets, offsets, 'streamed offsets are the same');
});

t.test('min_tokens keeps EOS and stop ids from ending a sequence early, greedy or sampled', async (t) => {
  const eos = folder.config.eosTokenIds[0];
  for (const temperature of [0, 1]) {
    const forced = { model: MODEL_ID, prompt: 'x', max_tokens: 20, temperature, seed: 3, logit_bias: { [eos]: 100 } };
    const early = await client.completions.create(forced);
    t.equal(early.usage?.completion_tokens, 1, `temperature ${temperature}: EOS forced, the sequence ends at once`);
    const held = await client.completions.create({ ...forced, min_tokens: 5 } as never);
    t.equal(held.choices[0].finish_reason, 'stop');
    t.equal(held.usage?.completion_tokens, 6, `temperature ${temperature}: five tokens, then the forced EOS`);
  }
  const stopId = 300;
  const byStopId = await client.completions.create({
    model: MODEL_ID,
    prompt: 'x',
    max_tokens: 20,
    temperature: 0,
    logit_bias: { [stopId]: 100 },
    stop_token_ids: [stopId],
    min_tokens: 3,
  } as never);
  t.equal(byStopId.usage?.completion_tokens, 4, 'a stop id is held back the same way');
  const bad = await fetch(`${base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, prompt: 'x', max_tokens: 3, min_tokens: 5 }),
  });
  t.equal(bad.status, 400);
  t.match(await bad.json(), { error: { param: 'min_tokens' } });
  // Without max_tokens the limit is what the context leaves: the same rule.
  const room = served.model.engine.maxModelLen - 3;
  const beyond = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: 'x' }], min_tokens: room }),
  });
  t.equal(beyond.status, 400, 'min_tokens beyond the context room: 400');
  t.match(await beyond.json(), { error: { param: 'min_tokens', message: /leaves in the model's context/ } });
});

t.test('a prompt that cannot fit the context is refused before it is tokenized', async (t) => {
  const huge = 'serval '.repeat(100_000); // 700 kB, under the test server's 1 MB body limit
  for (const [path, body] of [
    ['/v1/completions', { model: MODEL_ID, prompt: huge, max_tokens: 1 }],
    ['/v1/chat/completions', { model: MODEL_ID, messages: [{ role: 'user', content: huge }], max_tokens: 1 }],
    ['/v1/chat/completions', { model: MODEL_ID, messages: Array.from({ length: 5000 }, () => ({ role: 'user', content: 'a' })), max_tokens: 1 }],
  ] as const) {
    const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    t.equal(response.status, 400, path);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    t.equal(error.code, 'context_length_exceeded');
    t.match(error.message, /cannot fit/, 'refused by the bound, not after tokenizing');
  }
});

t.test('a prompt over the context in tokens is a 400 naming the parameter it came from', async (t) => {
  const maxModelLen = served.model.engine.maxModelLen;
  const ids = Array.from({ length: maxModelLen }, (_, i) => 10 + (i % 200));
  const cases = [
    ['/v1/completions', { model: MODEL_ID, prompt: ids, max_tokens: 1 }, 'prompt'],
    ['/v1/completions', { model: MODEL_ID, prompt: [[1, 2, 3], ids], max_tokens: 1 }, 'prompt[1]'],
    // Short in characters (under the bound that refuses before tokenizing), over the context in tokens.
    ['/v1/chat/completions', { model: MODEL_ID, messages: [{ role: 'user', content: 'a '.repeat(maxModelLen) }], max_tokens: 1 }, 'messages'],
  ] as const;
  for (const [path, body, param] of cases) {
    const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    t.equal(response.status, 400, `${path} (${param})`);
    t.match(await response.json(), { error: { type: 'invalid_request_error', code: 'context_length_exceeded', param, message: /maximum context length/ } });
  }
});

t.test('echo with logprobs and n > 1: every choice echoes the same prompt logprobs as a single choice', async (t) => {
  const prompt = [17, 99, 3, 250, 41, 8];
  const request = { model: MODEL_ID, prompt, max_tokens: 3, temperature: 1, seed: 5, logprobs: 2, echo: true } as never;
  const single = await client.completions.create(request);
  const many = await client.completions.create({ ...(request as object), n: 3 } as never);
  const promptPart = (choice: { logprobs: { token_logprobs: unknown[]; top_logprobs: unknown[]; tokens: string[]; text_offset: number[] } | null }) => {
    const lp = choice.logprobs;
    if (!lp) throw new Error('no logprobs');
    return [lp.tokens, lp.token_logprobs, lp.top_logprobs, lp.text_offset].map((list) => list.slice(0, prompt.length));
  };
  t.equal(many.choices.length, 3);
  for (const choice of many.choices) t.same(promptPart(choice as never), promptPart(single.choices[0] as never), `choice ${choice.index}`);
  t.equal((many.choices[0] as { text: string }).text, (single.choices[0] as { text: string }).text, 'choice 0 (seed + 0) equals the single choice');
});

t.test('logprobs equal log-softmax of the reference forward pass', async (t) => {
  const prompt = [17, 99, 3, 250, 41];
  const result = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 4, temperature: 0, logprobs: 3, echo: true, ignore_eos: true } as never);
  const lp = result.choices[0].logprobs;
  if (!lp?.token_logprobs || !lp.top_logprobs || !lp.tokens) throw new Error('no logprobs');
  t.equal(lp.tokens.length, prompt.length + 4, 'echo: prompt tokens then generated tokens');
  t.equal(lp.token_logprobs[0], null, 'the first prompt token has no logprob');
  const state = reference.newState();
  const promptLogits = reference.forward(state, prompt);
  // Prompt token i is scored by the logits after token i-1.
  for (let i = 1; i < prompt.length; i++) {
    const want = logSoftmax(promptLogits[i - 1])[prompt[i]];
    t.ok(Math.abs((lp.token_logprobs[i] as number) - want) < 1e-4, `prompt token ${i}: ${lp.token_logprobs[i]} vs ${want}`);
  }
  let logits = promptLogits[prompt.length - 1];
  for (let s = 0; s < 4; s++) {
    const ls = logSoftmax(logits);
    let best = 0;
    for (let v = 1; v < ls.length; v++) if (ls[v] > ls[best]) best = v;
    const got = lp.token_logprobs[prompt.length + s] as number;
    t.ok(Math.abs(got - ls[best]) < 1e-4, `generated ${s}: ${got} vs ${ls[best]}`);
    const top = Object.values(lp.top_logprobs[prompt.length + s] ?? {});
    t.equal(top.length, 3);
    t.ok(Math.abs(Math.max(...top) - got) < 1e-9, 'greedy choice is top-1');
    logits = reference.forward(state, [best])[0];
  }
});

t.test('chat logprobs: one entry per token, top alternatives sorted, greedy choice first', async (t) => {
  const result = await client.chat.completions.create({
    model: MODEL_ID,
    messages: [{ role: 'user', content: 'Name a cat.' }],
    max_tokens: 6,
    temperature: 0,
    logprobs: true,
    top_logprobs: 3,
  });
  const content = result.choices[0].logprobs?.content ?? [];
  t.equal(content.length, result.usage?.completion_tokens, 'one logprob entry per generated token');
  for (const entry of content) {
    const tops = entry.top_logprobs.map((top) => top.logprob);
    t.equal(tops.length, 3);
    t.same(tops, [...tops].sort((a, b) => b - a), 'sorted, most likely first');
    t.equal(entry.top_logprobs[0].token, entry.token, 'greedy token is the top-1 alternative');
    t.ok(Math.abs(entry.logprob - tops[0]) < 1e-9);
    t.ok(Array.isArray(entry.bytes) && entry.bytes.length > 0, 'the token carries its bytes');
  }
});

t.test('stop strings across token boundaries, plain and streamed', async (t) => {
  const base = await client.completions.create({ model: MODEL_ID, prompt: 'The serval', max_tokens: 24, temperature: 0, ignore_eos: true } as never);
  const text = base.choices[0].text;
  t.ok(text.length >= 8, `enough text to cut (${JSON.stringify(text)})`);
  const stop = text.slice(3, 7);
  const want = text.slice(0, text.indexOf(stop));
  const plain = await client.completions.create({ model: MODEL_ID, prompt: 'The serval', max_tokens: 24, temperature: 0, stop: [stop] });
  t.equal(plain.choices[0].text, want);
  t.equal(plain.choices[0].finish_reason, 'stop');
  const stream = await client.completions.create({ model: MODEL_ID, prompt: 'The serval', max_tokens: 24, temperature: 0, stop: [stop], stream: true });
  let streamed = '';
  for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? '';
  t.equal(streamed, want, 'no part of the stop string was streamed');
});

t.test('seeded sampling is the same alone and inside a busy batch; n = 4 gives 4 choices', async (t) => {
  const request = { model: MODEL_ID, prompt: 'Random words:', max_tokens: 10, temperature: 1, seed: 1234 };
  const alone = await client.completions.create(request);
  const noise = Array.from({ length: 8 }, (_, i) => client.completions.create({ model: MODEL_ID, prompt: `noise ${i}`, max_tokens: 20, temperature: 1 }));
  const busy = await client.completions.create(request);
  await Promise.all(noise);
  t.equal(busy.choices[0].text, alone.choices[0].text);

  const four = await client.completions.create({ ...request, n: 4, seed: 7 });
  t.same(
    four.choices.map((c) => c.index).sort(),
    [0, 1, 2, 3],
  );
  t.ok(new Set(four.choices.map((c) => c.text)).size > 1, 'choices differ');
});

t.test('metrics increase after requests', async (t) => {
  const before = metricValue(await (await fetch(`${base}/metrics`)).text(), 'vllm:generation_tokens_total');
  await client.completions.create({ model: MODEL_ID, prompt: 'count me', max_tokens: 5, temperature: 0, ignore_eos: true } as never);
  const after = metricValue(await (await fetch(`${base}/metrics`)).text(), 'vllm:generation_tokens_total');
  t.equal(after - before, 5);
});

t.test('keep-alive: 100 streamed requests over one connection', async (t) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const sockets = new Set<unknown>();
  const body = JSON.stringify({ model: MODEL_ID, prompt: 'hi', max_tokens: 2, stream: true, temperature: 0 });
  for (let i = 0; i < 100; i++) {
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${base}/v1/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        sockets.add(res.socket);
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => resolve(data));
      });
      req.on('error', reject);
      req.end(body);
    });
    if (!text.trimEnd().endsWith('data: [DONE]')) t.fail(`request ${i} did not end with [DONE]`);
  }
  t.equal(sockets.size, 1, 'every response came over the same socket');
});

t.test('32 streams aborted mid-way free their slots', async (t) => {
  const controllers = Array.from({ length: 32 }, () => new AbortController());
  const streams = controllers.map(async (controller, i) => {
    try {
      const stream = await client.completions.create(
        { model: MODEL_ID, prompt: `story ${i}`, max_tokens: 500, temperature: 0, stream: true, ignore_eos: true } as never,
        { signal: controller.signal },
      );
      let chunks = 0;
      for await (const _ of stream as unknown as AsyncIterable<unknown>) {
        if (++chunks === 3) controller.abort();
      }
    } catch {
      // aborted
    }
  });
  await Promise.all(streams);
  let running = NaN;
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    running = metricValue(await (await fetch(`${base}/metrics`)).text(), 'vllm:num_requests_running');
    if (running === 0) break;
  }
  t.equal(running, 0, 'running gauge back to 0');
  const next = await client.completions.create({ model: MODEL_ID, prompt: 'after', max_tokens: 3, temperature: 0 });
  t.equal(next.choices.length, 1, 'the next request succeeds');
});

t.test('a prompt longer than the context gets a 400 naming the parameter', async (t) => {
  const long = Array.from({ length: 1100 }, (_, i) => i % 200);
  const response = await fetch(`${base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, prompt: long, max_tokens: 4 }),
  });
  t.equal(response.status, 400);
  const body = (await response.json()) as { error: { type: string; param: string } };
  t.equal(body.error.type, 'invalid_request_error');
  t.equal(body.error.param, 'prompt');
  t.equal((await fetch(`${base}/health`)).status, 200, 'still healthy');
});

t.test('stop_token_ids outside the vocabulary are a 400 naming the parameter, as logit_bias keys are', async (t) => {
  const vocabSize = served.model.vocabSize;
  for (const [path, body] of [
    ['/v1/chat/completions', { model: MODEL_ID, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, stop_token_ids: [1, vocabSize] }],
    ['/v1/completions', { model: MODEL_ID, prompt: 'hi', max_tokens: 2, stop_token_ids: [vocabSize + 1000] }],
  ] as const) {
    const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    t.equal(response.status, 400, path);
    t.match(await response.json(), { error: { type: 'invalid_request_error', param: 'stop_token_ids', message: new RegExp(`not a token id in \\[0, ${vocabSize}\\)`) } });
  }
  const ok = await client.completions.create({ model: MODEL_ID, prompt: 'hi', max_tokens: 2, stop_token_ids: [vocabSize - 1] } as Parameters<typeof client.completions.create>[0]);
  t.ok('choices' in ok, 'the last id in the vocabulary is accepted');
});
