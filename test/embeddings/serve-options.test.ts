// Which models `serval serve` loads for which flags, and the embedding flags' parsing.

import t from 'tap';
import { embeddingModelDir, needsDefaultModels } from '../../src/cli/serve-embeddings.js';
import { parseServeOptions, serveHelp, type ServeOptions } from '../../src/cli/serve-options.js';

const defaults = { chatModelDir: '/cache/chat', embedModelDir: '/cache/embed' };
const parse = (argv: string[]): ServeOptions => {
  const o = parseServeOptions(argv);
  if (o === 'help') throw new Error('unexpected help');
  return o;
};

t.test('which encoder folder is served', async (t) => {
  const cases: Array<[string[], string | null, boolean]> = [
    [[], '/cache/embed', true],
    [['--model', '/m/llama'], null, false],
    [['--model', 'none'], '/cache/embed', true],
    [['--model', '/m/llama', '--embedding-model', '/m/minilm'], '/m/minilm', false],
    [['--embedding-model', '/m/minilm'], '/m/minilm', true],
    [['--embedding-model', 'none'], null, true],
    [['--model', 'none', '--embedding-model', '/m/minilm'], '/m/minilm', false],
  ];
  for (const [argv, dir, needsDefaults] of cases) {
    const o = parse(argv);
    t.equal(embeddingModelDir(o, needsDefaultModels(o) ? defaults : null), dir, `${argv.join(' ') || '(no flags)'} → ${dir}`);
    t.equal(needsDefaultModels(o), needsDefaults, `${argv.join(' ') || '(no flags)'}: default models ${needsDefaults ? '' : 'not '}needed`);
  }
});

t.test('embedding flags', async (t) => {
  const o = parse([
    '--embedding-model-name', 'acme/e5',
    '--embedding-workers', '2',
    '--embedding-threads', '1',
    '--embedding-batch-window-ms', '0',
    '--embedding-max-batch', '16',
    '--embedding-max-batch-tokens', '4096',
  ]);
  t.match(o, { embeddingModelName: 'acme/e5', embeddingWorkers: 2, embeddingThreads: 1, embeddingBatchWindowMs: 0, embeddingMaxBatch: 16, embeddingMaxBatchTokens: 4096 });
  const d = parse([]);
  t.match(d, { embeddingModelName: null, embeddingWorkers: 1, embeddingThreads: null, embeddingBatchWindowMs: 2, embeddingMaxBatch: 64, embeddingMaxBatchTokens: 8192 });
  t.throws(() => parse(['--embedding-max-batch', '0']), /--embedding-max-batch expects an integer of at least 1/);
  t.throws(() => parse(['--embedding-workers', '0']), /--embedding-workers expects an integer of at least 1/);
  t.throws(() => parse(['--model', 'none', '--embedding-model', 'none']), /nothing to serve/);
  for (const flag of ['--embedding-model-name', '--embedding-batch-window-ms', '--embedding-max-batch-tokens']) t.match(serveHelp(), flag);
});

t.test('rerank flags', async (t) => {
  t.match(parse(['--rerank-model', '/m/bge-reranker', '--rerank-model-name', 'reranker']), { rerankModel: '/m/bge-reranker', rerankModelName: 'reranker' });
  t.match(parse([]), { rerankModel: null, rerankModelName: null });
  t.match(parse(['--model', 'none', '--embedding-model', 'none', '--rerank-model', '/m/r']), { rerankModel: '/m/r' }, 'a reranker alone is something to serve');
  for (const flag of ['--rerank-model', '--rerank-model-name']) t.match(serveHelp(), flag);
});
