import t from 'tap';
import { resolveSchedulerConfig } from '../../src/scheduler/config.js';
import { SchedulerConfigError } from '../../src/scheduler/errors.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { stepTokenBudget } from '../../src/scheduler/step-budget.js';
import { drive, FakeWorkers, hashModel, range, referenceStream } from './harness.js';

const VOCAB = 1000;

t.test('stepTokenBudget: the whole budget without decode rows, decode rows + the prefill share with them', async (t) => {
  const config = { maxBatchTokens: 512, maxPrefillTokensWithDecode: 64 };
  t.equal(stepTokenBudget(config, 0), 512, 'an idle worker takes a whole prompt chunk');
  t.equal(stepTokenBudget(config, 1), 65);
  t.equal(stepTokenBudget(config, 32), 96);
  t.equal(stepTokenBudget(config, 500), 512, 'never above maxBatchTokens');
  t.equal(stepTokenBudget({ maxBatchTokens: 32, maxPrefillTokensWithDecode: 64 }, 32), 32, 'decode rows alone may fill the step');
  t.equal(stepTokenBudget({ maxBatchTokens: 16, maxPrefillTokensWithDecode: 4 }, 20), 20, 'every decode row fits even past maxBatchTokens');
});

t.test('the config checks the prefill share and defaults it', async (t) => {
  const base = { workers: 1, maxSlotsPerWorker: 4, maxBatchTokens: 64, maxModelLen: 256 };
  t.ok(resolveSchedulerConfig(base).maxPrefillTokensWithDecode >= 1, 'a default is filled in');
  t.throws(() => resolveSchedulerConfig({ ...base, maxPrefillTokensWithDecode: 0 }), SchedulerConfigError);
  t.throws(() => resolveSchedulerConfig({ ...base, maxPrefillTokensWithDecode: 2.5 }), SchedulerConfigError);
});

t.test('while decode rows wait, a long prompt is chunked by the prefill share; alone it gets the whole step', async (t) => {
  const sched = new Scheduler({ workers: 1, maxSlotsPerWorker: 4, maxBatchTokens: 128, maxModelLen: 512, capacityGranule: 16, maxPrefillTokensWithDecode: 8 });
  const model = hashModel(VOCAB);
  const fake = new FakeWorkers(1, sched.config, model);
  const requests = {
    a: { promptTokenIds: range(100), maxTokens: 30 },
    b: { promptTokenIds: range(100, 7), maxTokens: 5 },
  };
  sched.add({ id: 'a', ...requests.a });
  let added = false;
  const res = drive(sched, fake, {
    // b arrives once a is decoding.
    beforeStep: () => {
      if (!added && (sched.get('a')?.outputTokenIds.length ?? 0) >= 2) {
        sched.add({ id: 'b', ...requests.b });
        added = true;
      }
    },
  });
  const prefillOf = (id: string) => res.plans.flatMap((p) => p.rows.filter((r) => r.seqId === id && r.tokens.length > 1).map((r) => r.tokens.length));
  t.same(prefillOf('a'), [100], "a's prompt went in one step: nothing was decoding");
  const bChunks = prefillOf('b');
  t.ok(bChunks.every((n) => n <= 8), `b's chunks next to a's decode row are at most 8 tokens: ${bChunks.join(',')}`);
  for (const plan of res.plans) {
    // Decode rows of running sequences; a follow-on row (after its chunk) comes out of the prefill share.
    const decodeRows = plan.rows.filter((r, i) => r.tokens.length === 1 && r.slotAction === 'continue' && plan.rows[i - 1]?.seqId !== r.seqId).length;
    t.equal(plan.numTokens, plan.rows.reduce((n, r) => n + r.tokens.length, 0), 'numTokens counts the rows');
    if (decodeRows > 0) t.ok(plan.numTokens <= decodeRows + 8, `step ${plan.step}: ${plan.numTokens} tokens with ${decodeRows} decode rows`);
  }
  for (const [id, req] of Object.entries(requests)) t.same(res.streams.get(id), referenceStream(id, req, model, 512).tokens, `${id}: same tokens as alone`);
});

t.test('with the share at maxBatchTokens, the step is filled as before', async (t) => {
  const sched = new Scheduler({ workers: 1, maxSlotsPerWorker: 4, maxBatchTokens: 64, maxModelLen: 512, capacityGranule: 16, maxPrefillTokensWithDecode: 64 });
  const fake = new FakeWorkers(1, sched.config, hashModel(VOCAB));
  sched.add({ id: 'a', promptTokenIds: range(10), maxTokens: 20 });
  sched.add({ id: 'b', promptTokenIds: range(300), maxTokens: 2 });
  const res = drive(sched, fake);
  const full = res.plans.filter((p) => p.rows.some((r) => r.seqId === 'a' && r.tokens.length === 1) && p.rows.some((r) => r.seqId === 'b' && r.tokens.length > 1));
  t.ok(full.length > 0, 'b prefilled next to a decoding');
  t.ok(full.every((p) => p.numTokens === 64 || p.rows.some((r) => r.seqId === 'b' && r.sample)), 'every mixed step but the last chunk is full');
});
