// `serval serve` flag values: out-of-range numbers, empty values and bad
// devices are usage errors (exit 2 with the message), never a server that
// starts on the wrong port or cannot serve a request.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseServeOptions, serveHelp, UsageError, type ServeOptions } from '../../src/cli/serve-options.js';

const parse = (argv: string[]): ServeOptions => {
  const o = parseServeOptions(argv);
  if (o === 'help') throw new Error('unexpected help');
  return o;
};

t.test('out-of-range and empty values are usage errors naming the flag', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--port', '70000'], /--port expects an integer from 0 to 65535, got '70000'/],
    [['--port', '65536'], /--port/],
    [['--port', ''], /--port expects .* got ''/],
    [['--port', '1.5'], /--port/],
    [['--workers', '0'], /--workers expects an integer of at least 1/],
    [['--workers', ''], /--workers/],
    [['--threads', '0'], /--threads/],
    [['--max-batch-size', '0'], /--max-batch-size/],
    [['--max-batch-tokens', '0'], /--max-batch-tokens/],
    [['--max-model-len', '0'], /--max-model-len/],
    [['--kv-cache-tokens', '0'], /--kv-cache-tokens/],
    [['--kv-cache-tokens', '100', '--max-model-len', '256'], /--kv-cache-tokens \(100\) must hold at least one sequence of --max-model-len \(256\)/],
    [['--max-body-bytes', '0'], /--max-body-bytes/],
    [['--max-n', '0'], /--max-n expects an integer from 1 to 128/],
    [['--max-n', '500'], /--max-n/],
    [['--pipeline-depth', '3'], /--pipeline-depth expects 1 or 2, got '3'/],
    [['--pipeline-depth', '0'], /--pipeline-depth/],
    [['--max-concurrency', '0'], /--max-concurrency/],
    [['--embedding-workers', '0'], /--embedding-workers/],
    [['--embedding-threads', '0'], /--embedding-threads/],
    [['--device', 'gpu'], /--device: expected 'cpu' or 'cuda:N/],
    [['--device', 'cuda:0,tpu'], /--device/],
    [['--scheduling-policy', 'lifo'], /--scheduling-policy must be one of fcfs, priority, got 'lifo'/],
  ];
  for (const [argv, message] of cases) {
    let thrown: unknown = null;
    try {
      parse(argv);
    } catch (error) {
      thrown = error;
    }
    t.ok(thrown instanceof UsageError, `${argv.join(' ')}: a usage error`);
    t.match((thrown as Error | null)?.message ?? '', message, `${argv.join(' ')}: ${(thrown as Error | null)?.message}`);
  }
});

t.test('the ends of each range are accepted', async (t) => {
  t.match(parse(['--port', '0']), { port: 0 });
  t.match(parse(['--port', '65535']), { port: 65535 });
  t.match(parse(['--max-n', '128', '--workers', '1', '--threads', '1']), { maxN: 128, workers: 1, threads: 1 });
  t.match(parse(['--max-queue', '0', '--embedding-batch-window-ms', '0']), { maxQueue: 0, embeddingBatchWindowMs: 0 });
  t.match(parse(['--kv-cache-tokens', '256', '--max-model-len', '256']), { kvCacheTokens: 256, maxModelLen: 256 });
  t.match(parse(['--device', 'cuda:0,cuda:1']), { device: 'cuda:0,cuda:1' });
  t.match(parse([]), { schedulingPolicy: 'fcfs' });
  t.match(parse(['--scheduling-policy', 'priority']), { schedulingPolicy: 'priority' });
});

t.test("the README's CLI block is the --help text", async (t) => {
  const readme = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'README.md'), 'utf8');
  const start = readme.indexOf('Usage: serval serve [options]');
  const block = readme.slice(start, readme.indexOf('```', start)).trimEnd();
  t.equal(block, serveHelp());
});
