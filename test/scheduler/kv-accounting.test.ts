import t from 'tap';
import { capacityFor, WorkerKvAccount } from '../../src/scheduler/kv-accounting.js';
import { resolveSchedulerConfig } from '../../src/scheduler/config.js';
import { SchedulerConfigError } from '../../src/scheduler/errors.js';

t.test('capacityFor rounds up to the granule and caps at maxModelLen', async (t) => {
  t.equal(capacityFor(0, 64, 2048), 0, 'nothing active');
  t.equal(capacityFor(1, 64, 2048), 64);
  t.equal(capacityFor(64, 64, 2048), 64);
  t.equal(capacityFor(65, 64, 2048), 128);
  t.equal(capacityFor(2000, 64, 2048), 2048);
  t.equal(capacityFor(2047, 100, 2048), 2048, '2100 capped at maxModelLen');
  t.equal(capacityFor(7, 1, 100), 7, 'granule 1 is exact');
});

t.test('WorkerKvAccount: slots, budget, growth, free', async (t) => {
  const kv = new WorkerKvAccount({ maxSlots: 2, budgetTokens: 256, granule: 64, maxModelLen: 256 });
  t.equal(kv.cost(), 0);
  t.ok(kv.canAdmit(256), 'a lone max-length sequence fits');
  kv.admit('a', 100);
  t.equal(kv.capacity(), 128);
  t.equal(kv.cost(), 128);
  t.ok(kv.canAdmit(10), '2 × 128 = 256 fits');
  t.notOk(kv.canAdmit(129), '2 × 192 = 384 does not');
  kv.admit('b', 10);
  t.equal(kv.cost(), 256);
  t.ok(kv.fits());
  t.notOk(kv.canAdmit(1), 'no free slot');
  t.throws(() => kv.admit('c', 1), 'slot cap enforced');
  t.throws(() => kv.admit('a', 1), 'one slot per sequence');
  t.throws(() => kv.grow('b', 9), 'KV never shrinks');
  t.throws(() => kv.grow('zzz', 9), 'unknown sequence');
  kv.grow('a', 129);
  t.equal(kv.capacity(), 192);
  t.notOk(kv.fits(), '2 × 192 over budget');
  t.ok(kv.fitsNeeds([129]));
  t.notOk(kv.fitsNeeds([129, 11]));
  t.notOk(kv.fitsNeeds([1, 1, 1]), 'more needs than slots');
  t.ok(kv.free('a'));
  t.notOk(kv.free('a'));
  t.equal(kv.needOf('b'), 10);
  t.equal(kv.cost(), 64);
  t.ok(kv.free('b'));
  t.equal(kv.activeSlots, 0);
  t.equal(kv.cost(), 0);
});

t.test('resolveSchedulerConfig: defaults and guarantees', async (t) => {
  const base = { workers: 2, maxSlotsPerWorker: 8, maxBatchTokens: 512, maxModelLen: 1024 };
  const c = resolveSchedulerConfig(base);
  t.equal(c.capacityGranule, 64);
  t.equal(c.kvBudgetTokensPerWorker, 8 * 1024);
  t.throws(() => resolveSchedulerConfig({ ...base, maxBatchTokens: 7 }), SchedulerConfigError, 'decode rows must fit a step');
  t.throws(() => resolveSchedulerConfig({ ...base, kvBudgetTokensPerWorker: 1023 }), SchedulerConfigError, 'a lone sequence must fit');
  t.throws(() => resolveSchedulerConfig({ ...base, workers: 0 }), SchedulerConfigError);
  t.throws(() => resolveSchedulerConfig({ ...base, capacityGranule: 1.5 }), SchedulerConfigError);
  t.throws(() => resolveSchedulerConfig({ ...base, maxModelLen: 1, maxSlotsPerWorker: 1, maxBatchTokens: 1 }), SchedulerConfigError);
  t.equal(resolveSchedulerConfig({ ...base, kvBudgetTokensPerWorker: 1024 }).kvBudgetTokensPerWorker, 1024);
});
