// The whole engine in lock-step (the CPU default): when one step prefills
// several prompts, the first ones stream their first token while the later
// prompts still run (the device worker announces it on its samples channel),
// and nothing is sent twice.

import t from 'tap';
import { Engine } from '../../src/engine/client/engine.js';
import { resolveEngineConfig } from '../../src/engine/config.js';
import { collect, makeModelDir, makePrompts } from './helpers.js';

const model = await makeModelDir('small');
t.teardown(model.cleanup);
// Without the prefix cache, so that the long prompt alone is timed prefilling, not loading cached blocks.
const engine = await Engine.create(resolveEngineConfig({ modelDir: model.dir, maxBatchSize: 4, pipelineDepth: 1, intraOpThreads: 1, prefixCaching: false }));
t.teardown(() => engine.close());

/** Milliseconds from submission to the first token, and the whole output. */
async function timed(prompt: number[], maxTokens: number): Promise<{ firstMs: number; tokens: number[] }> {
  const started = performance.now();
  let firstMs = -1;
  const tokens: number[] = [];
  for await (const event of engine.generate(prompt, { maxTokens, ignoreEos: true, temperature: 0 })) {
    if (event.type !== 'tokens') continue;
    if (firstMs < 0) firstMs = performance.now() - started;
    tokens.push(...event.tokenIds);
  }
  return { firstMs, tokens };
}

t.test('a short prompt admitted with a long one streams before the long prefill ends', async (t) => {
  const [short, long] = makePrompts([8, 440], 0, 3000);
  const alone = await collect(engine, short, { maxTokens: 4, ignoreEos: true, temperature: 0 });
  await timed(long, 1); // warm-up: the long prompt's KV layout and ORT's buffers
  // The fastest of three: a run slowed by a busy machine must not raise the bar below.
  let longAlone = await timed(long, 1);
  for (let i = 0; i < 2; i++) {
    const again = await timed(long, 1);
    if (again.firstMs < longAlone.firstMs) longAlone = again;
  }
  // Submitted together, they share one step (460 tokens fit the 512-token budget): short first, long last.
  const [a, b] = await Promise.all([timed(short, 4), timed(long, 4)]);
  t.same(a.tokens, alone.tokens, 'the short prompt\'s tokens are its tokens alone, each sent once');
  t.equal(b.tokens.length, 4, 'the long one gets every token once');
  const gap = b.firstMs - a.firstMs;
  // Broken, the gap is about 0; on a quiet machine it is nearly the whole prefill. The announced token
  // crosses two busy threads, so a loaded machine takes some of it back.
  t.ok(gap > 0.3 * longAlone.firstMs, `short's first token came ${gap.toFixed(1)} ms before long's; long alone takes ${longAlone.firstMs.toFixed(1)} ms to its first token`);
});
