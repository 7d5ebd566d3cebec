// The 'priority' scheduling policy (vLLM's meaning: lower value first): who
// is admitted first, who is preempted, that 'fcfs' is unchanged, and that
// random workloads with random priorities (prefix caching on or off) still
// produce every stream exactly.
import t from 'tap';
import fc from 'fast-check';
import { nextCandidate, preemptionVictim } from '../../src/scheduler/admission-order.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { Sequence } from '../../src/scheduler/sequence.js';
import { PRIORITY_MAX, PRIORITY_MIN, type SchedulerConfigInput, type SchedulingPolicy, type SequenceRequest, type StepPlan } from '../../src/scheduler/types.js';
import { drive, FakeWorkers, hashModel, range, referenceStream } from './harness.js';

const VOCAB = 1000;

function setup(cfg: Partial<SchedulerConfigInput>) {
  const sched = new Scheduler({ workers: 1, maxSlotsPerWorker: 4, maxBatchTokens: 64, maxModelLen: 256, capacityGranule: 16, ...cfg });
  return { sched, fake: new FakeWorkers(sched.config.workers, sched.config, hashModel(VOCAB)) };
}

/** Sequences in the order their first row took a slot ('new'), re-admissions after preemption left out. */
function admissionOrder(plans: StepPlan[]): string[] {
  const order: string[] = [];
  for (const p of plans) for (const r of p.rows) if (r.slotAction === 'new' && !order.includes(r.seqId)) order.push(r.seqId);
  return order;
}

t.test('add() checks priority: an integer in the 32-bit range, and non-zero only under the priority policy', async (t) => {
  const fcfs = setup({}).sched;
  t.equal(fcfs.config.schedulingPolicy, 'fcfs', 'fcfs is the default');
  fcfs.add({ id: 'zero', promptTokenIds: [1], maxTokens: 1, priority: 0 });
  t.throws(() => fcfs.add({ id: 'p', promptTokenIds: [1], maxTokens: 1, priority: -1 }), {
    status: 400,
    param: 'priority',
    code: 'invalid_value',
    message: /priority scheduling is not enabled/,
  });
  const prio = setup({ schedulingPolicy: 'priority' }).sched;
  prio.add({ id: 'lo', promptTokenIds: [1], maxTokens: 1, priority: PRIORITY_MAX });
  prio.add({ id: 'hi', promptTokenIds: [1], maxTokens: 1, priority: PRIORITY_MIN });
  for (const bad of [PRIORITY_MAX + 1, PRIORITY_MIN - 1, 1.5, Number.NaN]) {
    t.throws(() => prio.add({ id: `bad${bad}`, promptTokenIds: [1], maxTokens: 1, priority: bad }), { status: 400, param: 'priority', message: /must be an integer/ }, `${bad}`);
  }
  t.same(prio.waitingIds(), ['lo', 'hi'], 'refused requests are not queued');
  t.throws(() => setup({ schedulingPolicy: 'lifo' as SchedulingPolicy }), /schedulingPolicy must be/);
});

t.test('a high-priority arrival is admitted ahead of waiting low-priority ones', async (t) => {
  const run = (policy: SchedulingPolicy, priorities: Record<string, number>) => {
    const { sched, fake } = setup({ maxSlotsPerWorker: 1, maxBatchTokens: 8, schedulingPolicy: policy });
    const add = (id: string, maxTokens: number) => sched.add({ id, promptTokenIds: range(3, id.charCodeAt(0)), maxTokens, priority: priorities[id] ?? 0 });
    add('a', 6); // holds the only slot while the others queue
    const res = drive(sched, fake, {
      beforeStep: (i) => {
        if (i === 1) {
          add('b', 2);
          add('c', 2);
        }
        if (i === 2) add('h', 2);
        if (i === 3) t.same(sched.get('a')?.status, 'running', 'a still holds the slot when h arrives');
      },
    });
    return admissionOrder(res.plans);
  };
  t.same(run('priority', { h: -1 }), ['a', 'h', 'b', 'c'], 'h (priority -1) overtakes b and c (0)');
  t.same(run('priority', { b: 3, c: 2, h: 1 }), ['a', 'h', 'c', 'b'], 'lowest value first among all waiting');
  t.same(run('priority', {}), ['a', 'b', 'c', 'h'], 'equal priorities: arrival order');
  t.same(run('fcfs', {}), ['a', 'b', 'c', 'h'], 'fcfs: arrival order');
});

t.test('among equal priorities the FCFS rules hold: preempted first, then the request with fewest running', async (t) => {
  const seq = (id: string, arrival: number, priority: number, group = id, preemptions = 0): Sequence => {
    const s = new Sequence({ id, promptTokenIds: [1], maxTokens: 1, priority, group }, 1, arrival);
    s.numPreemptions = preemptions;
    return s;
  };
  const all = () => true;
  const waiting = [seq('pre', 0, 5, 'pre', 1), seq('g1', 1, 0, 'g'), seq('x', 2, 0), seq('hi', 3, -2, 'hi')];
  t.equal(nextCandidate(waiting, new Map(), all, 'priority')?.id, 'hi', 'a lower value beats a preempted sequence');
  t.equal(nextCandidate(waiting, new Map(), all, 'fcfs')?.id, 'pre', 'fcfs: the preempted one first');
  t.equal(nextCandidate(waiting, new Map(), (s) => s.id !== 'hi', 'priority')?.id, 'g1', 'an inadmissible (held) sequence is skipped');
  const tied = [seq('g1', 1, 0, 'g'), seq('x', 2, 0), seq('y', 3, 0, 'y', 1)];
  t.equal(nextCandidate(tied, new Map(), all, 'priority')?.id, 'y', 'equal priority: the preempted first');
  t.equal(nextCandidate(tied.slice(0, 2), new Map([['g', 2]]), all, 'priority')?.id, 'x', 'equal priority: the group with fewest running');
});

t.test('the preemption victim is the lowest priority (youngest among equals); fcfs keeps the youngest', async (t) => {
  const seqs = [
    { id: 'old-lo', priority: 3 },
    { id: 'mid-lo', priority: 3 },
    { id: 'hi', priority: -1 },
    { id: 'young', priority: 0 },
  ].map((r, i) => new Sequence({ id: r.id, promptTokenIds: [1], maxTokens: 1, priority: r.priority }, 1, i));
  t.equal(preemptionVictim(seqs, 'priority').id, 'mid-lo');
  t.equal(preemptionVictim(seqs, 'fcfs').id, 'young');
  t.equal(preemptionVictim(seqs.slice(2), 'priority').id, 'young', 'the first by (priority, arrival) is never the victim');

  // Through the scheduler: budget 64, granule 16: two 20-token prompts fit at 32 each until they grow.
  const run = (policy: SchedulingPolicy, oldPriority: number) => {
    const { sched, fake } = setup({ maxSlotsPerWorker: 2, maxBatchTokens: 8, maxModelLen: 64, kvBudgetTokensPerWorker: 64, schedulingPolicy: policy });
    const reqs: SequenceRequest[] = [
      { id: 'old', promptTokenIds: range(20), maxTokens: 40, priority: oldPriority },
      { id: 'new', promptTokenIds: range(20, 100), maxTokens: 40 },
    ];
    for (const r of reqs) sched.add(r);
    const victims: string[] = [];
    const res = drive(sched, fake, { afterPlan: (p) => victims.push(...p.preempted) });
    for (const r of reqs) t.same(res.streams.get(r.id), referenceStream(r.id, r, hashModel(VOCAB), 64).tokens, `${policy}: ${r.id} matches the reference`);
    return victims[0];
  };
  t.equal(run('fcfs', 0), 'new', 'fcfs: the youngest is evicted');
  t.equal(run('priority', 0), 'new', 'priority, equal values: the youngest is evicted');
  t.equal(run('priority', 1), 'old', 'priority: the older but lower-priority sequence is evicted');
});

const workloadArb = fc.record({
  workers: fc.integer({ min: 1, max: 2 }),
  maxSlotsPerWorker: fc.integer({ min: 1, max: 4 }),
  budgetSeqs: fc.integer({ min: 1, max: 4 }),
  prefixCaching: fc.boolean(),
  reqs: fc.array(
    fc.record({
      at: fc.integer({ min: 0, max: 20 }),
      promptLen: fc.integer({ min: 1, max: 40 }),
      maxTokens: fc.integer({ min: 1, max: 30 }),
      priority: fc.integer({ min: -3, max: 3 }),
      group: fc.integer({ min: 0, max: 3 }),
      /** Requests of one stem share their leading tokens (prefix-cache hits). */
      stem: fc.integer({ min: 0, max: 2 }),
    }),
    { minLength: 1, maxLength: 16 },
  ),
});

type Workload = typeof workloadArb extends fc.Arbitrary<infer W> ? W : never;

function runWorkload(w: Workload, policy: SchedulingPolicy, priorityOf: (i: number) => number) {
  const maxModelLen = 64;
  const sched = new Scheduler({
    workers: w.workers,
    maxSlotsPerWorker: w.maxSlotsPerWorker,
    maxBatchTokens: 16,
    maxModelLen,
    capacityGranule: 8,
    kvBudgetTokensPerWorker: maxModelLen * Math.min(w.budgetSeqs, w.maxSlotsPerWorker),
    schedulingPolicy: policy,
    prefixCaching: w.prefixCaching,
  });
  const fake = new FakeWorkers(w.workers, sched.config, hashModel(VOCAB));
  const reqs = w.reqs.map((r, i): SequenceRequest => ({
    id: `r${i}`,
    promptTokenIds: range(r.promptLen, r.stem * 50),
    maxTokens: r.maxTokens,
    priority: priorityOf(i),
    group: `g${r.group}`,
  }));
  const violations: string[] = [];
  const pending = reqs.map((_, i) => i).sort((a, b) => w.reqs[a].at - w.reqs[b].at);
  // A victim may be admitted again on another worker in the same round and finish in that worker's
  // plan before this one is checked: its (priority, arrival) are kept from before the round.
  const ranks = new Map<string, { priority: number; arrival: number }>();
  const choiceKey = (r: SequenceRequest): string => `${r.group} [${r.promptTokenIds.join()}]`;
  /** Waiting sequence → the worker its sibling choices run on, as this step's schedule() left them (taken at its first plan). */
  let pins: Map<string, number> | null = null;
  const pinsNow = (): Map<string, number> => {
    const running = new Map<string, number>();
    for (const r of reqs) {
      const s = sched.get(r.id);
      if (s?.status === 'running') running.set(choiceKey(r), s.worker as number);
    }
    return new Map(reqs.flatMap((r) => (sched.get(r.id)?.status === 'waiting' && running.has(choiceKey(r)) ? [[r.id, running.get(choiceKey(r)) as number]] : [])));
  };
  const res = drive(sched, fake, {
    beforeStep: (step) => {
      pins = null;
      // Arrivals due by now; an idle scheduler skips ahead to the next one (drive stops when idle).
      while (pending.length > 0 && (w.reqs[pending[0]].at <= step || !sched.hasWork())) sched.add(reqs[pending.shift()!]);
      for (const r of reqs) {
        const s = sched.get(r.id);
        if (s) ranks.set(r.id, { priority: s.priority, arrival: s.arrival });
      }
    },
    afterPlan: (p) => {
      // Admission: nothing left waiting has a lower value than one admitted now (lock-step, nothing held),
      // but a choice pinned to its siblings' worker holds up that worker only.
      pins ??= pinsNow();
      const pinned = pins;
      const admitted = p.rows.filter((r) => r.slotAction === 'new').map((r) => sched.get(r.seqId)!);
      const contenders = sched.waitingIds().filter((id) => (pinned.get(id) ?? p.worker) === p.worker);
      const waitingMin = Math.min(...contenders.map((id) => sched.get(id)!.priority));
      for (const a of admitted) if (a.priority > waitingMin) violations.push(`${a.id} (${a.priority}) admitted over a waiting ${waitingMin}`);
      // The running choices of one prompt of one request (group) share one worker.
      const choiceWorker = new Map<string, number>();
      for (const r of reqs) {
        const s = sched.get(r.id);
        if (s?.status !== 'running') continue;
        const key = choiceKey(r);
        const other = choiceWorker.get(key);
        if (other !== undefined && other !== s.worker) violations.push(`${key} runs on workers ${other} and ${s.worker}`);
        choiceWorker.set(key, s.worker as number);
      }
      // Preemption: every victim came after each sequence kept running on its worker, by (priority, arrival).
      const fresh = new Set(admitted.map((a) => a.id));
      for (const id of p.preempted) {
        const v = ranks.get(id)!;
        for (const r of reqs) {
          const s = sched.get(r.id);
          if (!s || s.status !== 'running' || s.worker !== p.worker || fresh.has(s.id)) continue;
          if (s.priority > v.priority || (s.priority === v.priority && s.arrival > v.arrival)) violations.push(`${id} evicted before ${s.id}`);
        }
      }
    },
  });
  return { res, reqs, violations, maxModelLen };
}

t.test("random workloads under the priority policy: exact streams, priority order, fcfs among equals, one worker per prompt's choices", async () => {
  fc.assert(
    fc.property(workloadArb, (w) => {
      const { res, reqs, violations, maxModelLen } = runWorkload(w, 'priority', (i) => w.reqs[i].priority);
      if (violations.length > 0) throw new Error(violations.join('; '));
      for (const r of reqs) {
        const ref = referenceStream(r.id, r, hashModel(VOCAB), maxModelLen).tokens;
        if (res.streams.get(r.id)?.join() !== ref.join()) throw new Error(`${r.id}: stream differs from the reference`);
      }
      // One priority value for everyone: exactly the plans fcfs forms.
      const fcfs = runWorkload(w, 'fcfs', () => 0).res.plans;
      const same = runWorkload(w, 'priority', () => 2).res.plans;
      if (JSON.stringify(fcfs) !== JSON.stringify(same)) throw new Error('equal priorities planned differently from fcfs');
    }),
    { numRuns: 150 },
  );
});
