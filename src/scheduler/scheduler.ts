// Continuous-batching policy: which sequences run on which worker this step,
// with how many tokens each. Plain data in (requests, sampled tokens), plain
// data out (StepPlans, finished sequences). No I/O, no timers, no tensors.
//
// Policy, in one place:
// - Admission takes from one global waiting queue: preempted sequences first,
//   then the oldest sequence of the request (group) with the fewest sequences
//   running — a request's prompts × n sequences take turns with later
//   requests rather than all going first. Sequences whose grammar is still
//   compiling are held (skipped) until ready(); so are those whose sibling
//   choices (same request, same prompt) run on a worker not being planned
//   (they share one: running-index.ts). That head is placed on a
//   worker being planned with a free slot, token budget left this step, and KV
//   room for its whole known length + 1 (look-ahead, so a long prompt is not
//   admitted only to be evicted a few chunks later): one running a sequence
//   with the same prompt, else the one caching the longest prefix of it, else
//   the least loaded (placement.ts). It starts from its cached prefix.
//   If no worker can take the head, admission stops: nothing overtakes it, so a
//   big prompt is never starved by small ones (a head pinned to one worker stops
//   admission there only). 'priority' policy: all of this
//   among the waiting sequences of the lowest priority value (admission-order.ts).
// - A step mixes rows. Every decode-ready sequence (exactly one uncomputed
//   token) gets its row first, so decode never starves; the rest of the step's
//   budget (step-budget.ts: smaller while decode rows wait) goes to prefill
//   chunks, oldest sequence first, then to new admissions. A long prompt is cut into chunks across steps; only the chunk
//   that reaches the end of the known tokens samples, and a decode row fed its token follows it (addRow).
// - Prefix caching (worker-cache.ts): whole blocks of computed KV are copied
//   into the worker's cache as sequences compute them and when they end; the
//   cache lives in the KV budget that running sequences leave free and gives
//   way (LRU) before anything waits or is preempted.
// - KV growth that breaks a worker's budget (the cache evicted first) evicts
//   its youngest running sequence ('priority': the largest (priority,
//   arrival)) until the rest fits (preemption by recompute). The victim returns
//   to the waiting queue ahead of every never-admitted request of its priority
//   (ordered by arrival), keeps its generated tokens and restarts from
//   numComputedTokens=0: its next "prefill" covers prompt + generated tokens and
//   samples the next new token, so nothing is sent twice.
// - Progress: the oldest ('priority': first by (priority, arrival)) sequence on a worker
//   is never the victim while others share it, and alone it always fits (budget ≥ maxModelLen).
//
// Protocol: schedule() plans every worker with fewer than pipelineDepth plans
// in flight. The caller runs each plan on its worker, then calls
// postprocess(plan, sampled) for it; a worker's plans are postprocessed in the
// order they were planned. Placement only considers the workers being
// planned; calling schedule() when all workers are idle (lock-step) gives
// exact least-loaded placement.
//
// Pipelining (pipelineDepth 2): a worker's next plan is formed while its
// current one runs, so the worker goes from one step to the next without a
// round trip through the scheduler. A row's planned tokens advance
// numComputedTokens when it is planned; a token sampled by a plan still in
// flight is fed as PENDING_TOKEN (the worker knows what it sampled). A
// sequence at its length limit once its pending samples land gets no further
// row. One that stops on EOS may get one row too many: the worker skips rows
// of a sequence it saw stop, and postprocess drops results of sequences that
// are no longer running, or were preempted (and maybe re-admitted) after the
// plan was formed.

import { insertByArrival, nextCandidate, preemptionVictim, priorityProblem } from './admission-order.js';
import { resolveSchedulerConfig } from './config.js';
import { InvalidSequenceError, SchedulerProtocolError } from './errors.js';
import { WorkerKvAccount } from './kv-accounting.js';
import { stepTokenBudget } from './step-budget.js';
import { PREFIX_BLOCK_SIZE } from './prefix-cache.js';
import { WorkerCache } from './worker-cache.js';
import { chooseWorker, type PlacementDraft } from './placement.js';
import { RunningIndex } from './running-index.js';
import { matchSamples } from './sample-matching.js';
import { Sequence, type SequenceRequest, type SequenceView } from './sequence.js';
import { PENDING_TOKEN } from '../worker/types.js';
import type { FinishedSequence, PlannedRow, SampledToken, SchedulerConfig, SchedulerConfigInput, SeqId, StepOutcome, StepPlan } from './types.js';

interface InFlight {
  plan: StepPlan;
  /** Sequence objects of plan.rows, same order (identity survives id reuse after abort). */
  seqs: Sequence[];
  /** Each row's sequence's numPreemptions when planned: a later incarnation ignores this plan's results. */
  epochs: number[];
}

interface WorkerState {
  readonly index: number;
  readonly kv: WorkerKvAccount;
  readonly cache: WorkerCache;
  /** Sorted by arrival, oldest first. */
  readonly running: Sequence[];
  /** Slots to release in this worker's next plan. */
  pendingFreed: SeqId[];
  /** Plans running or queued on the worker, oldest first (at most pipelineDepth). */
  readonly inFlight: InFlight[];
}

/** A plan being built for one idle worker during schedule(). */
interface Draft extends PlacementDraft {
  readonly worker: WorkerState;
  readonly rows: PlannedRow[];
  readonly seqs: Sequence[];
  readonly preempted: SeqId[];
  tokensLeft: number;
}

export interface WorkerUsage {
  worker: number;
  activeSlots: number;
  capacity: number;
  costTokens: number;
  /** Positions the prefix cache holds (within the budget, beside costTokens). */
  cachedTokens: number;
  budgetTokens: number;
  busy: boolean;
}

export class Scheduler {
  readonly config: SchedulerConfig;
  private readonly waiting: Sequence[] = [];
  /** Every waiting or running sequence. */
  private readonly live = new Map<SeqId, Sequence>();
  private readonly workers: WorkerState[];
  private nextArrival = 0;
  private nextStep = 0;
  /** Running sequences per request group (fair admission), and the worker each prompt's choices share. */
  private readonly running = new RunningIndex();
  /** Positions admissions looked up in the prefix cache, and found there (vLLM's prefix_cache_queries / hits). */
  prefixQueries = 0;
  prefixHits = 0;

  constructor(config: SchedulerConfigInput) {
    this.config = resolveSchedulerConfig(config);
    const limits = {
      maxSlots: this.config.maxSlotsPerWorker,
      budgetTokens: this.config.kvBudgetTokensPerWorker,
      granule: this.config.capacityGranule,
      maxModelLen: this.config.maxModelLen,
    };
    this.workers = Array.from({ length: this.config.workers }, (_, index) => {
      const kv = new WorkerKvAccount(limits);
      return { index, kv, cache: new WorkerCache(kv, this.config.prefixCaching), running: [], pendingFreed: [], inFlight: [] };
    });
  }

  /**
   * Queue a request. Throws InvalidSequenceError (HTTP 400) for maxTokens < 1
   * and for a priority out of range or not enabled (see priorityProblem).
   * The caller refuses prompts that cannot fit first (Engine.checkPrompt, which
   * names the request's parameter); one that gets here anyway is a
   * SchedulerProtocolError, as is an empty one.
   * maxTokens is clipped to maxModelLen - promptLength (see SequenceView.maxTokens;
   * requestedMaxTokens keeps the original).
   */
  add(request: SequenceRequest): SequenceView {
    const promptLen = request.promptTokenIds.length;
    const { maxModelLen } = this.config;
    if (promptLen === 0 || promptLen > maxModelLen - 1) {
      throw new SchedulerProtocolError(`a prompt of ${promptLen} tokens cannot run in a context of ${maxModelLen}`);
    }
    if (!Number.isInteger(request.maxTokens) || request.maxTokens < 1) {
      throw new InvalidSequenceError(
        'invalid_max_tokens',
        `max_tokens must be an integer ≥ 1, got ${request.maxTokens}`,
        'max_tokens',
      );
    }
    const priorityError = priorityProblem(request.priority ?? 0, this.config.schedulingPolicy);
    if (priorityError !== null) throw new InvalidSequenceError('invalid_value', priorityError, 'priority');
    if (this.live.has(request.id)) throw new SchedulerProtocolError(`sequence id ${request.id} is already live`);

    const maxTokens = Math.min(request.maxTokens, maxModelLen - promptLen);
    const seq = new Sequence(request, maxTokens, this.nextArrival++);
    this.waiting.push(seq);
    this.live.set(seq.id, seq);
    return seq;
  }

  /**
   * Cancel a waiting or running sequence at once. A running one's slot is
   * counted free immediately and released by its worker at the start of that
   * worker's next plan. Returns false if the id is not live (finished or unknown).
   */
  abort(id: SeqId): boolean {
    const seq = this.live.get(id);
    if (!seq) return false;
    if (seq.status === 'waiting') {
      this.waiting.splice(this.waiting.indexOf(seq), 1);
    } else {
      this.releaseSlot(seq, seq.length);
    }
    seq.status = 'finished';
    this.live.delete(id);
    return true;
  }

  /**
   * A held sequence may be admitted now, on `worker` only (its grammar was
   * compiled there), or on any worker (null). Returns false if it is not waiting.
   */
  ready(id: SeqId, worker: number | null): boolean {
    const seq = this.live.get(id);
    if (!seq || seq.status !== 'waiting') return false;
    seq.held = false;
    seq.pinnedWorker = worker;
    return true;
  }

  /** Plans for every worker with room in its pipeline that has rows to run or slots to release. */
  schedule(): StepPlan[] {
    const drafts: Draft[] = [];
    for (const worker of this.workers) {
      if (worker.inFlight.length < this.config.pipelineDepth) drafts.push(this.planRunning(worker));
    }
    // Blocks the running sequences completed in earlier plans: this plan copies them before its admissions load any.
    for (const d of drafts) for (const seq of d.worker.running) d.worker.cache.save(seq, Math.min(seq.numComputedTokens, seq.length));
    this.admit(drafts);

    const plans: StepPlan[] = [];
    for (const d of drafts) {
      const w = d.worker;
      const { saves, drops } = w.cache.take();
      if (d.rows.length === 0 && w.pendingFreed.length === 0 && saves.length === 0 && drops.length === 0) continue;
      // A step no running sequence's decode row waits for copies the blocks it completes itself (see cacheSavesAfterRun).
      const saveAfterRun = d.rows.every((row, i) => row.tokens.length > 1 || d.seqs[i] === d.seqs[i - 1]);
      d.rows.forEach((row, i) => {
        const seq = d.seqs[i];
        seq.numComputedTokens += row.tokens.length;
        if (row.sample) seq.pendingSamples++;
        if (saveAfterRun) w.cache.save(seq, Math.min(seq.numComputedTokens, seq.length));
      });
      const afterRun = w.cache.take();
      const capacityCeiling = Math.max(0, ...w.running.map((seq) => seq.promptTokenIds.length + seq.maxTokens));
      const plan: StepPlan = {
        step: this.nextStep++,
        worker: w.index,
        freed: w.pendingFreed,
        preempted: d.preempted,
        rows: d.rows,
        capacity: w.kv.stepCapacity(capacityCeiling),
        capacityCeiling,
        numTokens: d.rows.reduce((n, row) => n + row.tokens.length, 0),
        cacheDrops: drops,
        cacheSaves: saves,
        cacheDropsAfterRun: afterRun.drops,
        cacheSavesAfterRun: afterRun.saves,
      };
      w.pendingFreed = [];
      w.inFlight.push({ plan, seqs: d.seqs, epochs: d.seqs.map((seq) => seq.numPreemptions) });
      plans.push(plan);
    }
    return plans;
  }

  /**
   * Apply a plan's results: append the sampled tokens, decide finishes.
   * `sampled` must hold one token per sample row whose sequence is still
   * the one planned, in row order, except a follow-on row after a token that
   * ended its sequence; tokens of sequences aborted or preempted meanwhile are
   * dropped (see matchSamples). Validates everything before changing any state.
   */
  postprocess<S extends SampledToken>(plan: StepPlan, sampled: readonly S[]): StepOutcome<S> {
    const w = this.workers[plan.worker];
    const inFlight = w?.inFlight[0];
    if (!w || !inFlight || inFlight.plan.step !== plan.step) {
      throw new SchedulerProtocolError(`postprocess: step ${plan.step} is not the oldest in flight on worker ${plan.worker}`);
    }
    const owners = inFlight.seqs.map((seq, i) => ({ alive: this.isAlive(inFlight, i, w), endsOn: (token: number) => seq.endTokenIds.has(token) }));
    const matched = matchSamples(inFlight.plan.rows, owners, sampled);

    w.inFlight.shift();
    const tokens: S[] = [];
    const finished: FinishedSequence[] = [];
    matched.forEach((sample, i) => {
      if (sample === null || !this.isAlive(inFlight, i, w)) return; // aborted, preempted or finished since it was planned
      const seq = inFlight.seqs[i];
      seq.pendingSamples--;
      seq.outputTokenIds.push(sample.token);
      tokens.push(sample);
      const reason = this.finishReason(seq, sample.token);
      if (reason) {
        this.releaseSlot(seq, seq.length - 1); // the last sampled token was never fed
        seq.status = 'finished';
        this.live.delete(seq.id);
        finished.push({
          seqId: seq.id,
          reason,
          outputTokenIds: seq.outputTokenIds,
          promptTokens: seq.promptTokenIds.length,
        });
      }
    });
    return { tokens, finished, preempted: inFlight.plan.preempted };
  }

  /** The worker lost its memory (its thread failed): its cached prefixes are gone. */
  forgetCache(worker: number): void {
    this.workers[worker].cache.clear();
  }

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numRunning(): number {
    return this.live.size - this.waiting.length;
  }

  /** True while any sequence is live or any worker has slots left to release or a plan in flight. */
  hasWork(): boolean {
    return this.live.size > 0 || this.workers.some((w) => w.pendingFreed.length > 0 || w.inFlight.length > 0);
  }

  get(id: SeqId): SequenceView | undefined {
    return this.live.get(id);
  }

  /** Waiting sequences in admission order (read-only snapshot, for metrics and tests). */
  waitingIds(): SeqId[] {
    return this.waiting.map((s) => s.id);
  }

  usage(): WorkerUsage[] {
    return this.workers.map((w) => ({
      worker: w.index,
      activeSlots: w.kv.activeSlots,
      capacity: w.kv.capacity(),
      costTokens: w.kv.cost(),
      cachedTokens: w.cache.tokens,
      budgetTokens: this.config.kvBudgetTokensPerWorker,
      busy: w.inFlight.length > 0,
    }));
  }

  // ---- policy internals ----

  /**
   * Rows for the sequences already on an idle worker: decode-ready rows first,
   * then prefill chunks oldest first. Evicts (see preemptionVictim) until the KV budget holds.
   */
  private planRunning(worker: WorkerState): Draft {
    const preempted: SeqId[] = [];
    for (;;) {
      const draft = this.draftRows(worker, preempted);
      const needs = worker.running.map((s) => s.numComputedTokens + this.scheduledTokens(draft, s));
      if (worker.cache.makeRoomForNeeds(needs)) {
        worker.running.forEach((s, i) => worker.kv.grow(s.id, needs[i]));
        return draft;
      }
      const victim = preemptionVictim(worker.running, this.config.schedulingPolicy);
      if (worker.running.length === 1) {
        // Unreachable with a validated config (budget ≥ maxModelLen ≥ any need).
        throw new SchedulerProtocolError(`a lone sequence ${victim.id} does not fit worker ${worker.index}`);
      }
      this.preempt(victim);
      preempted.push(victim.id);
    }
  }

  private draftRows(worker: WorkerState, preempted: SeqId[]): Draft {
    const decodeReady = worker.running.filter((s) => s.numUncomputed === 1 && !this.atLimit(s));
    const draft: Draft = { worker, rows: [], seqs: [], preempted, tokensLeft: stepTokenBudget(this.config, decodeReady.length) };
    for (const s of decodeReady) this.addRow(draft, s, 1, 'continue');
    for (const s of worker.running) {
      if (draft.tokensLeft === 0) break;
      if (s.numUncomputed > 1) this.addRow(draft, s, Math.min(s.numUncomputed, draft.tokensLeft), 'continue');
    }
    return draft;
  }

  /** max_tokens or the context is reached once `extra` more tokens are generated. */
  private atLengthLimit(seq: Sequence, extra: number): boolean {
    return seq.outputTokenIds.length + extra >= seq.maxTokens || seq.length + extra >= this.config.maxModelLen;
  }

  /** The samples in flight will end this sequence by length: it needs no further row. */
  private atLimit(seq: Sequence): boolean {
    return seq.pendingSamples > 0 && this.atLengthLimit(seq, seq.pendingSamples);
  }

  private scheduledTokens(draft: Draft, seq: Sequence): number {
    return draft.rows.reduce((n, row, i) => (draft.seqs[i] === seq ? n + row.tokens.length : n), 0);
  }

  /**
   * Adds a row of `seq`'s next n tokens and returns the tokens added: n + 1
   * when a follow-on row comes with it. A prompt's last chunk (several tokens,
   * its own forward call on the worker) is followed by a one-token decode row
   * fed the token the chunk samples (PENDING_TOKEN), which joins the same
   * step's decode call: the chunk's token streams as soon as it is sampled
   * (announced), and the next one leaves with the step, not a step later.
   */
  private addRow(draft: Draft, seq: Sequence, n: number, slotAction: PlannedRow['slotAction'], prefixBlocks: number[] = []): number {
    const start = seq.numComputedTokens;
    const sample = start + n === seq.plannedLength;
    draft.rows.push({
      seqId: seq.id,
      tokens: seq.tokens(start, start + n),
      startPos: start,
      slotAction,
      sample,
      ...(prefixBlocks.length > 0 ? { prefixBlocks } : {}),
    });
    draft.seqs.push(seq);
    draft.tokensLeft -= n;
    if (!sample || n === 1 || draft.tokensLeft === 0 || this.atLengthLimit(seq, seq.pendingSamples + 1)) return n;
    draft.rows.push({ seqId: seq.id, tokens: [PENDING_TOKEN], startPos: start + n, slotAction: 'continue', sample: true });
    draft.seqs.push(seq);
    draft.tokensLeft -= 1;
    return n + 1;
  }

  /**
   * Places the next candidate (see `nextCandidate`) on an idle worker that can
   * take it (see `chooseWorker`), until one cannot: nothing overtakes it (a
   * candidate pinned to one worker: nothing overtakes it there).
   */
  private admit(drafts: Draft[]): void {
    const { maxModelLen } = this.config;
    let open = drafts;
    for (;;) {
      const head = this.nextCandidate(open);
      if (head === null) return;
      const lookahead = Math.min(head.length + 1, maxModelLen);
      const pin = this.pinOf(head);
      const best = chooseWorker(open, head, pin, lookahead);
      if (best === null) {
        if (pin === null) return;
        // Its one worker has no room: nothing more is admitted there this step, the other workers go on.
        open = open.filter((d) => d.worker.index !== pin);
        continue;
      }
      this.waiting.splice(this.waiting.indexOf(head), 1);
      const w = best.worker;
      head.status = 'running';
      head.worker = w.index;
      this.running.started(head, w.index);
      insertByArrival(w.running, head);
      const blocks = w.cache.load(head, lookahead);
      w.cache.makeRoomToAdmit(lookahead);
      head.numComputedTokens = blocks.length * PREFIX_BLOCK_SIZE;
      head.savedBlocks = blocks.length;
      if (w.cache.enabled && head.reusesPrefix) {
        this.prefixQueries += head.length;
        this.prefixHits += head.numComputedTokens;
      }
      const n = Math.min(head.numUncomputed, best.tokensLeft);
      const added = this.addRow(best, head, n, 'new', blocks.map((block) => block.id));
      w.kv.admit(head.id, head.numComputedTokens + added);
    }
  }

  /** The waiting sequence to admit next (see admission-order.ts); ones pinned to a worker not being planned are skipped. */
  private nextCandidate(drafts: Draft[]): Sequence | null {
    const admissible = (seq: Sequence): boolean => {
      const pin = this.pinOf(seq);
      return !seq.held && (pin === null || drafts.some((d) => d.worker.index === pin));
    };
    return nextCandidate(this.waiting, this.running.perGroup, admissible, this.config.schedulingPolicy);
  }

  /** The only worker `seq` may be admitted to: where its grammar was compiled, else where its sibling choices run. */
  private pinOf(seq: Sequence): number | null {
    return seq.pinnedWorker ?? this.running.siblingWorker(seq);
  }

  private preempt(seq: Sequence): void {
    this.releaseSlot(seq, seq.length);
    seq.status = 'waiting';
    seq.numComputedTokens = 0;
    seq.pendingSamples = 0;
    seq.numPreemptions++;
    // Ahead of every never-admitted request (they all arrived later), FCFS among the preempted.
    insertByArrival(this.waiting, seq);
  }

  /**
   * Drop a running sequence from its worker, caching the blocks of its first
   * `known` tokens its slot holds first; the worker frees the slot at its next plan.
   */
  private releaseSlot(seq: Sequence, known: number): void {
    const w = this.workers[seq.worker as number];
    w.cache.save(seq, Math.min(seq.numComputedTokens, known));
    seq.savedBlocks = 0;
    this.running.stopped(seq);
    w.running.splice(w.running.indexOf(seq), 1);
    w.kv.free(seq.id);
    w.pendingFreed.push(seq.id);
    seq.worker = null;
  }

  /** Row i of an in-flight plan still belongs to its sequence: running there, and not preempted since. */
  private isAlive(inFlight: InFlight, i: number, worker: WorkerState): boolean {
    const seq = inFlight.seqs[i];
    return seq.status === 'running' && seq.worker === worker.index && seq.numPreemptions === inFlight.epochs[i];
  }

  private finishReason(seq: Sequence, tokenId: number): FinishedSequence['reason'] | null {
    if (seq.endTokenIds.has(tokenId)) return 'stop';
    return this.atLengthLimit(seq, 0) ? 'length' : null;
  }
}
