// The device worker is a worker_thread (Piscina): xgrammar must load and give
// the same masks there as on the main thread, with several threads at once.

import t from 'tap';
import '../support/thread-loaders.js';
import { Worker } from 'node:worker_threads';
import { GrammarCompiler, GrammarMatcher, GrammarVocab } from '../../src/structured/xgrammar.js';
import { jsonSchemaGrammar } from '../../src/structured/schema-grammar.js';
import { prng, randomWalk, smallVocab, STOP_IDS } from './helpers.js';
import type { MatcherJob, MatcherResult } from './matcher-worker.js';

function runWorker(job: MatcherJob): Promise<MatcherResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./matcher-worker.js', import.meta.url), { workerData: job });
    worker.once('message', (m: MatcherResult) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
    });
  });
}

t.test('matcher in worker threads gives the main thread masks', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const schema = { type: 'object', properties: { id: { type: 'integer', minimum: 1, maximum: 999 }, tags: { type: 'array', items: { type: 'string', maxLength: 4 }, maxItems: 3 } }, required: ['id', 'tags'] };
  const { ebnf, root } = await jsonSchemaGrammar(schema);
  const compiler = new GrammarCompiler(vocab);
  const grammar = await compiler.compile({ ebnf, root });
  const walk = randomWalk(grammar, prng(5), 200, 1);
  t.ok(walk.terminated, 'reference walk finished');
  const tokens = [...walk.ids, STOP_IDS[0]];

  // Main-thread reference masks, step by step.
  const matcher = new GrammarMatcher(grammar);
  const expected: Int32Array[] = [];
  for (const id of tokens) {
    const mask = new Int32Array(vocab.maskWords);
    matcher.fillNextTokenBitmask(mask);
    expected.push(mask);
    matcher.acceptToken(id);
  }
  matcher.dispose();

  const vocabStrings = GrammarVocab.vocabStrings(tokenizer, ['<tool_call>', '</tool_call>']);
  const job: MatcherJob = { vocab: vocabStrings, vocabType: tokenizer.vocabType, stopTokenIds: STOP_IDS, ebnf, root, tokens };
  // Two threads at once: each loads its own WebAssembly instance.
  const results = await Promise.all([runWorker(job), runWorker(job)]);
  for (const [i, result] of results.entries()) {
    t.ok(result.accepted.every(Boolean), `worker ${i}: every token accepted`);
    t.ok(result.terminated, `worker ${i}: terminated on the stop token`);
    t.equal(result.masks.length, expected.length);
    const same = result.masks.every((m, step) => m.length === expected[step].length && m.every((w, j) => w === expected[step][j]));
    t.ok(same, `worker ${i}: all ${expected.length} masks equal the main thread's`);
  }
  compiler.dispose();
});
