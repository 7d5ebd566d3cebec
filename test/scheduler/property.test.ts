// Random workloads (arrivals, lengths, EOS/stop ids, aborts at any point,
// budgets small enough to preempt, lock-step or pipelined workers) with
// invariants checked every step.
import t from 'tap';
import fc from 'fast-check';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import type { SchedulerConfigInput, SeqId, StepPlan } from '../../src/scheduler/types.js';
import { FakeWorkers, checkRowsPerSequence, hashModel, referenceStream, stopsOn, type RefRequest } from './harness.js';

const VOCAB = 40; // small, so EOS / stop ids are actually hit
const STEMS = [0, 1].map((s) => Array.from({ length: 80 }, (_, i) => (i * 7 + s * 13 + 3) % VOCAB));

interface Req extends RefRequest {
  at: number;
}
interface Abort {
  at: number;
  /** Index into the requests (may target one that already finished: then abort() is a no-op). */
  target: number;
  /** Between schedule() and postprocess() (step in flight) rather than before schedule(). */
  inFlight: boolean;
}

const configArb = fc
  .record({
    workers: fc.integer({ min: 1, max: 3 }),
    maxSlotsPerWorker: fc.integer({ min: 1, max: 6 }),
    extraBatch: fc.integer({ min: 0, max: 40 }),
    maxModelLen: fc.integer({ min: 4, max: 96 }),
    capacityGranule: fc.integer({ min: 1, max: 32 }),
    budgetFrac: fc.double({ min: 0, max: 1, noNaN: true }),
    pipelineDepth: fc.constantFrom(1, 2),
    prefixCaching: fc.boolean(),
    prefillShare: fc.integer({ min: 1, max: 48 }),
  })
  .map(({ workers, maxSlotsPerWorker, extraBatch, maxModelLen, capacityGranule, budgetFrac, pipelineDepth, prefixCaching, prefillShare }) => {
    const lo = maxModelLen;
    const hi = maxSlotsPerWorker * maxModelLen;
    const cfg: SchedulerConfigInput = {
      workers,
      maxSlotsPerWorker,
      maxBatchTokens: maxSlotsPerWorker + extraBatch,
      maxModelLen,
      capacityGranule,
      kvBudgetTokensPerWorker: Math.round(lo + (hi - lo) * budgetFrac * budgetFrac), // skewed small
      pipelineDepth,
      prefixCaching,
      maxPrefillTokensWithDecode: prefillShare,
    };
    return cfg;
  });

const workloadArb = (maxModelLen: number) =>
  fc.record({
    reqs: fc.array(
      fc.record({
        at: fc.integer({ min: 0, max: 40 }),
        // Many prompts start with one of two shared stems (up to several cache blocks), as chats share a system prompt.
        promptTokenIds: fc
          .tuple(fc.nat(2), fc.integer({ min: 16, max: 80 }), fc.array(fc.integer({ min: 0, max: VOCAB - 1 }), { minLength: 1, maxLength: maxModelLen - 1 }))
          .map(([stem, cut, tail]) => [...(STEMS[stem] ?? []).slice(0, cut), ...tail].slice(0, maxModelLen - 1)),
        maxTokens: fc.integer({ min: 1, max: 80 }),
        eosTokenIds: fc.array(fc.integer({ min: 0, max: VOCAB - 1 }), { maxLength: 2 }),
        ignoreEos: fc.boolean(),
        stopTokenIds: fc.array(fc.integer({ min: 0, max: VOCAB - 1 }), { maxLength: 1 }),
      }),
      { minLength: 1, maxLength: 24 },
    ),
    aborts: fc.array(
      fc.record({ at: fc.integer({ min: 0, max: 80 }), target: fc.nat(), inFlight: fc.boolean() }),
      { maxLength: 6 },
    ),
  });

const scenarioArb = configArb.chain((cfg) => workloadArb(cfg.maxModelLen).map((w) => ({ cfg, ...w })));

/** Runs one scenario, throwing on any broken invariant; returns the positions loaded from the prefix cache. */
function runScenario(cfg: SchedulerConfigInput, reqs: Req[], aborts: Abort[]): number {
  const model = hashModel(VOCAB);
  const sched = new Scheduler(cfg);
  const c = sched.config;
  const ids = reqs.map((_, i) => `r${i}`);
  const stops = (id: SeqId, token: number): boolean => stopsOn(reqs[ids.indexOf(id)], token);
  const fake = new FakeWorkers(c.workers, c, model, stops);
  /** Per worker, plans formed but not yet run (pipelined workers keep one queued between iterations). */
  const queued: StepPlan[][] = Array.from({ length: c.workers }, () => []);
  const streams = new Map<SeqId, number[]>();
  const finished = new Map<SeqId, 'stop' | 'length'>();
  const aborted = new Set<SeqId>();
  const addOrder: SeqId[] = [];
  const admittedOnce = new Set<SeqId>();
  const lastArrival = Math.max(...reqs.map((r) => r.at), ...aborts.map((a) => a.at));

  const doAborts = (step: number, inFlight: boolean) => {
    for (const a of aborts) {
      if (a.at !== step || a.inFlight !== inFlight) continue;
      const id = ids[a.target % ids.length];
      if (sched.abort(id)) {
        if (aborted.has(id) || finished.has(id)) throw new Error(`${id} aborted after it ended`);
        aborted.add(id);
      }
    }
  };

  for (let step = 0; ; step++) {
    if (step > 20_000) throw new Error('workload did not complete: starvation or deadlock');
    reqs.forEach((r, i) => {
      if (r.at !== step) return;
      sched.add({ id: ids[i], ...r });
      addOrder.push(ids[i]);
    });
    doAborts(step, false);
    if (step > lastArrival && !sched.hasWork()) break;

    // Plan every worker until its pipeline is full (schedule() plans each worker once per call).
    const plans: StepPlan[] = [];
    for (let round = 0; round < c.pipelineDepth; round++) plans.push(...sched.schedule());
    if (sched.schedule().length > 0) throw new Error('a worker was planned beyond its pipeline depth');
    for (const p of plans) {
      checkRowsPerSequence(p);
      for (const r of p.rows) {
        if (r.slotAction === 'new' && !admittedOnce.has(r.seqId)) {
          admittedOnce.add(r.seqId);
        }
      }
    }
    // FCFS: the ever-admitted requests form a prefix of the arrival order (skipping ones aborted while waiting).
    let gap: SeqId | null = null;
    for (const id of addOrder) {
      if (admittedOnce.has(id)) {
        if (gap !== null) throw new Error(`${id} admitted while the older ${gap} still waits`);
      } else if (!aborted.has(id)) gap = id;
    }
    for (const u of sched.usage()) {
      if (u.activeSlots > c.maxSlotsPerWorker) throw new Error(`worker ${u.worker}: ${u.activeSlots} slots`);
      if (u.costTokens + u.cachedTokens > c.kvBudgetTokensPerWorker) throw new Error(`worker ${u.worker}: over KV budget with the cache`);
      if (!c.prefixCaching && u.cachedTokens !== 0) throw new Error('cached blocks with prefix caching off');
    }
    for (const p of plans) queued[p.worker].push(p);
    // Each worker finishes its oldest plan; with pipelineDepth 2 the next one stays queued.
    const ran = queued.flatMap((q) => (q.length > 0 ? [q.shift() as StepPlan] : []));
    const sampled = ran.map((p) => fake.run(p)); // checks token budget, capacity, slot protocol
    doAborts(step, true);
    for (let i = 0; i < ran.length; i++) {
      const out = sched.postprocess(ran[i], sampled[i]);
      for (const { seqId, token: tokenId } of out.tokens) {
        const s = streams.get(seqId) ?? [];
        s.push(tokenId);
        streams.set(seqId, s);
      }
      for (const f of out.finished) {
        if (finished.has(f.seqId) || aborted.has(f.seqId)) throw new Error(`${f.seqId} ended twice`);
        finished.set(f.seqId, f.reason);
      }
    }

    // A sequence lives in at most one worker's slots, and where the scheduler thinks it is,
    // once the queued plans have run (their releases, admissions and tokens).
    const queuedRelease = new Set<string>(); // `${worker}:${seqId}`
    const queuedTokens = new Map<SeqId, number>();
    for (const p of queued.flat()) {
      for (const id of p.freed) queuedRelease.add(`${p.worker}:${id}`);
      for (const r of p.rows) queuedTokens.set(r.seqId, (queuedTokens.get(r.seqId) ?? 0) + r.tokens.length);
    }
    const holder = new Map<SeqId, number>();
    fake.slots.forEach((slots, w) => {
      for (const [id, kv] of slots) {
        // A slot a queued plan releases is on its way out (a preempted sequence may already sit elsewhere).
        if (queuedRelease.has(`${w}:${id}`)) continue;
        if (holder.has(id)) throw new Error(`${id} holds slots on workers ${holder.get(id)} and ${w}`);
        holder.set(id, w);
        const v = sched.get(id);
        if (!v) continue;
        if (v.status !== 'running' || v.worker !== w) throw new Error(`${id}: stale slot on worker ${w}`);
        const planned = kv.length + (queuedTokens.get(id) ?? 0);
        if (planned !== v.numComputedTokens) throw new Error(`${id}: KV ${kv.length} + queued ${planned - kv.length} ≠ ${v.numComputedTokens}`);
      }
    });
    for (const id of ids) {
      const v = sched.get(id);
      if (v?.status === 'running' && holder.get(id) !== v.worker && !queuedTokens.has(id)) throw new Error(`${id} running without a slot`);
    }
  }

  // Nothing lost: every request ended exactly one way; all accounting is back to zero.
  if (finished.size + aborted.size !== reqs.length) throw new Error('a sequence neither finished nor was aborted');
  for (const u of sched.usage()) {
    if (u.activeSlots !== 0 || u.costTokens !== 0 || u.busy) throw new Error(`worker ${u.worker} not idle at the end`);
  }
  if (fake.totalSlots() !== 0) throw new Error('slots left on the workers');
  if (sched.numWaiting !== 0 || sched.numRunning !== 0) throw new Error('live sequences left');

  // Streams match an independent one-at-a-time reference (prefix of it when aborted).
  reqs.forEach((r, i) => {
    const id = ids[i];
    const ref = referenceStream(id, r, model, c.maxModelLen);
    const got = streams.get(id) ?? [];
    if (finished.has(id)) {
      if (got.join() !== ref.tokens.join() || finished.get(id) !== ref.reason) {
        throw new Error(`${id}: stream ${got} (${finished.get(id)}) ≠ reference ${ref.tokens} (${ref.reason})`);
      }
    } else if (got.join() !== ref.tokens.slice(0, got.length).join()) {
      throw new Error(`${id}: aborted stream is not a prefix of the reference`);
    }
  });
  if (fake.loadedPositions !== sched.prefixHits) throw new Error(`workers loaded ${fake.loadedPositions} positions, the scheduler counted ${sched.prefixHits} hits`);
  return fake.loadedPositions;
}

t.test('random workloads keep every invariant', async (t) => {
  let preempting = 0;
  let pipelined = 0;
  let cacheHits = 0;
  fc.assert(
    fc.property(scenarioArb, ({ cfg, reqs, aborts }) => {
      if (runScenario(cfg, reqs, aborts) > 0) cacheHits++;
      if (cfg.kvBudgetTokensPerWorker! < cfg.maxSlotsPerWorker * cfg.maxModelLen) preempting++;
      if (cfg.pipelineDepth === 2) pipelined++;
    }),
    { numRuns: 400 },
  );
  t.ok(preempting > 50, `many runs used a budget below the no-preemption default (${preempting})`);
  t.ok(pipelined > 100, `many runs pipelined (${pipelined})`);
  t.ok(cacheHits > 5, `some runs loaded cached prefixes (${cacheHits})`);
});

t.test('random workloads actually exercise preemption and chunking', async (t) => {
  // Guard against a generator that never reaches the interesting paths.
  const cfg: SchedulerConfigInput = {
    workers: 2,
    maxSlotsPerWorker: 4,
    maxBatchTokens: 8,
    maxModelLen: 64,
    capacityGranule: 8,
    kvBudgetTokensPerWorker: 96,
  };
  let preemptions = 0;
  let chunks = 0;
  const sched = new Scheduler(cfg);
  const fake = new FakeWorkers(2, sched.config, hashModel(VOCAB));
  for (let i = 0; i < 16; i++) {
    sched.add({ id: `q${i}`, promptTokenIds: Array.from({ length: 5 + ((i * 7) % 30) }, (_, k) => (k * 3 + i) % VOCAB), maxTokens: 40, ignoreEos: true });
  }
  while (sched.hasWork()) {
    for (const p of sched.schedule()) {
      preemptions += p.preempted.length;
      chunks += p.rows.filter((r) => !r.sample).length;
      sched.postprocess(p, fake.run(p));
    }
  }
  t.ok(preemptions > 0, `preemptions: ${preemptions}`);
  t.ok(chunks > 0, `non-final prefill chunks: ${chunks}`);
  t.equal(fake.totalSlots(), 0);
});
