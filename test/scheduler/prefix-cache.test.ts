// Prefix caching in the scheduler, against fake workers that keep each slot's
// KV as the literal tokens fed to it and each cached block as the tokens
// copied into it: a wrong block loaded, or one saved before its positions
// were computed, changes the fake model's output and fails the comparison
// with the one-at-a-time reference.

import t from 'tap';
import { PREFIX_BLOCK_SIZE, PrefixCache, chainHash, type BlockSource } from '../../src/scheduler/prefix-cache.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import type { SchedulerConfigInput, SequenceRequest, StepPlan } from '../../src/scheduler/types.js';
import { drive, FakeWorkers, hashModel, referenceStream } from './harness.js';

const VOCAB = 1000;
const B = PREFIX_BLOCK_SIZE;

function setup(cfg: Partial<SchedulerConfigInput> = {}) {
  const sched = new Scheduler({ workers: 1, maxSlotsPerWorker: 4, maxBatchTokens: 64, maxModelLen: 256, capacityGranule: 16, prefixCaching: true, ...cfg });
  const model = hashModel(VOCAB);
  return { sched, model, fake: new FakeWorkers(sched.config.workers, sched.config, model) };
}

function tokens(length: number, seed: number): number[] {
  return Array.from({ length }, (_, i) => (i * 31 + seed * 97 + 1) % VOCAB);
}

/** Runs `reqs` one after another (each alone), returning each one's plans and output. */
function runAlone(sched: Scheduler, fake: FakeWorkers, reqs: SequenceRequest[]): { plans: StepPlan[]; out: number[] }[] {
  return reqs.map((req) => {
    sched.add(req);
    const res = drive(sched, fake);
    return { plans: res.plans, out: res.streams.get(req.id) ?? [] };
  });
}

function admissionOf(plans: StepPlan[], id: string) {
  for (const plan of plans) for (const row of plan.rows) if (row.seqId === id && row.slotAction === 'new') return { plan, row };
  throw new Error(`${id} was never admitted`);
}

t.test('multi-turn: turn k+1 starts from turn k prompt and answer, exactly as far as whole blocks reach', async (t) => {
  const { sched, fake, model } = setup();
  const turn1 = { id: 't1', promptTokenIds: tokens(40, 1), maxTokens: 20, ignoreEos: true };
  const [first] = runAlone(sched, fake, [turn1]);
  t.same(first.out, referenceStream('t1', turn1, model, 256).tokens);
  // Turn 1's KV covers its prompt and 19 of its 20 answer tokens (the last was sampled, never fed): 59 → 3 blocks.
  const turn2 = { id: 't2', promptTokenIds: [...turn1.promptTokenIds, ...first.out, ...tokens(5, 2)], maxTokens: 10, ignoreEos: true };
  const hitsBefore = sched.prefixHits;
  const [second] = runAlone(sched, fake, [turn2]);
  const { row } = admissionOf(second.plans, 't2');
  t.equal(row.startPos, 48, 'starts after 3 cached blocks');
  t.same(row.prefixBlocks?.length, 3);
  t.equal(sched.prefixHits - hitsBefore, 48, 'hits count the reused positions');
  t.same(second.out, referenceStream('t2', turn2, model, 256).tokens, 'same output as computing it all');

  const turn3 = { id: 't3', promptTokenIds: [...turn2.promptTokenIds, ...second.out, ...tokens(7, 3)], maxTokens: 4, ignoreEos: true };
  const [third] = runAlone(sched, fake, [turn3]);
  t.equal(admissionOf(third.plans, 't3').row.startPos, Math.floor((turn2.promptTokenIds.length + 10 - 1) / B) * B, 'turn 3 reuses turn 2 whole');
  t.same(third.out, referenceStream('t3', turn3, model, 256).tokens);
});

t.test('a partial block and an identical prompt', async (t) => {
  const { sched, fake, model } = setup();
  const stem = tokens(37, 4);
  const reqs = [
    { id: 'a', promptTokenIds: [...stem, 1, 2, 3], maxTokens: 3, ignoreEos: true },
    { id: 'b', promptTokenIds: [...stem, 9], maxTokens: 3, ignoreEos: true }, // shares 37: 2 whole blocks
    { id: 'c', promptTokenIds: [...stem, 9], maxTokens: 3, ignoreEos: true }, // identical to b: all but the last token's block
  ];
  const runs = runAlone(sched, fake, reqs);
  t.equal(admissionOf(runs[1].plans, 'b').row.startPos, 32);
  t.equal(admissionOf(runs[2].plans, 'c').row.startPos, 32, '38 tokens: blocks [0, 32) cached, the last position always computed');
  runs.forEach((run, i) => t.same(run.out, referenceStream(reqs[i].id, reqs[i], model, 256).tokens, `${reqs[i].id}: same output`));
  t.equal(sched.prefixQueries, 40 + 38 + 38);
});

t.test('a prefix a running sequence is still extending is reused while it runs', async (t) => {
  const { sched, fake, model } = setup({ maxBatchTokens: 24 });
  const long = { id: 'long', promptTokenIds: tokens(50, 5), maxTokens: 60, ignoreEos: true };
  const follower = { id: 'f', promptTokenIds: [...long.promptTokenIds, 7, 7], maxTokens: 5, ignoreEos: true };
  sched.add(long);
  let admittedAt = -1;
  const res = drive(sched, fake, {
    beforeStep: (i) => {
      if (i === 4) sched.add(follower); // long's prompt took 3 chunks of 24 positions; it is decoding now
    },
    afterPlan: (plan) => {
      const row = plan.rows.find((r) => r.seqId === 'f' && r.slotAction === 'new');
      if (row) {
        admittedAt = row.startPos;
        t.equal(sched.get('long')?.status, 'running', 'the donor is still running');
      }
    },
  });
  t.equal(admittedAt, 48, "the follower loads the donor's 3 whole prompt blocks");
  t.same(res.streams.get('f'), referenceStream('f', follower, model, 256).tokens);
  t.same(res.streams.get('long'), referenceStream('long', long, model, 256).tokens);
});

t.test('a tiny KV budget: cached blocks are evicted before anything is preempted', async (t) => {
  const budget = 128;
  const reqs = [
    { id: 'a', promptTokenIds: tokens(40, 6), maxTokens: 8, ignoreEos: true },
    { id: 'b', promptTokenIds: tokens(50, 7), maxTokens: 10, ignoreEos: true },
    { id: 'c', promptTokenIds: tokens(50, 8), maxTokens: 10, ignoreEos: true },
  ];
  const outcome = (prefixCaching: boolean) => {
    const { sched, fake } = setup({ kvBudgetTokensPerWorker: budget, maxModelLen: 64, prefixCaching });
    sched.add(reqs[0]);
    drive(sched, fake);
    const cachedAfterA = sched.usage()[0].cachedTokens;
    sched.add(reqs[1]);
    sched.add(reqs[2]);
    const res = drive(sched, fake);
    return { cachedAfterA, res, sched };
  };
  const on = outcome(true);
  const off = outcome(false);
  t.equal(on.cachedAfterA, 32, "a's two whole blocks stay cached once it finished");
  // b and c need 64 positions each: the whole budget. The cache must go, nobody is preempted.
  t.equal(on.res.preemptions, 0, 'no preemption with the cache on');
  t.equal(off.res.preemptions, 0, 'none with it off either');
  t.ok(on.res.plans.some((p) => p.cacheDrops.length > 0), 'the workers were told to drop evicted blocks');
  for (const id of ['b', 'c']) t.same(on.res.streams.get(id), off.res.streams.get(id), `${id}: same output`);
  for (const u of on.sched.usage()) t.ok(u.costTokens + u.cachedTokens <= budget);
});

t.test('placement: the worker holding the prefix wins within the slack, and a lost worker loses its cache', async (t) => {
  const { sched, fake } = setup({ workers: 2, maxSlotsPerWorker: 12 });
  const stem = tokens(48, 9);
  sched.add({ id: 'seed', promptTokenIds: [...stem, 1], maxTokens: 2, ignoreEos: true });
  const home = admissionOf(drive(sched, fake).plans, 'seed').plan.worker;
  const plans: StepPlan[] = [];
  const step = () => {
    for (const p of sched.schedule()) {
      plans.push(p);
      sched.postprocess(p, fake.run(p));
    }
  };
  /** Long-running sequences held to the home worker (as a grammar compiled there would pin them). */
  const busyAtHome = (count: number, from: number) => {
    for (let i = from; i < from + count; i++) {
      sched.add({ id: `busy${i}`, promptTokenIds: tokens(5, 20 + i), maxTokens: 200, ignoreEos: true, held: true });
      sched.ready(`busy${i}`, home);
    }
    step();
  };
  busyAtHome(2, 0);
  sched.add({ id: 'x', promptTokenIds: [...stem, 2], maxTokens: 2, ignoreEos: true });
  step();
  t.equal(admissionOf(plans, 'x').plan.worker, home, 'placed where its prefix is cached, though that worker runs 2 more');
  t.equal(admissionOf(plans, 'x').row.startPos, 48);

  busyAtHome(4, 2); // home now runs 6 more than the other: beyond the slack of 4
  sched.add({ id: 'y', promptTokenIds: [...stem, 3], maxTokens: 2, ignoreEos: true });
  step();
  t.not(admissionOf(plans, 'y').plan.worker, home, 'a worker far busier loses the request despite its cache');
  t.equal(admissionOf(plans, 'y').row.startPos, 0);

  sched.forgetCache(home);
  for (let i = 0; i < 6; i++) sched.abort(`busy${i}`);
  step();
  sched.add({ id: 'z', promptTokenIds: [...stem, 4], maxTokens: 2, ignoreEos: true, held: true });
  sched.ready('z', home);
  step();
  t.equal(admissionOf(plans, 'z').row.startPos, 0, 'after forgetCache nothing is reused there');
});

/** A sequence as PrefixCache sees it: blocks of known tokens with a chained hash (or a forced one). */
function source(id: string, toks: number[], forcedHash?: number): BlockSource {
  const hashes: number[] = [];
  return {
    id,
    blockTokens: (i) => toks.slice(i * B, (i + 1) * B),
    blockHash(i) {
      while (hashes.length <= i) hashes.push(forcedHash ?? chainHash(hashes.at(-1) ?? 0, toks.slice(hashes.length * B, (hashes.length + 1) * B)));
      return hashes[i];
    },
  };
}

t.test('PrefixCache: least recently used leaves go first; a colliding hash is a miss', async (t) => {
  const cache = new PrefixCache();
  const a = source('a', tokens(3 * B, 12));
  const b = source('b', tokens(2 * B, 13));
  t.equal(cache.save(a, 3, 10), 3);
  t.equal(cache.save(b, 2, 10), 2);
  t.same(cache.take().saves.map((s) => `${s.seqId}${s.index}`), ['a0', 'a1', 'a2', 'b0', 'b1'], 'one copy per new block');
  cache.match(a, 3); // a is now the most recent
  cache.take();
  t.equal(cache.evict(1), 1);
  t.equal(cache.peek(b, 2), 1, "b's leaf went first");
  t.equal(cache.peek(a, 3), 3);
  cache.evict(2);
  t.equal(cache.peek(b, 2), 0);
  t.equal(cache.peek(a, 3), 2, "then a's leaf, never a parent before its child");
  t.same(cache.take().drops.length, 3, 'evicted blocks are handed to the worker to drop');

  const forged = source('z', tokens(B, 14), a.blockHash(0));
  t.equal(cache.peek(forged, 1), 0, 'same hash, other tokens: not a hit');
  t.equal(cache.save(forged, 1, 10), 0, 'and the holder is kept');
});

t.test('PrefixCache: a block evicted before its copy was handed over is not copied at all', async (t) => {
  const cache = new PrefixCache();
  cache.save(source('a', tokens(2 * B, 15)), 2, 10);
  cache.evict(2);
  const { saves, drops } = cache.take();
  t.same(saves, [], 'its copy is cancelled');
  t.same(drops, [], 'and there is nothing to drop');
});

t.test('placement: a sibling with the same prompt outranks a cached prefix elsewhere (n choices stay together)', async (t) => {
  const { sched, fake } = setup({ workers: 2, maxSlotsPerWorker: 8 });
  const prompt = tokens(48, 30);
  sched.add({ id: 'seed', promptTokenIds: [...prompt, 1], maxTokens: 2, ignoreEos: true });
  const home = admissionOf(drive(sched, fake).plans, 'seed').plan.worker;
  const other = 1 - home;
  const plans: StepPlan[] = [];
  const step = () => {
    for (const p of sched.schedule()) {
      plans.push(p);
      sched.postprocess(p, fake.run(p));
    }
  };
  // Choice 0 of a request goes to the other worker (its grammar was compiled there, say), which
  // caches nothing of the prompt yet; choice 1 is admitted in the same step.
  sched.add({ id: 'c0', promptTokenIds: prompt, maxTokens: 50, ignoreEos: true, held: true });
  sched.ready('c0', other);
  sched.add({ id: 'c1', promptTokenIds: prompt, maxTokens: 50, ignoreEos: true });
  step();
  t.equal(admissionOf(plans, 'c0').plan.worker, other);
  t.equal(admissionOf(plans, 'c1').plan.worker, other, 'choice 1 joins its sibling, though the home worker caches the prefix');
  sched.abort('c0');
  sched.abort('c1');
});

t.test("a prompt's blocks are copied after the step that computed them when no decode row waits for it", async (t) => {
  const { sched, fake, model } = setup();
  const req = { id: 'p', promptTokenIds: tokens(50, 4), maxTokens: 20, ignoreEos: true };
  const [{ plans, out }] = runAlone(sched, fake, [req]);
  const { plan: prefill } = admissionOf(plans, 'p');
  t.same(prefill.cacheSavesAfterRun.map((s) => s.index), [0, 1, 2], 'the prefill step copies the 3 whole blocks of the 50-token prompt after running it');
  t.same(prefill.cacheSaves, [], 'nothing before it runs');
  const firstDecode = plans[plans.indexOf(prefill) + 1];
  t.same([firstDecode.cacheSaves, firstDecode.cacheSavesAfterRun], [[], []], 'the first decode step copies nothing');
  const completing = plans.findIndex((p) => p.rows.some((r) => r.seqId === 'p' && r.startPos + r.tokens.length === 4 * B));
  t.same(plans[completing].cacheSavesAfterRun, [], 'the decode step that fills block 3 leaves it: its row waits for the step');
  t.same(plans[completing + 1].cacheSaves.map((s) => s.index), [3], 'the next step copies it before running');
  t.same(out, referenceStream('p', req, model, 256).tokens);
});
