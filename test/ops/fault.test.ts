// Fault recovery against a real server with two device workers: a device
// worker killed mid-batch fails only its own requests (streams get an error
// event, then [DONE]), the other worker's requests (n > 1 ones too: their
// choices share a worker) complete untouched, and
// the restarted worker reloads the model and serves correct output again.
// A dead scheduler actor fails every request cleanly and is reported once.
// The workers are pipelined, so a failed step always has the next one queued behind it.

import t, { type Test } from 'tap';
import { startRealServer } from '../e2e/harness.js';
import { freshStats } from '../engine/helpers.js';
import { completionBody, post, sleep, streamCompletion, type SseResult } from './helpers.js';

process.env.SERVAL_TEST_HOOKS = '1';

const LONG = 300;
/** Tokens per stream in the crash test: long enough that the last stream started is still generating when its worker crashes. */
const CRASH_LONG = 1000;

async function greedyText(base: string, prompt: string): Promise<string> {
  const res = await post(base, '/v1/completions', completionBody({ prompt, max_tokens: 12, ignore_eos: true }));
  const body = (await res.json()) as { choices: Array<{ text: string }> };
  if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(body)}`);
  return body.choices[0].text;
}

// One two-worker server for the device-fault tests (each server start is costly under tap). The small
// preset's steps (~2 ms) keep a 1,000-token stream going for seconds, however fast the machine.
const served = await startRealServer({ workers: 2, intraOpThreads: 1, testHooks: true, pipelineDepth: 2 }, 'small');
t.teardown(() => served.close());
const prompts = ['The serval is a wild cat', 'Once upon a time', 'In a quiet village', 'A long road'];
const before = await Promise.all(prompts.map((p) => greedyText(served.base, p)));

/** Waits until the engine reports `failures` device failures and no worker still recovering (reloading). */
async function recovered(t: Test, failures: number): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    const stats = served.model.engine.stats();
    if ((stats?.deviceFailures ?? 0) >= failures && stats?.recoveringWorkers?.length === 0) return;
    await sleep(10);
  }
  t.fail(`worker not recovered: ${JSON.stringify(served.model.engine.stats())}`);
}

/** Greedy output of every prompt, twice, concurrently (both workers busy) equals the output before any fault. */
async function stillCorrect(t: Test): Promise<void> {
  const after = await Promise.all([...prompts, ...prompts].map((p) => greedyText(served.base, p)));
  t.same(after, [...before, ...before], 'greedy output equals the output before the fault');
  const health = await fetch(`${served.base}/health`);
  t.equal(health.status, 200);
}

/** Per-worker "holds running sequences", from a stats snapshot taken from now on. */
async function busyWorkers(): Promise<boolean[]> {
  return (await freshStats(served.model.engine)).kvUsage.map((u) => u > 0);
}

t.test('a device worker crash fails only its requests; the worker comes back', async (t) => {
  // Even streams ask for n = 2: both choices run on one worker (same prompt), so a crash elsewhere
  // leaves the whole request intact. Streams start one after another (each once its first token
  // arrived). While only one worker is busy, every stream so far is on it; the stream that makes
  // the other busy is alone there. That tells each stream's worker, however the load skews placement.
  // The lone stream's worker is crashed: its stream started last, a fresh snapshot (≤ 200 ms) ago, so
  // it is still generating (1,000 steps of ~2 ms), and stream 0 (n = 2) survives on the other worker.
  const choicesOf = (i: number): number => (i % 2 === 0 ? 2 : 1);
  const results: Promise<SseResult>[] = [];
  let first = -1;
  let lone = -1;
  for (let i = 0; i < 16 && lone < 0; i++) {
    let startedOne!: () => void;
    const started = new Promise<void>((resolve) => (startedOne = resolve));
    const body = { prompt: `${prompts[i % prompts.length]} ${i}`, max_tokens: CRASH_LONG, n: choicesOf(i), ignore_eos: true, stream_options: { include_usage: true } };
    results.push(streamCompletion(served.base, body, () => startedOne()));
    await started;
    const busy = await busyWorkers();
    if (first < 0) first = busy.indexOf(true);
    else if (busy.filter(Boolean).length === 2) lone = i;
  }
  t.ok(first >= 0 && lone > 0, `streams 0–${lone - 1} run on worker ${first}, stream ${lone} alone on the other`);
  const crashed = 1 - first;
  served.model.engine.injectFault('device', crashed, 'crash');
  const settled: SseResult[] = await Promise.all(results);

  settled.forEach((r, i) => {
    const usage = r.frames.at(-1)?.usage as { completion_tokens: number } | undefined;
    if (i === lone) {
      t.not(r.error, null, `request ${i} (on the crashed worker) failed`);
      t.equal(r.status, 200, 'the stream had started');
      t.equal(r.done, true, 'an errored stream still ends with [DONE]');
      t.equal(r.error?.type, 'internal_error');
      t.match(r.error?.message ?? '', new RegExp(`device worker ${crashed} failed`));
      t.equal(r.finishReason, null, 'no finish_reason on a failed choice');
    } else {
      t.equal(r.error, null, `request ${i} (n = ${choicesOf(i)}, on the other worker) completed`);
      t.equal(r.finishReason, 'length');
      t.equal(r.done, true);
      t.equal(usage?.completion_tokens, CRASH_LONG * choicesOf(i), `request ${i}: the other worker generated every token of its ${choicesOf(i)} choice(s)`);
    }
  });
  t.equal(settled[0].error, null, 'an n = 2 request on the surviving worker completed (its choices were not split across workers)');
  // The restarted thread must have reloaded the model: same greedy text as before the crash.
  await recovered(t, 1);
  t.pass('the engine reports the crashed worker reloaded');
  await sleep(250); // the next stats snapshot reaches the counter
  const scrape = await (await fetch(`${served.base}/metrics`)).text();
  t.match(scrape, /^serval:device_failures_total 1$/m, 'the failure is counted');
  await stillCorrect(t);
});

t.test('a thrown device step fails its requests cleanly (non-streamed: 500 JSON error)', async (t) => {
  const pending = Array.from({ length: 6 }, (_, i) => post(served.base, '/v1/completions', completionBody({ prompt: `${prompts[i % 4]} ${i}`, max_tokens: LONG, ignore_eos: true })));
  const submitted = Date.now();
  let busy: boolean[] = [];
  for (let i = 0; i < 400; i++) {
    const stats = served.model.engine.stats();
    busy = stats?.kvUsage.map((u) => u > 0) ?? [];
    if (stats !== null && stats.time > submitted && stats.running >= 6) break;
    await sleep(5);
  }
  t.same(busy, [true, true], 'requests arriving together are placed on both workers');
  // A worker that holds requests (were it idle, the fault would wait for a later test's step).
  served.model.engine.injectFault('device', Math.max(0, busy.indexOf(true)), 'throw');
  const answers = await Promise.all(pending.map(async (p) => {
    const res = await p;
    return { status: res.status, body: (await res.json()) as { error?: { type: string; message: string }; usage?: { completion_tokens: number } } };
  }));
  const failed = answers.filter((a) => a.status !== 200);
  t.ok(failed.length >= 1, `some requests were on the failing worker (${failed.length})`);
  t.ok(failed.length < answers.length, 'the others completed');
  for (const a of failed) {
    t.equal(a.status, 500);
    t.equal(a.body.error?.type, 'internal_error');
    t.match(a.body.error?.message ?? '', /test fault: device worker threw/);
  }
  for (const a of answers.filter((x) => x.status === 200)) t.equal(a.body.usage?.completion_tokens, LONG);
  await recovered(t, 2);
  await stillCorrect(t);
});

t.test('fault injection is refused without SERVAL_TEST_HOOKS=1', async (t) => {
  process.env.SERVAL_TEST_HOOKS = '0';
  t.teardown(() => (process.env.SERVAL_TEST_HOOKS = '1'));
  t.throws(() => served.model.engine.injectFault('device', 0, 'crash'), /SERVAL_TEST_HOOKS/);
  t.ok((await greedyText(served.base, 'Once upon a time')).length > 0);
});

t.test('scheduler actor death: requests fail cleanly, death is reported once', async (t) => {
  const served = await startRealServer({ workers: 1, intraOpThreads: 1, testHooks: true });
  t.teardown(() => served.close());
  const deaths: Error[] = [];
  served.model.engine.onActorDeath((error) => deaths.push(error));
  let first!: () => void;
  const firstChunk = new Promise<void>((resolve) => (first = resolve));
  const stream = streamCompletion(served.base, { max_tokens: LONG, ignore_eos: true }, () => first());
  await firstChunk;
  served.model.engine.injectFault('actor');
  const r = await stream;
  t.equal(r.done, true, 'the stream ends with [DONE]');
  t.equal(r.error?.type, 'internal_error', 'after an error event');
  for (let i = 0; i < 100 && deaths.length === 0; i++) await sleep(10);
  t.equal(deaths.length, 1, 'onActorDeath fired once');
  t.match(deaths[0]?.message ?? '', /scheduler actor exited with code 70/);
  const after = await post(served.base, '/v1/completions', completionBody());
  t.equal(after.status, 500, 'later requests fail at once instead of hanging');
  t.equal(((await after.json()) as { error: { type: string } }).error.type, 'internal_error');
});

