// Automatic prefix caching end to end: two real servers over the same
// generated weights, one with the cache (the default) and one with
// --no-prefix-caching. A request served from cache must give the same greedy
// tokens and logprobs as the same request computed whole, and report exactly
// how many prompt tokens it reused.

import t, { type Test } from 'tap';
import { MODEL_ID, metricValue, startRealServer, type RealServer } from './harness.js';
import { freshStats } from '../engine/helpers.js';

const BLOCK = 16;
const cached = await startRealServer({ maxModelLen: 512 });
const uncached = await startRealServer({ maxModelLen: 512, prefixCaching: false });
t.teardown(async () => {
  await cached.close();
  await uncached.close();
});

/** Token ids (the tiny model's vocabulary is 512), deterministic per seed. */
function ids(length: number, seed: number): number[] {
  return Array.from({ length }, (_, i) => 3 + ((i * 37 + seed * 101) % 500));
}

interface Completion {
  text: string;
  tokens: string[];
  logprobs: number[];
  cachedTokens: number | undefined;
  promptTokens: number;
}

async function complete(base: string, prompt: number[], extra: Record<string, unknown> = {}): Promise<Completion> {
  const res = await fetch(`${base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, prompt, max_tokens: 8, temperature: 0, logprobs: 1, ignore_eos: true, ...extra }),
  });
  const body = (await res.json()) as {
    choices: { text: string; logprobs: { tokens: string[]; token_logprobs: number[] } }[];
    usage: { prompt_tokens: number; prompt_tokens_details?: { cached_tokens: number } };
  };
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  const choice = body.choices[0];
  return {
    text: choice.text,
    tokens: choice.logprobs.tokens,
    logprobs: choice.logprobs.token_logprobs,
    cachedTokens: body.usage.prompt_tokens_details?.cached_tokens,
    promptTokens: body.usage.prompt_tokens,
  };
}

/** Same tokens, logprobs within 1e-5. */
function sameOutput(t: Test, got: Completion, want: Completion, what: string): void {
  t.same(got.tokens, want.tokens, `${what}: same tokens`);
  const worst = Math.max(...got.logprobs.map((lp, i) => Math.abs(lp - want.logprobs[i])));
  t.ok(worst < 1e-5, `${what}: logprobs within 1e-5 (max |Δ| ${worst.toExponential(2)})`);
}

async function metrics(server: RealServer): Promise<{ queries: number; hits: number }> {
  // The actor reports its counters with its snapshots: one taken from now on has counted every finished request.
  await freshStats(server.model.engine);
  const text = await (await fetch(`${server.base}/metrics`)).text();
  return { queries: metricValue(text, 'vllm:prefix_cache_queries_total'), hits: metricValue(text, 'vllm:prefix_cache_hits_total') };
}

t.test('a shared prefix is reused in whole blocks, with the same output as computing it', async (t) => {
  const before = await metrics(cached);
  const stem = ids(70, 1);
  const first = await complete(cached.base, [...stem, ...ids(9, 2)]);
  t.equal(first.cachedTokens, 0, 'the first request finds nothing cached');
  // 70 shared tokens = 4 whole blocks and a partial one: the partial block is computed again.
  const second = await complete(cached.base, [...stem, ...ids(12, 3)]);
  t.equal(second.cachedTokens, 64, 'the second reuses the 4 whole blocks of the shared 70 tokens');
  sameOutput(t, second, await complete(uncached.base, [...stem, ...ids(12, 3)]), 'partial-block prefix');

  // The same prompt again: everything but the last token's block can come from cache (its logits are needed).
  const again = await complete(cached.base, [...stem, ...ids(12, 3)]);
  t.equal(again.cachedTokens, Math.floor((82 - 1) / BLOCK) * BLOCK);
  sameOutput(t, again, second, 'identical prompt');

  const after = await metrics(cached);
  t.equal(after.queries - before.queries, 79 + 82 + 82, 'queries count every admitted prompt token');
  t.equal(after.hits - before.hits, 64 + 80, 'hits count the reused tokens');
  const off = await metrics(uncached);
  t.equal(off.hits, 0, 'no hits with --no-prefix-caching');
  const offAgain = await complete(uncached.base, [...stem, ...ids(12, 3)]);
  t.equal(offAgain.cachedTokens, 0, 'cached_tokens is 0 with caching off');
});

t.test('multi-turn: the next turn reuses the previous prompt and answer', async (t) => {
  const turn1 = [...ids(40, 7)];
  const first = await complete(cached.base, turn1, { max_tokens: 40 });
  // The next turn's prompt holds turn 1's prompt and answer, re-tokenized as a client would send it
  // (exact block counting over many turns is checked on the scheduler with known ids).
  const tokenized = (await (
    await fetch(`${cached.base}/tokenize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL_ID, prompt: first.text, add_special_tokens: false }),
    })
  ).json()) as { tokens: number[] };
  const turn2 = [...turn1, ...tokenized.tokens, ...ids(10, 8)];
  const second = await complete(cached.base, turn2, { max_tokens: 8 });
  // Turn 1's KV covers its prompt and all but its last generated token (that one was sampled, never fed).
  const reference = await complete(uncached.base, turn2, { max_tokens: 8 });
  sameOutput(t, second, reference, 'turn 2');
  t.ok((second.cachedTokens ?? 0) >= 32, `turn 2 reuses at least turn 1's whole prompt blocks (${second.cachedTokens})`);
  t.equal((second.cachedTokens ?? 0) % BLOCK, 0, 'whole blocks only');
  t.ok((second.cachedTokens ?? 0) <= 40 + 40 - 1, 'never beyond what turn 1 computed');
});

t.test('a prefix that a running sequence is still extending is reused', async (t) => {
  const prompt = ids(50, 11);
  const controller = new AbortController();
  const res = await fetch(`${cached.base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, prompt, max_tokens: 400, temperature: 0, ignore_eos: true, stream: true }),
    signal: controller.signal,
  });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  await reader.read(); // its first token: its prompt is in its slot
  const follower = await complete(cached.base, [...prompt, ...ids(5, 12)]);
  t.equal(follower.cachedTokens, 48, "the follower reuses the running sequence's 3 whole prompt blocks");
  sameOutput(t, follower, await complete(uncached.base, [...prompt, ...ids(5, 12)]), 'follower');
  controller.abort();
  await reader.cancel().catch(() => undefined);
});

t.test('streamed usage and chat report cached_tokens too', async (t) => {
  const messages = [
    { role: 'system', content: 'You are a careful assistant who answers questions about wild cats in detail and with sources.' },
    { role: 'user', content: 'Where do servals live?' },
  ];
  const body = { model: MODEL_ID, messages, max_tokens: 4, temperature: 0 };
  await cached.client.chat.completions.create(body as never);
  const stream = await cached.client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } } as never);
  type Usage = { prompt_tokens: number; prompt_tokens_details?: { cached_tokens: number } };
  let usage: Usage | null = null;
  for await (const chunk of stream as unknown as AsyncIterable<{ usage?: Usage | null }>) if (chunk.usage) usage = chunk.usage;
  const prompt = usage?.prompt_tokens ?? 0;
  t.equal(usage?.prompt_tokens_details?.cached_tokens, Math.floor((prompt - 1) / BLOCK) * BLOCK, 'the repeated chat prompt is reused but for its last block');
});

t.test('echo with logprobs computes the whole prompt', async (t) => {
  const prompt = ids(40, 21);
  await complete(cached.base, prompt);
  const echoed = await complete(cached.base, prompt, { echo: true, max_tokens: 2 });
  t.equal(echoed.cachedTokens, 0, "prompt logprobs need every position's logits: nothing is taken from cache");
  const reference = await complete(uncached.base, prompt, { echo: true, max_tokens: 2 });
  t.same(echoed.tokens, reference.tokens);
  const worst = Math.max(...echoed.logprobs.slice(1).map((lp, i) => Math.abs(lp - reference.logprobs[i + 1])));
  t.ok(worst < 1e-5, `prompt and output logprobs match (max |Δ| ${worst.toExponential(2)})`);
});
