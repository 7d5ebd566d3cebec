// serval:engine_step_duration_seconds on a real server: one stream alone runs
// a prompt step then decode steps; a second request arriving while it decodes
// puts its prompt chunk into a mixed step.

import t from 'tap';
import { MODEL_ID, startRealServer } from './harness.js';
import { freshStats } from '../engine/helpers.js';

const server = await startRealServer({ maxModelLen: 512 });
t.teardown(() => server.close());

const ids = (length: number, seed: number): number[] => Array.from({ length }, (_, i) => 3 + ((i * 37 + seed * 101) % 500));
const post = (body: Record<string, unknown>): Promise<Response> =>
  fetch(`${server.base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, temperature: 0, ignore_eos: true, ...body }),
  });

/** Count and sum of one kind's series. */
async function steps(kind: string): Promise<{ count: number; sum: number }> {
  const text = await (await fetch(`${server.base}/metrics`)).text();
  const value = (series: string): number => Number(text.split('\n').find((line) => line.startsWith(`${series}{kind="${kind}"} `))?.split(' ').at(-1));
  return { count: value('serval:engine_step_duration_seconds_count'), sum: value('serval:engine_step_duration_seconds_sum') };
}

t.test('steps are timed by kind', async (t) => {
  const before = { decode: await steps('decode'), prompt: await steps('prompt'), mixed: await steps('mixed') };
  t.same(before.mixed, { count: 0, sum: 0 }, 'every kind is exported from the start');

  const streamed = await post({ prompt: ids(40, 1), max_tokens: 48, stream: true });
  t.equal(streamed.status, 200);
  const reader = (streamed.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('"text"')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  // The stream is decoding now (47 tokens to go): this prompt's chunk shares a step with its decode row.
  const second = await post({ prompt: ids(40, 2), max_tokens: 4 });
  t.equal(second.status, 200);
  await second.json();
  while (!(await reader.read()).done);

  await freshStats(server.model.engine);
  const after = { decode: await steps('decode'), prompt: await steps('prompt'), mixed: await steps('mixed') };
  t.equal(after.prompt.count - before.prompt.count, 1, "the first prompt's step (its chunk and its own next token)");
  t.equal(after.mixed.count - before.mixed.count, 1, "the second prompt's chunk beside the stream's decode row");
  // The stream's 48 tokens: 2 from its prompt step, 1 from the mixed step, one per decode-only step (which the second request's last 2 share).
  t.equal(after.decode.count - before.decode.count, 45, 'decode-only steps');
  t.ok(after.mixed.sum > before.mixed.sum && after.decode.sum > before.decode.sum, 'durations are summed');
});
