// Constrained vs unconstrained generation at batch 32 on the bench preset,
// through the engine's library API, in one run (npm run bench:structured).
//
// Both workloads generate max_tokens per request: the free-text one with
// ignore_eos, the constrained one under a schema (an array of 400 small
// integers) too long to complete within max_tokens.

import { Engine } from '../src/engine/client/engine.js';
import { resolveEngineConfig } from '../src/engine/config.js';
import type { Grammar } from '../src/structured/grammar.js';
import { jsonSchemaGrammar } from '../src/structured/schema-grammar.js';
import { ensureBenchModel } from './bench-model.js';

const BATCH = 32;
const TOKENS = 96;
const ROUNDS = 3;

async function round(engine: Engine, grammar: Grammar | null): Promise<{ tokens: number; seconds: number }> {
  const started = performance.now();
  const runs = Array.from({ length: BATCH }, async (_, i) => {
    let tokens = 0;
    const prompt = Array.from({ length: 32 }, (_, j) => 300 + ((i * 31 + j * 7) % 5000));
    for await (const event of engine.generate(prompt, { maxTokens: TOKENS, ignoreEos: grammar === null, temperature: 1, seed: i, grammar })) {
      if (event.type === 'tokens') tokens += event.tokenIds.length;
    }
    return tokens;
  });
  const tokens = (await Promise.all(runs)).reduce((a, b) => a + b, 0);
  return { tokens, seconds: (performance.now() - started) / 1000 };
}

const modelDir = await ensureBenchModel();
const engine = await Engine.create(resolveEngineConfig({ modelDir, maxBatchSize: BATCH, maxBatchTokens: 1024 }));
const grammar = await jsonSchemaGrammar({ type: 'array', items: { type: 'integer', minimum: 0, maximum: 99 }, minItems: 400, maxItems: 400 });
await round(engine, grammar); // warm-up: grammar compile, ORT first runs
const totals = { free: { tokens: 0, seconds: 0 }, constrained: { tokens: 0, seconds: 0 } };
for (let r = 0; r < ROUNDS; r++) {
  // Alternate so drift on a noisy machine hits both sides alike.
  for (const [name, g] of [['free', null], ['constrained', grammar]] as const) {
    const result = await round(engine, g);
    totals[name].tokens += result.tokens;
    totals[name].seconds += result.seconds;
  }
}
await engine.close();
const free = totals.free.tokens / totals.free.seconds;
const constrained = totals.constrained.tokens / totals.constrained.seconds;
console.log(`| workload (batch ${BATCH}, ${TOKENS} tokens each, ${ROUNDS} rounds) | generated tok/s |`);
console.log('|---|---|');
console.log(`| unconstrained | ${free.toFixed(0)} |`);
console.log(`| json_schema (array of 400 integers) | ${constrained.toFixed(0)} |`);
console.log(`\nconstrained / unconstrained = ${(constrained / free).toFixed(2)} (target ≥ 0.8)`);
