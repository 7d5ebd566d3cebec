import t from 'tap';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { SchedulerProtocolError } from '../../src/scheduler/errors.js';
import type { SchedulerConfigInput, StepPlan } from '../../src/scheduler/types.js';
import { PENDING_TOKEN } from '../../src/worker/types.js';
import { drive, FakeWorkers, hashModel, range, referenceStream, type FakeModel } from './harness.js';

const VOCAB = 1000;

function setup(cfg: Partial<SchedulerConfigInput> & { kvBudgetTokensPerWorker?: number }, model: FakeModel = hashModel(VOCAB)) {
  const sched = new Scheduler({
    workers: 1,
    maxSlotsPerWorker: 4,
    maxBatchTokens: 64,
    maxModelLen: 256,
    capacityGranule: 16,
    ...cfg,
  });
  const c = sched.config;
  const fake = new FakeWorkers(c.workers, c, model);
  return { sched, fake, model };
}

/** The sequences with rows in a plan, in row order, each once (a chunk's follow-on row is its second). */
function sequencesOf(plan: StepPlan): string[] {
  return [...new Set(plan.rows.map((r) => r.seqId))];
}

function sequencesIn(plan: StepPlan): number {
  return sequencesOf(plan).length;
}

/** Run one lock-step step by hand. */
function step(sched: Scheduler, fake: FakeWorkers): { plans: StepPlan[]; outs: ReturnType<Scheduler['postprocess']>[] } {
  const plans = sched.schedule();
  const outs = plans.map((p) => sched.postprocess(p, fake.run(p)));
  return { plans, outs };
}

t.test('add() validates max_tokens, refuses prompts the caller should have refused, and clips maxTokens', async (t) => {
  const { sched } = setup({ maxModelLen: 32 });
  // Prompt length is the engine client's check (Engine.checkPrompt names the request's parameter); here it is a caller bug.
  t.throws(() => sched.add({ id: 'e', promptTokenIds: [], maxTokens: 4 }), SchedulerProtocolError);
  t.throws(() => sched.add({ id: 'long', promptTokenIds: range(32), maxTokens: 1 }), SchedulerProtocolError, '32-token prompt with maxModelLen 32');
  t.throws(() => sched.add({ id: 'z', promptTokenIds: [1], maxTokens: 0 }), { code: 'invalid_max_tokens', status: 400, type: 'invalid_request_error', param: 'max_tokens' });
  const edge = sched.add({ id: 'edge', promptTokenIds: range(31), maxTokens: 100 });
  t.equal(edge.maxTokens, 1, 'prompt 31 of 32 leaves one token');
  t.equal(edge.requestedMaxTokens, 100);
  const small = sched.add({ id: 'small', promptTokenIds: range(10), maxTokens: 5 });
  t.equal(small.maxTokens, 5, 'no clipping when it fits');
  t.throws(() => sched.add({ id: 'small', promptTokenIds: [1], maxTokens: 1 }), SchedulerProtocolError);
  t.equal(sched.numWaiting, 2, 'rejected requests are not queued');
});

t.test('FCFS admission: later requests never overtake the head', async (t) => {
  const { sched, fake } = setup({ maxSlotsPerWorker: 2, maxBatchTokens: 8 });
  // a and b occupy both slots; c and d wait. a finishes first (maxTokens 1).
  sched.add({ id: 'a', promptTokenIds: [1, 2], maxTokens: 1 });
  sched.add({ id: 'b', promptTokenIds: [3, 4], maxTokens: 6 });
  sched.add({ id: 'c', promptTokenIds: [5, 6], maxTokens: 2 });
  sched.add({ id: 'd', promptTokenIds: [7], maxTokens: 2 });
  const admitted: string[] = [];
  drive(sched, fake, {
    afterPlan: (p) => {
      for (const r of p.rows) if (r.slotAction === 'new') admitted.push(r.seqId);
      t.ok(sequencesIn(p) <= 2, 'sequences in a step within maxSlots');
    },
  });
  t.same(admitted, ['a', 'b', 'c', 'd']);
});

t.test('every step: decode rows ≤ maxSlots and tokens ≤ maxBatchTokens, on every worker', async (t) => {
  const { sched, fake } = setup({ workers: 2, maxSlotsPerWorker: 3, maxBatchTokens: 5, maxModelLen: 64 });
  for (let i = 0; i < 20; i++) sched.add({ id: `s${i}`, promptTokenIds: range(1 + ((i * 5) % 17)), maxTokens: 1 + ((i * 3) % 11) });
  let maxRows = 0;
  let maxTokens = 0;
  let violations = 0;
  const r = drive(sched, fake, {
    afterPlan: (p) => {
      const tokens = p.rows.reduce((n, x) => n + x.tokens.length, 0);
      if (sequencesIn(p) > 3 || tokens > 5) violations++;
      maxRows = Math.max(maxRows, sequencesIn(p));
      maxTokens = Math.max(maxTokens, tokens);
    },
  });
  t.equal(violations, 0);
  t.equal(maxRows, 3, 'batches do fill up to maxSlots');
  t.equal(maxTokens, 5, 'steps do fill up to maxBatchTokens');
  t.equal(r.reasons.size, 20, 'all 20 finished');
});

t.test('a big head is not overtaken by small requests that would fit', async (t) => {
  // Budget 64 positions, granule 16: big (prompt 40) cannot join while the two
  // small ones are active; small2 must still wait behind it.
  const { sched, fake } = setup({ maxSlotsPerWorker: 3, maxBatchTokens: 64, kvBudgetTokensPerWorker: 64, maxModelLen: 64 });
  sched.add({ id: 's0', promptTokenIds: [1, 2], maxTokens: 3 });
  sched.add({ id: 's1', promptTokenIds: [3, 4], maxTokens: 3 });
  sched.add({ id: 'big', promptTokenIds: range(40), maxTokens: 2 });
  sched.add({ id: 'small2', promptTokenIds: [9], maxTokens: 1 });
  const admitted: string[] = [];
  const r = drive(sched, fake, { afterPlan: (p) => p.rows.forEach((x) => x.slotAction === 'new' && admitted.push(x.seqId)) });
  t.same(admitted, ['s0', 's1', 'big', 'small2']);
  t.equal(r.reasons.size, 4);
});

t.test('chunked prefill: a long prompt is split under maxBatchTokens and only the last chunk samples', async (t) => {
  const { sched, fake } = setup({ maxBatchTokens: 16, maxModelLen: 256 });
  const prompt = range(100, 500);
  sched.add({ id: 'long', promptTokenIds: prompt, maxTokens: 3 });
  const rows: { start: number; n: number; sample: boolean; action: string }[] = [];
  const r = drive(sched, fake, {
    afterPlan: (p) => p.rows.forEach((x) => rows.push({ start: x.startPos, n: x.tokens.length, sample: x.sample, action: x.slotAction })),
  });
  // 100 prompt tokens in 16-token chunks: 6 × 16 + 4; then 2 decode steps (3 tokens total).
  t.same(
    rows.map((x) => x.n),
    [16, 16, 16, 16, 16, 16, 4, 1, 1],
  );
  t.same(
    rows.map((x) => x.start),
    [0, 16, 32, 48, 64, 80, 96, 100, 101],
  );
  t.same(
    rows.map((x) => x.sample),
    [false, false, false, false, false, false, true, true, true],
  );
  t.equal(rows[0].action, 'new');
  t.ok(rows.slice(1).every((x) => x.action === 'continue'));
  t.same(fake.slots[0].size, 0, 'slot released at the end');
  const ref = referenceStream('long', { promptTokenIds: prompt, maxTokens: 3 }, hashModel(VOCAB), 256);
  t.same(r.streams.get('long'), ref.tokens);
});

t.test("a prompt's sampling chunk is followed by a decode row fed its token, when its budget, length and KV allow", async (t) => {
  const { sched, fake } = setup({ maxBatchTokens: 16, maxModelLen: 64 });
  sched.add({ id: 'a', promptTokenIds: range(5), maxTokens: 3 });
  sched.add({ id: 'one', promptTokenIds: range(6, 10), maxTokens: 1 }); // its first token is its last
  sched.add({ id: 'single', promptTokenIds: [42], maxTokens: 3 }); // a one-token chunk joins the decode call itself
  sched.add({ id: 'full', promptTokenIds: range(4, 20), maxTokens: 3 }); // the step's last 3 tokens, then a one-token chunk
  const { plans, outs } = step(sched, fake);
  t.same(
    plans[0].rows.map((r) => [r.seqId, r.tokens.length, r.startPos, r.sample, r.slotAction]),
    [
      ['a', 5, 0, true, 'new'],
      ['a', 1, 5, true, 'continue'],
      ['one', 6, 0, true, 'new'],
      ['single', 1, 0, true, 'new'],
      ['full', 3, 0, false, 'new'],
    ],
  );
  t.same(plans[0].rows[1].tokens, [PENDING_TOKEN]);
  t.ok(plans[0].capacity >= 6, "the KV capacity holds the follow-on row's position");
  const ref = referenceStream('a', { promptTokenIds: range(5), maxTokens: 3 }, hashModel(VOCAB), 64).tokens;
  t.same(
    outs[0].tokens.filter((s) => s.seqId === 'a').map((s) => s.token),
    ref.slice(0, 2),
    "a's first two tokens come from one step, the second fed the first",
  );
  const next = step(sched, fake).plans[0];
  t.same(next.rows.find((r) => r.seqId === 'a'), { seqId: 'a', tokens: [ref[1]], startPos: 6, slotAction: 'continue', sample: true }, 'lock-step: the next row feeds the known token');
  t.same(
    next.rows.filter((r) => r.seqId === 'full').map((r) => [r.tokens.length, r.sample]),
    [[1, true]],
    'a last chunk of one token has no follow-on row',
  );
});

t.test('a step mixes every decode row with prefill chunks filling the rest of the token budget', async (t) => {
  const { sched, fake } = setup({ maxBatchTokens: 10, maxSlotsPerWorker: 4 });
  sched.add({ id: 'd0', promptTokenIds: [1], maxTokens: 50 });
  sched.add({ id: 'd1', promptTokenIds: [2], maxTokens: 50 });
  step(sched, fake); // both prefilled (one token each), both sampled
  sched.add({ id: 'long', promptTokenIds: range(40), maxTokens: 1 });
  const { plans } = step(sched, fake);
  t.equal(plans.length, 1);
  const p = plans[0];
  t.same(p.rows.map((r) => [r.seqId, r.tokens.length, r.sample]), [
    ['d0', 1, true],
    ['d1', 1, true],
    ['long', 8, false],
  ]);
  t.equal(p.numTokens, 10);
  const next = step(sched, fake).plans[0];
  t.same(next.rows.map((r) => [r.seqId, r.startPos, r.tokens.length]), [
    ['d0', 2, 1],
    ['d1', 2, 1],
    ['long', 8, 8],
  ]);
});

t.test('least-loaded placement across 2 workers', async (t) => {
  const { sched, fake } = setup({ workers: 2, maxSlotsPerWorker: 4, maxBatchTokens: 32 });
  // w0 gets a, c; w1 gets b, d (alternating as loads equalise).
  sched.add({ id: 'a', promptTokenIds: [1], maxTokens: 1 });
  sched.add({ id: 'b', promptTokenIds: [2], maxTokens: 20 });
  sched.add({ id: 'c', promptTokenIds: [3], maxTokens: 20 });
  sched.add({ id: 'd', promptTokenIds: [4], maxTokens: 20 });
  const first = step(sched, fake);
  const placed = new Map<string, number>();
  for (const p of first.plans) for (const r of p.rows) placed.set(r.seqId, p.worker);
  t.same(Object.fromEntries(placed), { a: 0, b: 1, c: 0, d: 1 });
  t.same(first.outs.flatMap((o) => o.finished.map((f) => f.seqId)), ['a'], 'a finished after 1 token');
  // Now w0 holds 1 (c), w1 holds 2 (b, d): the next two both go to w0 (the second on a tie breaks to the lower index).
  sched.add({ id: 'e', promptTokenIds: [5], maxTokens: 20 });
  sched.add({ id: 'f', promptTokenIds: [6], maxTokens: 20 });
  const second = step(sched, fake);
  const p0 = second.plans.find((p) => p.worker === 0);
  t.ok(p0);
  t.same(p0!.freed, ['a'], 'the finished sequence is released first');
  const news = second.plans.flatMap((p) => p.rows.filter((r) => r.slotAction === 'new').map((r) => [r.seqId, p.worker]));
  t.same(news, [
    ['e', 0],
    ['f', 0],
  ]);
  t.same(
    sched.usage().map((u) => u.activeSlots),
    [3, 2],
  );
});

t.test('sequences with the same prompt go to the worker already running it, if it has room', async (t) => {
  const { sched, fake } = setup({ workers: 2, maxSlotsPerWorker: 3, maxBatchTokens: 32 });
  // The n choices of one request: same prompt, separate sequences.
  sched.add({ id: 'n0', promptTokenIds: [7, 8, 9], maxTokens: 20 });
  sched.add({ id: 'other', promptTokenIds: [1, 2], maxTokens: 20 });
  sched.add({ id: 'n1', promptTokenIds: [7, 8, 9], maxTokens: 20 });
  sched.add({ id: 'n2', promptTokenIds: [7, 8, 9], maxTokens: 20 });
  sched.add({ id: 'n3', promptTokenIds: [7, 8, 9], maxTokens: 20 });
  const placed = new Map<string, number>();
  for (const p of step(sched, fake).plans) for (const r of p.rows) placed.set(r.seqId, p.worker);
  t.same(Object.fromEntries(placed), { n0: 0, other: 1, n1: 0, n2: 0, n3: 1 }, 'siblings join n0 on worker 0 (though busier) until it is full');
});

t.test("a prompt's choices share one worker: a sibling waits for it rather than start on another", async (t) => {
  const { sched, fake } = setup({ workers: 2, maxSlotsPerWorker: 2, maxBatchTokens: 32 });
  // g0 and g1 fill worker 0; 'other' takes one of worker 1's two slots; g2 must wait for worker 0.
  sched.add({ id: 'g0', promptTokenIds: [7, 8, 9], maxTokens: 3, group: 'g' });
  sched.add({ id: 'other', promptTokenIds: [1, 2], maxTokens: 20 });
  sched.add({ id: 'g1', promptTokenIds: [7, 8, 9], maxTokens: 3, group: 'g' });
  sched.add({ id: 'g2', promptTokenIds: [7, 8, 9], maxTokens: 3, group: 'g' });
  const placed = new Map<string, number>();
  const admittedAt = new Map<string, number>();
  let stepIndex = 0;
  drive(sched, fake, {
    beforeStep: (i) => (stepIndex = i),
    afterPlan: (p) => {
      for (const r of p.rows.filter((row) => row.slotAction === 'new')) {
        placed.set(r.seqId, p.worker);
        admittedAt.set(r.seqId, stepIndex);
      }
    },
  });
  t.same(Object.fromEntries(placed), { g0: 0, other: 1, g1: 0, g2: 0 }, 'every choice of the request ran on worker 0, though worker 1 had a free slot');
  t.ok((admittedAt.get('g2') ?? 0) > 0, 'g2 waited for a slot on worker 0');
});

t.test("a choice waiting for room on its siblings' worker holds up admissions there only", async (t) => {
  const { sched, fake } = setup({ workers: 2, maxSlotsPerWorker: 2, maxBatchTokens: 32, schedulingPolicy: 'priority' });
  // One urgent request with 3 choices: two fill worker 0, the third (first in line) must wait there.
  for (const id of ['g0', 'g1', 'g2']) sched.add({ id, promptTokenIds: [7, 8, 9], maxTokens: 3, group: 'g', priority: -1 });
  sched.add({ id: 'other', promptTokenIds: [1, 2], maxTokens: 3 });
  sched.add({ id: 'late', promptTokenIds: [4, 5], maxTokens: 3 });
  const first = step(sched, fake).plans;
  const placed = first.flatMap((p) => p.rows.filter((r) => r.slotAction === 'new').map((r) => [r.seqId, p.worker]));
  t.same(placed, [['g0', 0], ['g1', 0], ['other', 1], ['late', 1]], 'worker 1 takes the later requests at once; g2 waits for worker 0');
  const rest = drive(sched, fake, { afterPlan: (p) => p.rows.filter((r) => r.slotAction === 'new').forEach((r) => placed.push([r.seqId, p.worker])) });
  t.same(placed.at(-1), ['g2', 0], 'g2 then joins its siblings on worker 0');
  t.equal(rest.reasons.get('g2'), 'length');
});

t.test("a request's different prompts may run on different workers", async (t) => {
  const { sched, fake } = setup({ workers: 2, maxSlotsPerWorker: 2, maxBatchTokens: 32 });
  for (const [id, prompt] of [['p0', [7, 8, 9]], ['p1', [4, 5, 6]]] as const) sched.add({ id, promptTokenIds: [...prompt], maxTokens: 3, group: 'batch' });
  const placed = new Map<string, number>();
  for (const p of step(sched, fake).plans) for (const r of p.rows) placed.set(r.seqId, p.worker);
  t.same(Object.fromEntries(placed), { p0: 0, p1: 1 }, 'the second prompt went to the idle worker');
});

t.test("pipelined: a sibling is not admitted while its request's worker is not being planned", async (t) => {
  const { sched, fake } = setup({ workers: 2, maxSlotsPerWorker: 4, maxBatchTokens: 32, pipelineDepth: 2 });
  sched.add({ id: 'g0', promptTokenIds: [7, 8, 9], maxTokens: 5, group: 'g' });
  const first = sched.schedule(); // worker 0 takes g0 (the tie breaks low); worker 1 has nothing to run
  t.same(
    first.map((p) => [p.worker, sequencesOf(p)]),
    [[0, ['g0']]],
  );
  const second = sched.schedule();
  t.same(second.map((p) => p.worker), [0], 'worker 0 plans its second step: its pipeline is full');
  sched.add({ id: 'g1', promptTokenIds: [7, 8, 9], maxTokens: 5, group: 'g' });
  sched.add({ id: 'other', promptTokenIds: [1, 2], maxTokens: 5 });
  const third = sched.schedule(); // only worker 1 is being planned
  t.same(
    third.map((p) => [p.worker, sequencesOf(p)]),
    [[1, ['other']]],
    'the later request starts on worker 1; the sibling is skipped, not moved there',
  );
  for (const p of [...first, ...second, ...third]) sched.postprocess(p, fake.run(p));
  const placed = new Map<string, number>();
  drive(sched, fake, { afterPlan: (p) => p.rows.filter((r) => r.slotAction === 'new').forEach((r) => placed.set(r.seqId, p.worker)) });
  t.equal(placed.get('g1'), 0, 'g1 joined g0 on worker 0 once it was planned');
});

t.test('preemption by recompute under a tiny KV budget keeps every stream identical', async (t) => {
  const model = hashModel(VOCAB);
  const reqs = range(6).map((i) => ({
    id: `s${i}`,
    promptTokenIds: range(5 + i * 3, i * 100),
    maxTokens: 30 + i * 4,
  }));
  // Reference: one sequence at a time, independent of the scheduler.
  const reference = new Map(reqs.map((r) => [r.id, referenceStream(r.id, r, model, 128)]));

  const base = { workers: 1, maxSlotsPerWorker: 4, maxBatchTokens: 16, maxModelLen: 128, capacityGranule: 8 };
  const unlimited = setup({ ...base }, model);
  for (const r of reqs) unlimited.sched.add(r);
  const u = drive(unlimited.sched, unlimited.fake);
  t.equal(u.preemptions, 0, 'default budget never preempts');

  const tiny = setup({ ...base, kvBudgetTokensPerWorker: 128 }, model);
  for (const r of reqs) tiny.sched.add(r);
  const readmits: { id: string; startPos: number; len: number }[] = [];
  const evicted = new Set<string>();
  const r = drive(tiny.sched, tiny.fake, {
    afterPlan: (p) => {
      for (const id of p.preempted) {
        evicted.add(id);
        t.ok(p.freed.includes(id), 'a preempted sequence is in freed');
        const v = tiny.sched.get(id);
        t.equal(v?.status, 'waiting');
        t.equal(v?.numComputedTokens, 0, 'numComputedTokens reset');
        t.ok((v?.outputTokenIds.length ?? 0) > 0, 'generated tokens kept');
      }
      for (const row of p.rows) {
        if (row.slotAction === 'new' && evicted.has(row.seqId)) {
          readmits.push({ id: row.seqId, startPos: row.startPos, len: row.tokens.length });
        }
      }
    },
  });
  t.ok(r.preemptions > 0, `preemption happened (${r.preemptions})`);
  t.ok(readmits.length > 0, 'an evicted sequence was re-admitted');
  for (const x of readmits) t.equal(x.startPos, 0, `${x.id} recomputes from position 0`);
  for (const req of reqs) {
    t.same(r.streams.get(req.id), reference.get(req.id)!.tokens, `${req.id} stream matches the reference`);
    t.same(u.streams.get(req.id), reference.get(req.id)!.tokens, `${req.id} unlimited stream matches too`);
    t.equal(r.reasons.get(req.id), reference.get(req.id)!.reason);
  }
  t.same(tiny.sched.usage()[0].activeSlots, 0);
  t.equal(tiny.fake.totalSlots(), 0, 'every slot released');
});

t.test('a preempted sequence goes back ahead of never-admitted requests', async (t) => {
  // Budget 64, granule 16: a and b fit at 32 each; as they grow past 32, b (younger) is evicted.
  const { sched, fake } = setup({ maxSlotsPerWorker: 2, maxBatchTokens: 8, maxModelLen: 64, kvBudgetTokensPerWorker: 64 });
  sched.add({ id: 'a', promptTokenIds: range(20), maxTokens: 40 });
  sched.add({ id: 'b', promptTokenIds: range(20, 100), maxTokens: 40 });
  let sawEviction = false;
  drive(sched, fake, {
    beforeStep: (i) => {
      if (i === 1) sched.add({ id: 'late', promptTokenIds: [7], maxTokens: 1 });
    },
    afterPlan: (p) => {
      if (p.preempted.length > 0 && !sawEviction) {
        sawEviction = true;
        t.same(p.preempted, ['b'], 'the youngest is evicted');
        t.same(sched.waitingIds(), ['b', 'late'], 'b is re-queued ahead of late');
      }
    },
  });
  t.ok(sawEviction);
});

t.test('abort frees at once, in waiting and in running', async (t) => {
  const { sched, fake } = setup({ maxSlotsPerWorker: 2, maxBatchTokens: 8 });
  sched.add({ id: 'r', promptTokenIds: [1, 2, 3], maxTokens: 100 });
  sched.add({ id: 'r2', promptTokenIds: [4], maxTokens: 100 });
  sched.add({ id: 'w', promptTokenIds: [5], maxTokens: 100 });
  step(sched, fake);
  t.same(sched.waitingIds(), ['w']);
  t.ok(sched.abort('w'));
  t.same(sched.waitingIds(), []);
  t.equal(sched.get('w'), undefined);
  t.notOk(sched.abort('w'), 'second abort is a no-op');

  t.equal(sched.usage()[0].activeSlots, 2);
  t.ok(sched.abort('r'));
  t.equal(sched.usage()[0].activeSlots, 1, 'slot counted free immediately');
  const { plans } = step(sched, fake);
  t.same(plans[0].freed, ['r'], 'worker told to release it before its rows');
  t.same(plans[0].rows.map((x) => x.seqId), ['r2']);
  t.ok(sched.abort('r2'));
  step(sched, fake);
  t.equal(sched.usage()[0].activeSlots, 0);
  t.equal(sched.usage()[0].costTokens, 0);
  t.equal(fake.totalSlots(), 0);
  t.notOk(sched.hasWork());
});

t.test('abort while the step is in flight: the late token is dropped', async (t) => {
  const { sched, fake } = setup({});
  sched.add({ id: 'x', promptTokenIds: [1, 2], maxTokens: 10 });
  sched.add({ id: 'y', promptTokenIds: [3], maxTokens: 10 });
  const [plan] = sched.schedule();
  const sampled = fake.run(plan);
  t.ok(sched.abort('x'));
  const out = sched.postprocess(plan, sampled);
  t.same(out.tokens.map((s) => s.seqId), ['y']);
  const [next] = sched.schedule();
  t.same(next.freed, ['x']);
  sched.postprocess(next, fake.run(next));
  t.equal(fake.slots[0].has('x'), false);
});

t.test('postprocess protocol errors', async (t) => {
  const { sched, fake } = setup({});
  sched.add({ id: 'x', promptTokenIds: [1], maxTokens: 10 });
  const [plan] = sched.schedule();
  const sampled = fake.run(plan);
  t.throws(() => sched.postprocess(plan, []), SchedulerProtocolError, 'missing token');
  t.throws(() => sched.postprocess(plan, [...sampled, { seqId: 'nope', token: 1 }]), SchedulerProtocolError);
  t.same(sched.get('x')?.outputTokenIds, [], 'a rejected postprocess changes nothing');
  sched.postprocess(plan, sampled);
  t.throws(() => sched.postprocess(plan, sampled), SchedulerProtocolError, 'twice');
  t.same(sched.schedule().length, 1);
  t.same(sched.schedule().length, 0, 'a busy worker is not planned again');
});

const SCRIPT_PROMPT_LEN = 2;
/** Model that emits a fixed script by generated position (prompt of SCRIPT_PROMPT_LEN tokens), then token 0. */
function scripted(script: number[]): FakeModel {
  return (_id, history) => script[history.length - SCRIPT_PROMPT_LEN] ?? 0;
}

function finishOf(cfg: Partial<SchedulerConfigInput>, req: { maxTokens: number; eos?: number[]; ignoreEos?: boolean; stop?: number[]; prompt?: number[] }, script: number[]) {
  const { sched, fake } = setup(cfg, scripted(script));
  sched.add({
    id: 's',
    promptTokenIds: req.prompt ?? [1, 2],
    maxTokens: req.maxTokens,
    eosTokenIds: req.eos,
    ignoreEos: req.ignoreEos,
    stopTokenIds: req.stop,
  });
  const r = drive(sched, fake);
  const fin = r.outcomes.flatMap((o) => o.finished);
  return { stream: r.streams.get('s'), reason: r.reasons.get('s'), fin };
}

t.test('finish reasons', async (t) => {
  const script = [10, 11, 12, 13, 14, 15, 16, 17];
  let r = finishOf({}, { maxTokens: 100, eos: [99, 12] }, script);
  t.same(r.stream, [10, 11, 12], 'second of several EOS ids stops');
  t.equal(r.reason, 'stop');
  t.same(r.fin[0].outputTokenIds, [10, 11, 12], 'EOS token is part of the output ids');
  t.equal(r.fin[0].promptTokens, 2);

  r = finishOf({}, { maxTokens: 5, eos: [12], ignoreEos: true }, script);
  t.same(r.stream, [10, 11, 12, 13, 14], 'ignoreEos runs to max_tokens');
  t.equal(r.reason, 'length');

  r = finishOf({}, { maxTokens: 100, eos: [12], ignoreEos: true, stop: [14] }, script);
  t.same(r.stream, [10, 11, 12, 13, 14], 'stop_token_ids apply even with ignoreEos');
  t.equal(r.reason, 'stop');

  r = finishOf({}, { maxTokens: 100, stop: [11] }, script);
  t.same(r.stream, [10, 11]);
  t.equal(r.reason, 'stop');

  r = finishOf({}, { maxTokens: 4 }, script);
  t.same(r.stream, [10, 11, 12, 13], 'max_tokens');
  t.equal(r.reason, 'length');

  r = finishOf({}, { maxTokens: 5, eos: [14] }, script);
  t.equal(r.reason, 'stop', 'EOS on the last allowed token reports stop');

  // maxModelLen 8, prompt 2: at most 6 tokens whatever max_tokens says.
  r = finishOf({ maxModelLen: 8, maxBatchTokens: 8 }, { maxTokens: 100 }, script);
  t.same(r.stream, [10, 11, 12, 13, 14, 15], 'max model length');
  t.equal(r.reason, 'length');
});

t.test('pipelined: the next plan feeds the pending token, and a sequence at its limit gets no further row', async (t) => {
  const { sched, fake } = setup({ pipelineDepth: 2 }, scripted([11, 12, 13, 14]));
  sched.add({ id: 'x', promptTokenIds: [1, 2], maxTokens: 4, ignoreEos: true });
  const [a] = sched.schedule();
  const [b] = sched.schedule();
  t.same(sched.schedule(), [], 'two plans in flight fill the pipeline');
  t.same(
    a.rows.map((r) => [r.tokens, r.startPos, r.sample]),
    [
      [[1, 2], 0, true],
      [[PENDING_TOKEN], 2, true],
    ],
    "the prompt's chunk, then its follow-on row fed the chunk's token",
  );
  t.same(b.rows, [{ seqId: 'x', tokens: [PENDING_TOKEN], startPos: 3, slotAction: 'continue', sample: true }], "b feeds what a's follow-on row samples");
  t.throws(() => sched.postprocess(b, [{ seqId: 'x', token: 0 }]), SchedulerProtocolError, 'plans are postprocessed in order');
  const ranA = fake.run(a);
  t.same(sched.postprocess(a, ranA).tokens, [
    { seqId: 'x', token: 11 },
    { seqId: 'x', token: 12 },
  ]);
  const [c] = sched.schedule();
  t.same(c.rows[0].tokens, [PENDING_TOKEN]);
  t.equal(c.rows[0].startPos, 4);
  t.same(sched.postprocess(b, fake.run(b)).tokens, [{ seqId: 'x', token: 13 }], 'the fake fed 12 where b said pending');
  t.same(sched.schedule(), [], "c's sample is the fourth and last: no row after it");
  const out = sched.postprocess(c, fake.run(c));
  t.same(out.finished.map((f) => [f.seqId, f.reason, f.outputTokenIds]), [['x', 'length', [11, 12, 13, 14]]]);
  const [release] = sched.schedule();
  t.same(release.freed, ['x']);
  sched.postprocess(release, fake.run(release));
  t.equal(sched.hasWork(), false);
});

t.test('pipelined: rows planned after an EOS (a follow-on row, the next plan) are skipped by the worker and dropped by the scheduler', async (t) => {
  const script = [7, 8, 9];
  const { sched } = setup({ pipelineDepth: 2 });
  const fake = new FakeWorkers(1, sched.config, scripted(script), (id, token) => id === 'x' && token === 7);
  sched.add({ id: 'x', promptTokenIds: [1, 2], maxTokens: 10, eosTokenIds: [7] });
  sched.add({ id: 'y', promptTokenIds: [3, 4], maxTokens: 3, ignoreEos: true });
  const [a] = sched.schedule();
  const [b] = sched.schedule();
  t.same(a.rows.map((r) => r.seqId), ['x', 'x', 'y', 'y'], 'each prompt chunk has its follow-on row');
  t.same(b.rows.map((r) => r.seqId), ['x', 'y']);
  const ranA = fake.run(a);
  t.equal(fake.skippedRows, 1, "the worker skipped x's follow-on row: x's first token ended it");
  t.same(ranA.map((s) => s.seqId), ['x', 'y', 'y']);
  t.throws(() => sched.postprocess(a, ranA.slice(0, 2)), SchedulerProtocolError, "y's follow-on row has no token");
  const outA = sched.postprocess(a, ranA);
  t.same(outA.finished.map((f) => [f.seqId, f.reason]), [['x', 'stop']]);
  t.same(outA.tokens.map((s) => [s.seqId, s.token]), [['x', 7], ['y', 7], ['y', 8]]);
  const ranB = fake.run(b);
  t.equal(fake.skippedRows, 2, "the worker skipped x's row in the next plan too");
  t.same(ranB.map((s) => s.seqId), ['y']);
  const outB = sched.postprocess(b, ranB);
  t.same(outB.tokens, [{ seqId: 'y', token: 9 }], "y's third token; x's row gave nothing");
  t.same(sched.get('x'), undefined, 'x stays finished');
  for (;;) {
    const plans = sched.schedule();
    if (plans.length === 0) break;
    for (const p of plans) sched.postprocess(p, fake.run(p));
  }
  t.equal(fake.totalSlots(), 0, 'every slot released');
});

t.test("a plan's capacity ceiling is the longest any of its worker's sequences can become", async (t) => {
  const sched = new Scheduler({ workers: 1, maxSlotsPerWorker: 4, maxBatchTokens: 256, maxModelLen: 512, capacityGranule: 64 });
  sched.add({ id: 'a', promptTokenIds: range(100), maxTokens: 30 });
  const [first] = sched.schedule();
  t.equal(first.capacity, 128, 'what the step needs: 100 prompt positions and the next, rounded up to 64');
  t.equal(first.capacityCeiling, 130, 'prompt + max_tokens');
  sched.postprocess(first, [{ seqId: 'a', token: 5 }, { seqId: 'a', token: 6 }]);
  sched.add({ id: 'b', promptTokenIds: range(40, 3), maxTokens: 900 });
  const [second] = sched.schedule();
  t.equal(second.capacityCeiling, 512, 'a longer one raises it, up to maxModelLen (max_tokens is clipped to the context)');
});

t.test("a plan's capacity is not rounded up past its ceiling", async (t) => {
  const sched = new Scheduler({ workers: 1, maxSlotsPerWorker: 4, maxBatchTokens: 256, maxModelLen: 512, capacityGranule: 64 });
  sched.add({ id: 'a', promptTokenIds: range(100), maxTokens: 10 });
  const [first] = sched.schedule();
  t.equal(first.capacityCeiling, 110);
  t.equal(first.capacity, 110, '102 positions (the prompt and a follow-on row) round up to 128, but no sequence can pass 110');
  sched.postprocess(first, [{ seqId: 'a', token: 5 }, { seqId: 'a', token: 6 }]);
  sched.add({ id: 'b', promptTokenIds: range(20, 3), maxTokens: 300 });
  const [second] = sched.schedule();
  t.equal(second.capacity, 128, 'a sequence that can grow further lifts the ceiling: rounded to the granule again');
});
