// Automatic prefix caching, measured: the same workloads against Serval with
// the cache (the default) and with --no-prefix-caching, alternating the two
// servers round by round so both see the same machine load.
//
//   node dist/bench/prefix.js [--rounds 2] [--model-dir DIR] [--workers 1]
//
// (a) shared prefix: 64 completions that start with the same ~500-token
//     prefix and end with ~30 unique tokens, 32 output tokens, 8 clients.
// (b) conversations: 16 chats of 6 turns, one client each; turn k+1 sends
//     turn k's messages, its answer and a new user message.
// Streaming, greedy, fixed output length (ignore_eos). TTFT = first content
// chunk; ITL = gaps between content chunks. "Computed" prompt tokens are
// prompt_tokens − cached_tokens from each response's usage.
//
// Also times the copies themselves on the bench model's KV shape: caching a
// 512-token prefix (32 blocks out of a slot) and loading it into a fresh slot.

import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { KvSlotPool } from '../src/worker/kv-pool.js';
import { PrefixBlockStore } from '../src/worker/prefix-store.js';
import { PREFIX_BLOCK_SIZE } from '../src/worker/types.js';
import { ensureBenchModel } from './bench-model.js';
import { startServalChild, type ServalChild } from './serval-child.js';
import { fmt, makeWorkload, percentile, sum } from './workload.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    'model-dir': { type: 'string' },
    workers: { type: 'string', default: '1' },
    seed: { type: 'string', default: '5' },
  },
});

interface Outcome {
  ttftMs: number;
  itlMs: number[];
  outputTokens: number;
  promptTokens: number;
  cachedTokens: number;
  text: string;
}

interface Tally {
  wallMs: number;
  outcomes: Outcome[];
}

/** One streamed request; returns its timings, usage and text. */
async function stream(origin: string, route: 'completions' | 'chat/completions', body: Record<string, unknown>): Promise<Outcome> {
  const sent = performance.now();
  const res = await fetch(`${origin}/v1/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'bench', temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true }, ...body }),
  });
  if (res.status !== 200 || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const out: Outcome = { ttftMs: Number.NaN, itlMs: [], outputTokens: 0, promptTokens: 0, cachedTokens: 0, text: '' };
  let last = 0;
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const bytes of res.body) {
    buffer += decoder.decode(bytes, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const line = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const event = JSON.parse(line.slice(6)) as {
        choices?: { text?: string; delta?: { content?: string | null }; finish_reason?: string | null }[];
        usage?: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens: number } } | null;
      };
      if (event.usage) {
        out.promptTokens = event.usage.prompt_tokens;
        out.outputTokens = event.usage.completion_tokens;
        out.cachedTokens = event.usage.prompt_tokens_details?.cached_tokens ?? 0;
      }
      const choice = event.choices?.[0];
      const piece = choice?.text ?? choice?.delta?.content;
      if (!choice || piece === undefined || piece === null || choice.finish_reason) continue;
      const now = performance.now();
      if (Number.isNaN(out.ttftMs)) out.ttftMs = now - sent;
      else out.itlMs.push(now - last);
      last = now;
      out.text += piece;
    }
  }
  return out;
}

/** (a): `count` prompts = one shared prefix + a unique tail, through `clients` closed-loop clients. */
async function sharedPrefix(origin: string, seed: number): Promise<Tally> {
  const [prefix] = makeWorkload({ count: 1, seed, promptLen: [500, 500], outputLen: [32, 32], meanGapMs: 0, vocabSize: 32000 });
  const tails = makeWorkload({ count: 64, seed: seed + 1, promptLen: [25, 35], outputLen: [32, 32], meanGapMs: 0, vocabSize: 32000 });
  const started = performance.now();
  const outcomes: Outcome[] = [];
  let next = 0;
  const client = async (): Promise<void> => {
    while (next < tails.length) {
      const tail = tails[next++];
      outcomes.push(await stream(origin, 'completions', { prompt: [...prefix.promptIds, ...tail.promptIds], max_tokens: tail.maxTokens }));
    }
  };
  await Promise.all(Array.from({ length: 8 }, client));
  return { wallMs: performance.now() - started, outcomes };
}

/** (b): 16 conversations of 6 turns, each on its own client. */
async function conversations(origin: string, seed: number): Promise<Tally> {
  const words = (n: number, s: number): string =>
    makeWorkload({ count: 1, seed: s, promptLen: [n, n], outputLen: [1, 1], meanGapMs: 0, vocabSize: 5000 })[0].promptIds.map((id) => `w${id}`).join(' ');
  const system = `You are a helpful assistant. ${words(150, seed)}`;
  const started = performance.now();
  const outcomes: Outcome[] = [];
  await Promise.all(
    Array.from({ length: 16 }, async (_, c) => {
      const messages: { role: string; content: string }[] = [{ role: 'system', content: system }];
      for (let turn = 0; turn < 6; turn++) {
        messages.push({ role: 'user', content: words(20, seed * 1000 + c * 10 + turn) });
        const outcome = await stream(origin, 'chat/completions', { messages, max_tokens: 32 });
        messages.push({ role: 'assistant', content: outcome.text });
        outcomes.push(outcome);
      }
    }),
  );
  return { wallMs: performance.now() - started, outcomes };
}

function merge(a: Tally | undefined, b: Tally): Tally {
  return a ? { wallMs: a.wallMs + b.wallMs, outcomes: [...a.outcomes, ...b.outcomes] } : b;
}

function summary(t: Tally) {
  const ttft = t.outcomes.map((o) => o.ttftMs);
  const itl = t.outcomes.flatMap((o) => o.itlMs);
  const prompt = sum(t.outcomes.map((o) => o.promptTokens));
  const cached = sum(t.outcomes.map((o) => o.cachedTokens));
  return {
    tokPerS: (sum(t.outcomes.map((o) => o.outputTokens)) * 1000) / t.wallMs,
    ttft50: percentile(ttft, 50),
    ttft99: percentile(ttft, 99),
    itl50: percentile(itl, 50),
    itl99: percentile(itl, 99),
    computedShare: (prompt - cached) / prompt,
    prompt,
  };
}

/** Times caching and loading a 512-token prefix on the model's KV shape. */
async function copyTimes(modelDir: string): Promise<{ saveMs: number; loadMs: number; bytes: number }> {
  const config = JSON.parse(await readFile(path.join(modelDir, 'config.json'), 'utf8')) as {
    num_hidden_layers: number;
    num_key_value_heads: number;
    hidden_size: number;
    num_attention_heads: number;
    head_dim?: number;
  };
  const headDim = config.head_dim ?? config.hidden_size / config.num_attention_heads;
  const pool = new KvSlotPool({ layers: config.num_hidden_layers, kvHeads: config.num_key_value_heads, headDim, maxSlots: 2, budgetTokens: 2 * 1024 });
  pool.reserve(1024, 2);
  pool.acquire('donor');
  pool.acquire('fresh');
  const positions = 512;
  const blocks = positions / PREFIX_BLOCK_SIZE;
  const ids = Array.from({ length: blocks }, (_, i) => i);
  const store = new PrefixBlockStore(pool);
  const saves = ids.map((id) => ({ seqId: 'donor', index: id, id }));
  let saveMs = Infinity;
  let loadMs = Infinity;
  for (let rep = 0; rep < 20; rep++) {
    store.drop(ids); // fresh arrays each time, as a new block's first save
    let t0 = performance.now();
    store.save(saves);
    saveMs = Math.min(saveMs, performance.now() - t0);
    t0 = performance.now();
    store.load('fresh', ids);
    loadMs = Math.min(loadMs, performance.now() - t0);
  }
  return { saveMs, loadMs, bytes: pool.positionsFloats(positions) * 4 };
}

async function main(): Promise<void> {
  const modelDir = args['model-dir'] ?? (await ensureBenchModel());
  const load = loadavg();
  const rounds = Number(args.rounds);
  const seed = Number(args.seed);
  const flags = ['--model', modelDir, '--served-model-name', 'bench', '--workers', args.workers];
  const totals: Record<string, Tally | undefined> = {};
  for (let round = 0; round < rounds; round++) {
    // Alternate which server goes first, against drift in the machine's load.
    const order = round % 2 === 0 ? [true, false] : [false, true];
    for (const caching of order) {
      const server: ServalChild = await startServalChild(caching ? flags : [...flags, '--no-prefix-caching']);
      try {
        const label = caching ? 'on' : 'off';
        totals[`a-${label}`] = merge(totals[`a-${label}`], await sharedPrefix(server.origin, seed + round));
        totals[`b-${label}`] = merge(totals[`b-${label}`], await conversations(server.origin, seed + round));
      } finally {
        await server.stop();
      }
    }
  }
  const copy = await copyTimes(modelDir);
  console.log(`\nbench:prefix — ${rounds} round(s) per arm, load average ${load.map((l) => l.toFixed(2)).join(' ')} at start\n`);
  console.log('| workload | caching | output tok/s | TTFT p50 / p99 ms | ITL p50 / p99 ms | prompt tokens computed / sent |');
  console.log('|---|---|---|---|---|---|');
  for (const work of ['a', 'b']) {
    for (const label of ['on', 'off']) {
      const s = summary(totals[`${work}-${label}`] as Tally);
      console.log(
        `| ${work === 'a' ? '(a) shared 500-token prefix' : '(b) 16 chats × 6 turns'} | ${label} | ${fmt(s.tokPerS)} | ${fmt(s.ttft50)} / ${fmt(s.ttft99)} | ${fmt(s.itl50, 1)} / ${fmt(s.itl99, 1)} | ${s.computedShare.toFixed(2)} of ${s.prompt} |`,
      );
    }
  }
  const on = (w: string) => summary(totals[`${w}-on`] as Tally);
  const off = (w: string) => summary(totals[`${w}-off`] as Tally);
  console.log(`\n(a) TTFT p50 on/off: ${(on('a').ttft50 / off('a').ttft50).toFixed(2)}× (target ≤ 0.3); throughput on/off: ${(on('a').tokPerS / off('a').tokPerS).toFixed(2)}×`);
  console.log(`(b) prompt tokens computed / sent with caching: ${on('b').computedShare.toFixed(2)} (target ≤ 0.3); TTFT p50 on/off: ${(on('b').ttft50 / off('b').ttft50).toFixed(2)}×`);
  console.log(`copy of a 512-token prefix (${(copy.bytes / 1e6).toFixed(1)} MB of KV): cache it ${copy.saveMs.toFixed(2)} ms, load it ${copy.loadMs.toFixed(2)} ms`);
}

await main();
