// Test doubles for the scheduler: fake device workers that keep each slot's
// KV as the literal list of tokens fed to it, and a fake model whose next
// token is a deterministic function of a slot's full KV contents. Because the
// fake workers sample from what they were actually fed (not from scheduler
// state), a wrong startPos, a lost chunk or a bad recompute shows up as a
// different token stream.

import type { Scheduler } from '../../src/scheduler/scheduler.js';
import type { SampledToken, SeqId, StepOutcome, StepPlan } from '../../src/scheduler/types.js';
import { PENDING_TOKEN, PREFIX_BLOCK_SIZE, type BlockSave } from '../../src/worker/types.js';

/** Next token from the whole history (prompt + generated so far). FNV-1a over the ids. */
export function hashModel(vocab: number): (seqId: SeqId, history: readonly number[]) => number {
  return (_seqId, history) => {
    let h = 0x811c9dc5;
    for (const t of history) {
      h ^= t;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h % vocab;
  };
}

export type FakeModel = (seqId: SeqId, history: readonly number[]) => number;

export interface RefRequest {
  promptTokenIds: readonly number[];
  maxTokens: number;
  eosTokenIds?: readonly number[];
  ignoreEos?: boolean;
  stopTokenIds?: readonly number[];
}

/** Does sampling `token` end this request with reason 'stop'? (EOS unless ignored, or a stop id.) */
export function stopsOn(req: RefRequest, token: number): boolean {
  return (!req.ignoreEos && (req.eosTokenIds ?? []).includes(token)) || (req.stopTokenIds ?? []).includes(token);
}

/** Independent reference: generate one sequence alone, token by token. */
export function referenceStream(
  seqId: SeqId,
  req: RefRequest,
  model: FakeModel,
  maxModelLen: number,
): { tokens: number[]; reason: 'stop' | 'length' } {
  const history = [...req.promptTokenIds];
  const tokens: number[] = [];
  for (;;) {
    const t = model(seqId, history);
    history.push(t);
    tokens.push(t);
    if (stopsOn(req, t)) {
      return { tokens, reason: 'stop' };
    }
    if (tokens.length >= req.maxTokens || history.length >= maxModelLen) return { tokens, reason: 'length' };
  }
}

export interface Limits {
  maxSlotsPerWorker: number;
  maxBatchTokens: number;
  kvBudgetTokensPerWorker: number;
  maxModelLen: number;
}

/**
 * Device workers that check every plan against the StepPlan contract, then "run" it.
 * Like the real device worker, they feed PENDING_TOKEN as the token they last
 * sampled for the sequence, and skip rows of a sequence they saw stop (`stops`).
 */
export class FakeWorkers {
  /** Per worker: seqId → tokens in that slot's KV, in position order. */
  readonly slots: Map<SeqId, number[]>[];
  /** Rows skipped because their sequence had stopped (only pipelining produces them). */
  skippedRows = 0;
  /** Per worker: prefix-cache block id → the tokens copied into it. */
  readonly blocks: Map<number, number[]>[];
  /** Positions taken from cached blocks instead of fed. */
  loadedPositions = 0;
  private readonly lastSampled: Map<SeqId, number>[];
  private readonly stopped: Set<SeqId>[];

  constructor(
    workers: number,
    private readonly limits: Limits,
    private readonly model: FakeModel,
    private readonly stops: (seqId: SeqId, token: number) => boolean = () => false,
  ) {
    this.slots = Array.from({ length: workers }, () => new Map());
    this.blocks = Array.from({ length: workers }, () => new Map());
    this.lastSampled = Array.from({ length: workers }, () => new Map());
    this.stopped = Array.from({ length: workers }, () => new Set());
  }

  run(plan: StepPlan): SampledToken[] {
    const slots = this.slots[plan.worker];
    const lastSampled = this.lastSampled[plan.worker];
    const stopped = this.stopped[plan.worker];
    const blocks = this.blocks[plan.worker];
    this.applyCache(plan, plan.cacheDrops, plan.cacheSaves);
    for (const id of plan.freed) {
      if (!slots.delete(id)) throw new Error(`plan ${plan.step}: freed ${id} holds no slot on worker ${plan.worker}`);
      lastSampled.delete(id);
      stopped.delete(id);
    }
    checkRowsPerSequence(plan);
    let numTokens = 0;
    const sampled: SampledToken[] = [];
    for (const row of plan.rows) {
      if (row.tokens.length === 0) throw new Error(`plan ${plan.step}: empty row for ${row.seqId}`);
      numTokens += row.tokens.length;
      const pending = row.tokens.indexOf(PENDING_TOKEN);
      if (pending >= 0 && pending !== row.tokens.length - 1) throw new Error(`plan ${plan.step}: ${row.seqId} has a pending token before its last`);
      if (stopped.has(row.seqId)) {
        this.skippedRows++;
        continue;
      }
      const tokens = row.tokens.slice();
      if (pending >= 0) {
        const last = lastSampled.get(row.seqId);
        if (last === undefined) throw new Error(`plan ${plan.step}: ${row.seqId} feeds a pending token it never sampled`);
        tokens[pending] = last;
      }
      let kv = slots.get(row.seqId);
      if (row.slotAction === 'new') {
        if (kv) throw new Error(`plan ${plan.step}: 'new' for ${row.seqId} which already holds a slot`);
        kv = [];
        for (const id of row.prefixBlocks ?? []) {
          const block = blocks.get(id);
          if (!block) throw new Error(`plan ${plan.step}: ${row.seqId} loads block ${id}, which is not held`);
          kv.push(...block);
        }
        this.loadedPositions += kv.length;
        slots.set(row.seqId, kv);
      } else if (!kv) {
        throw new Error(`plan ${plan.step}: 'continue' for ${row.seqId} without a slot`);
      }
      if (row.startPos !== kv.length) {
        throw new Error(`plan ${plan.step}: ${row.seqId} startPos ${row.startPos} but KV holds ${kv.length}`);
      }
      kv.push(...tokens);
      if (row.sample) {
        const tokenId = this.model(row.seqId, kv);
        sampled.push({ seqId: row.seqId, token: tokenId });
        lastSampled.set(row.seqId, tokenId);
        if (this.stops(row.seqId, tokenId)) stopped.add(row.seqId);
      }
    }
    this.applyCache(plan, plan.cacheDropsAfterRun, plan.cacheSavesAfterRun);
    if (numTokens !== plan.numTokens) throw new Error(`plan ${plan.step}: numTokens ${plan.numTokens} ≠ ${numTokens}`);
    if (numTokens > this.limits.maxBatchTokens) throw new Error(`plan ${plan.step}: ${numTokens} tokens > budget`);
    if (slots.size > this.limits.maxSlotsPerWorker) throw new Error(`plan ${plan.step}: ${slots.size} slots`);
    for (const [id, kv] of slots) {
      if (kv.length > plan.capacity) throw new Error(`plan ${plan.step}: ${id} KV ${kv.length} > capacity ${plan.capacity}`);
    }
    if (plan.capacity > this.limits.maxModelLen) throw new Error(`plan ${plan.step}: capacity > maxModelLen`);
    if (slots.size * plan.capacity + blocks.size * PREFIX_BLOCK_SIZE > this.limits.kvBudgetTokensPerWorker) {
      throw new Error(`plan ${plan.step}: ${slots.size} × ${plan.capacity} + ${blocks.size} cached blocks over KV budget`);
    }
    return sampled;
  }

  /** Drops, then copies the named blocks out of their sequences' slots (literal tokens). */
  private applyCache(plan: StepPlan, drops: number[], saves: BlockSave[]): void {
    const slots = this.slots[plan.worker];
    const blocks = this.blocks[plan.worker];
    for (const id of drops) {
      if (!blocks.delete(id)) throw new Error(`plan ${plan.step}: dropped block ${id} is not held`);
    }
    for (const { seqId, index, id } of saves) {
      const kv = slots.get(seqId);
      const end = (index + 1) * PREFIX_BLOCK_SIZE;
      if (!kv || kv.length < end) throw new Error(`plan ${plan.step}: block ${index} of ${seqId} is not in its slot (${kv?.length ?? 'none'})`);
      blocks.set(id, kv.slice(end - PREFIX_BLOCK_SIZE, end));
    }
  }

  totalSlots(): number {
    return this.slots.reduce((n, m) => n + m.size, 0);
  }
}

/**
 * A sequence has one row in a plan, or two: a sampling chunk of several tokens
 * and right after it its follow-on row, one PENDING_TOKEN at the next position
 * that samples too.
 */
export function checkRowsPerSequence(plan: StepPlan): void {
  const seen = new Set<SeqId>();
  plan.rows.forEach((row, i) => {
    if (!seen.has(row.seqId)) {
      seen.add(row.seqId);
      return;
    }
    const chunk = plan.rows[i - 1];
    const followsOn =
      chunk?.seqId === row.seqId &&
      chunk.sample &&
      chunk.tokens.length > 1 &&
      row.sample &&
      row.slotAction === 'continue' &&
      row.tokens.length === 1 &&
      row.tokens[0] === PENDING_TOKEN &&
      row.startPos === chunk.startPos + chunk.tokens.length &&
      (i < 2 || plan.rows[i - 2].seqId !== row.seqId);
    if (!followsOn) throw new Error(`plan ${plan.step}: ${row.seqId} has a second row that is not its chunk's follow-on row`);
  });
}

export interface DriveResult {
  /** Tokens streamed per sequence, in order, from StepOutcome.tokens. */
  streams: Map<SeqId, number[]>;
  reasons: Map<SeqId, 'stop' | 'length'>;
  plans: StepPlan[];
  outcomes: StepOutcome[];
  preemptions: number;
  steps: number;
}

/**
 * Run schedule → fake workers → postprocess in lock-step until the scheduler is idle.
 * `beforeStep(i)` may add or abort sequences; `afterPlan` may inspect each plan.
 */
export function drive(
  sched: Scheduler,
  fake: FakeWorkers,
  opts: { maxSteps?: number; beforeStep?: (i: number) => void; afterPlan?: (p: StepPlan) => void } = {},
): DriveResult {
  const res: DriveResult = {
    streams: new Map(),
    reasons: new Map(),
    plans: [],
    outcomes: [],
    preemptions: 0,
    steps: 0,
  };
  const maxSteps = opts.maxSteps ?? 100_000;
  for (let i = 0; ; i++) {
    opts.beforeStep?.(i);
    if (!sched.hasWork()) break;
    if (i >= maxSteps) throw new Error(`no completion after ${maxSteps} steps`);
    const plans = sched.schedule();
    res.steps++;
    for (const plan of plans) {
      res.plans.push(plan);
      const sampled = fake.run(plan);
      opts.afterPlan?.(plan);
      const out = sched.postprocess(plan, sampled);
      res.outcomes.push(out);
      res.preemptions += out.preempted.length;
      for (const { seqId, token: tokenId } of out.tokens) {
        const s = res.streams.get(seqId) ?? [];
        s.push(tokenId);
        res.streams.set(seqId, s);
      }
      for (const f of out.finished) res.reasons.set(f.seqId, f.reason);
    }
  }
  return res;
}

export function range(n: number, from = 1): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}
