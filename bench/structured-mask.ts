// Cost of constrained decoding on the grammar side, on the bench preset's
// 32,000-token byte-level vocabulary (and Llama 2's SentencePiece one when
// ../shared is present): vocabulary setup, compilation, matcher creation and
// memory, and the per-step mask for 32 sequences, as the device worker would
// compute it while a batch-32 forward pass runs.
// Run: npx tsc -p . && node --expose-gc dist/bench/structured-mask.js

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDecoderTokenizerJson } from '../src/model/testmodels/tokenizer-files.js';
import { DECODER_PRESETS } from '../src/model/testmodels/presets.js';
import { TextTokenizer } from '../src/tokenizer/tokenizer.js';
import { GrammarCompiler, GrammarMatcher, GrammarVocab, maskAllows, type CompiledGrammar } from '../src/structured/xgrammar.js';
import { jsonObjectGrammar, jsonSchemaGrammar } from '../src/structured/schema-grammar.js';
import type { ToolDefinition } from '../src/protocol/requests.js';
import { toolCallGrammar } from '../src/structured/tool-call-grammar.js';
import type { Grammar } from '../src/structured/grammar.js';
import { mulberry32 as rng } from '../test/support/random.js';

const BATCH = 32;
const STEPS = 200;
const here = path.dirname(fileURLToPath(import.meta.url));
const shared = path.resolve(here, '..', '..', '..', 'shared');


function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

const SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 24 },
    age: { type: 'integer', minimum: 0, maximum: 130 },
    email: { type: ['string', 'null'], maxLength: 40 },
    tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, maxItems: 4 },
    score: { type: 'number', minimum: 0, maximum: 10 },
    when: { type: 'string', format: 'date' },
  },
  required: ['name', 'age', 'email', 'tags', 'score', 'when'],
  additionalProperties: false,
};
const BLOG = {
  type: 'object',
  properties: {
    title: { type: 'string' },
    content: { type: 'string' },
    author: { type: 'object', properties: { username: { type: 'string' }, age: { type: 'integer' }, interests: { type: 'array', items: { type: 'string' } } } },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['title', 'content', 'author'],
  additionalProperties: false,
};
const TOOLS: ToolDefinition[] = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 30 } }, required: ['city'] } } },
  { type: 'function', function: { name: 'set_alarm', parameters: { type: 'object', properties: { hour: { type: 'integer', minimum: 0, maximum: 23 } }, required: ['hour'] } } },
];

async function benchVocab(label: string, tokenizer: TextTokenizer, stopTokenIds: number[], markers: string[]): Promise<void> {
  console.log(`\n== ${label}: ${tokenizer.vocabSize} tokens, ${tokenizer.vocabType}`);
  gc();
  const rss0 = process.memoryUsage().rss;
  let t0 = performance.now();
  const vocab = await GrammarVocab.fromTokenizer(tokenizer, { stopTokenIds, textSpecialTokens: markers });
  console.log(`GrammarVocab (once per model and thread): ${(performance.now() - t0).toFixed(0)} ms, rss +${mb(process.memoryUsage().rss - rss0)} MB (includes loading the WebAssembly module if first)`);
  const compiler = new GrammarCompiler(vocab);

  const specs: [string, () => Promise<Grammar>][] = [
    ['json_object', async () => await jsonObjectGrammar()],
    ['json_schema (6 fields)', async () => await jsonSchemaGrammar(SCHEMA)],
    ['json_schema, unbounded strings (ogenai blog-like)', async () => await jsonSchemaGrammar(BLOG)],
    ['tools required (hermes, 2 tools)', () => toolCallGrammar(TOOLS, 'hermes')],
  ];
  for (const [name, make] of specs) {
    t0 = performance.now();
    const spec = await make();
    const t1 = performance.now();
    const grammar = await compiler.compile(spec);
    const t2 = performance.now();
    await compiler.compile(spec);
    const t3 = performance.now();
    console.log(`\n-- ${name}: schema→EBNF ${(t1 - t0).toFixed(1)} ms, compile ${(t2 - t1).toFixed(0)} ms, cached ${(t3 - t2).toFixed(3)} ms`);
    stepBatch(grammar, vocab);
  }

  // Matcher footprint: many live matchers on one grammar.
  const grammar = await compiler.compile(await jsonSchemaGrammar(SCHEMA));
  gc();
  const before = process.memoryUsage().rss;
  t0 = performance.now();
  const many: GrammarMatcher[] = [];
  for (let i = 0; i < 1000; i++) many.push(new GrammarMatcher(grammar));
  const created = performance.now() - t0;
  const mask = new Int32Array(vocab.maskWords);
  for (const m of many) m.fillNextTokenBitmask(mask);
  gc();
  console.log(`\n1000 matchers: create ${(created / 1000).toFixed(3)} ms each, rss +${mb(process.memoryUsage().rss - before)} MB after one mask each`);
  for (const m of many) m.dispose();
  compiler.dispose();
  vocab.dispose();
}

/** 32 sequences, each step: fill 32 masks (timed), then sample a random allowed token per row. */
function stepBatch(grammar: CompiledGrammar, vocab: GrammarVocab): void {
  const rand = rng(7);
  let matchers = Array.from({ length: BATCH }, () => new GrammarMatcher(grammar));
  const masks = Array.from({ length: BATCH }, () => new Int32Array(vocab.maskWords));
  const perStep: number[] = [];
  const perRow: number[] = [];
  let acceptTime = 0;
  let accepts = 0;
  let finished = 0;
  for (let step = 0; step < STEPS; step++) {
    const t0 = performance.now();
    for (let r = 0; r < BATCH; r++) {
      const s = performance.now();
      matchers[r].fillNextTokenBitmask(masks[r]);
      perRow.push(performance.now() - s);
    }
    perStep.push(performance.now() - t0);
    for (let r = 0; r < BATCH; r++) {
      const allowed: number[] = [];
      for (let id = 0; id < vocab.vocabSize; id++) if (maskAllows(masks[r], id)) allowed.push(id);
      const stop = allowed.find((id) => vocab.stopTokenIds.includes(id));
      const id = stop !== undefined && rand() < 0.5 ? stop : allowed[Math.floor(rand() * allowed.length)];
      const s = performance.now();
      matchers[r].acceptToken(id);
      acceptTime += performance.now() - s;
      accepts++;
      if (matchers[r].isTerminated()) {
        finished++;
        matchers[r].dispose();
        matchers[r] = new GrammarMatcher(grammar);
      }
    }
  }
  for (const m of matchers) m.dispose();
  perStep.sort((a, b) => a - b);
  perRow.sort((a, b) => a - b);
  const mean = perStep.reduce((a, b) => a + b, 0) / perStep.length;
  console.log(
    `mask for ${BATCH} rows per step: mean ${mean.toFixed(2)} ms, p50 ${percentile(perStep, 0.5).toFixed(2)}, p99 ${percentile(perStep, 0.99).toFixed(2)} ms; ` +
      `per row p50 ${(percentile(perRow, 0.5) * 1000).toFixed(0)} µs, p99 ${(percentile(perRow, 0.99) * 1000).toFixed(0)} µs, max ${(perRow[perRow.length - 1] * 1000).toFixed(0)} µs; ` +
      `acceptToken ${((acceptTime / accepts) * 1000).toFixed(1)} µs; ${finished} outputs finished in ${STEPS} steps`,
  );
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'serval-bench-structured-'));
try {
  const file = path.join(dir, 'tokenizer.json');
  writeFileSync(file, JSON.stringify(buildDecoderTokenizerJson(DECODER_PRESETS.bench.vocabSize)));
  const bench = await TextTokenizer.fromFiles({ tokenizerJsonPath: file });
  await benchVocab('bench preset', bench, DECODER_PRESETS.bench.eosTokenIds, ['<tool_call>', '</tool_call>']);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const llama2 = path.join(shared, 'models', 'tokenizers', 'llama2', 'tokenizer.json');
if (existsSync(llama2)) {
  const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath: llama2 });
  await benchVocab('llama2 tokenizer', tokenizer, [tokenizer.eosTokenId ?? 2], []);
} else {
  console.log(`\n(skipping llama2: ${llama2} absent)`);
}
