// Admission across requests: a request's sequences (group) take turns with
// later requests, and sequences held for a grammar compile are skipped
// (without blocking others) until ready() pins them to a worker.

import t from 'tap';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { drive, FakeWorkers, hashModel } from './harness.js';

function setup(workers = 1): { sched: Scheduler; fake: FakeWorkers } {
  const sched = new Scheduler({ workers, maxSlotsPerWorker: 2, maxBatchTokens: 16, maxModelLen: 64, capacityGranule: 16 });
  return { sched, fake: new FakeWorkers(workers, sched.config, hashModel(1000)) };
}

t.test("a later request's sequence goes before the rest of an earlier large request", async (t) => {
  const { sched, fake } = setup();
  for (let i = 0; i < 6; i++) sched.add({ id: `big${i}`, promptTokenIds: [1, i], maxTokens: 4, group: 'big' });
  sched.add({ id: 'canary', promptTokenIds: [9], maxTokens: 1, group: 'canary' });
  const admitted: string[] = [];
  drive(sched, fake, { afterPlan: (p) => p.rows.forEach((r) => r.slotAction === 'new' && admitted.push(r.seqId)) });
  t.same(admitted.slice(0, 3), ['big0', 'canary', 'big1'], 'the canary (no sequence running) goes before big1 (its request has one)');
  t.equal(admitted.length, 7, 'everything ran');
});

t.test('without groups, admission stays first come first served', async (t) => {
  const { sched, fake } = setup();
  for (const id of ['a', 'b', 'c', 'd']) sched.add({ id, promptTokenIds: [1, id.charCodeAt(0)], maxTokens: 2 });
  const admitted: string[] = [];
  drive(sched, fake, { afterPlan: (p) => p.rows.forEach((r) => r.slotAction === 'new' && admitted.push(r.seqId)) });
  t.same(admitted, ['a', 'b', 'c', 'd']);
});

t.test('a held sequence waits for ready() without blocking others, then runs on its pinned worker', async (t) => {
  const { sched, fake } = setup(2);
  sched.add({ id: 'g', promptTokenIds: [5, 6], maxTokens: 2, held: true });
  sched.add({ id: 'plain', promptTokenIds: [7], maxTokens: 2 });
  const first = sched.schedule();
  t.same(first.flatMap((p) => p.rows.map((r) => r.seqId)), ['plain'], 'only the plain sequence is admitted');
  for (const plan of first) sched.postprocess(plan, fake.run(plan));
  t.equal(sched.get('g')?.status, 'waiting');
  // Pinned next to 'plain', where least-loaded placement would not put it.
  const pinned = sched.get('plain')?.worker as number;
  t.ok(sched.ready('g', pinned));
  const admittedOn: number[] = [];
  drive(sched, fake, { afterPlan: (p) => p.rows.forEach((r) => r.seqId === 'g' && r.slotAction === 'new' && admittedOn.push(p.worker)) });
  t.same(admittedOn, [pinned], 'admitted once, on the worker that compiled its grammar');
  t.notOk(sched.ready('g', 0), 'ready() of a finished sequence is refused');
});
