// worker_threads entry for worker-thread.test.ts: replays a token sequence
// through a grammar on this thread and sends back every step's mask.

import { parentPort, workerData } from 'node:worker_threads';
import { GrammarCompiler, GrammarMatcher, GrammarVocab } from '../../src/structured/xgrammar.js';

export interface MatcherJob {
  vocab: string[];
  vocabType: 'byte_level' | 'byte_fallback' | 'raw';
  stopTokenIds: number[];
  ebnf: string;
  root: string;
  tokens: number[];
}

export interface MatcherResult {
  masks: Int32Array[];
  accepted: boolean[];
  terminated: boolean;
}

const job = workerData as MatcherJob;
const vocab = await GrammarVocab.fromStrings(job.vocab, job.vocabType, { stopTokenIds: job.stopTokenIds });
const compiler = new GrammarCompiler(vocab);
const grammar = await compiler.compile({ ebnf: job.ebnf, root: job.root });
const matcher = new GrammarMatcher(grammar);
const masks: Int32Array[] = [];
const accepted: boolean[] = [];
for (const id of job.tokens) {
  const mask = new Int32Array(vocab.maskWords);
  matcher.fillNextTokenBitmask(mask);
  masks.push(mask);
  accepted.push(matcher.acceptToken(id));
}
const result: MatcherResult = { masks, accepted, terminated: matcher.isTerminated() };
matcher.dispose();
compiler.dispose();
parentPort!.postMessage(result);
