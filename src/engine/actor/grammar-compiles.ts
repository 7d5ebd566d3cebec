// Runs in the scheduler actor thread: grammar compiles as device-worker tasks
// of their own, off the step loop. A compiled grammar cannot cross threads
// (xgrammar's WebAssembly build has no serialisation), so the worker that will
// run the sequence compiles it — but as a separate task queued between steps,
// at most one per worker at a time, so a step waits for at most one compile
// and never inside one; the sequence stays held in the scheduler (others run)
// until its grammar is in that worker's cache. Requests for the same grammar
// share one compile; a compile nobody waits for any more is dropped before it
// starts; the backlog is bounded (beyond it, new grammar requests get 429).

import type { Grammar } from '../../structured/grammar.js';

export interface GrammarCompiler {
  /** Compiles into the worker's cache; rejects with the compile error. */
  compileGrammar(grammar: Grammar): Promise<void>;
}

export interface CompileCounters {
  /** Compiles waiting for their worker. */
  queued: number;
  /** Compiles running (≤ one per worker). */
  running: number;
  /** Finished compiles (success or failure), since start. */
  completed: number;
  /** Compiles dropped before they started because every request waiting for them went away. */
  cancelled: number;
}

/** A sequence's grammar is compiled on `worker` (error: it failed to compile). */
export type CompileDone = (seqId: string, worker: number, error: Error | null) => void;

interface Job {
  key: string;
  grammar: Grammar;
  worker: number;
  waiters: Set<string>;
}

export class GrammarCompiles {
  private readonly queues: Job[][];
  private readonly running: (Job | null)[];
  private readonly bySeq = new Map<string, Job>();
  private completed = 0;
  private cancelled = 0;

  constructor(
    private readonly workers: readonly GrammarCompiler[],
    /** Most compiles queued (not running) at once, over all workers. */
    private readonly maxQueued: number,
    private readonly done: CompileDone,
  ) {
    this.queues = workers.map(() => []);
    this.running = workers.map(() => null);
  }

  /**
   * Queues the compile `seqId` waits for (joining an identical one queued or
   * running). Returns false when the backlog is full: refuse the request.
   */
  enqueue(seqId: string, grammar: Grammar): boolean {
    const key = `${grammar.root}\u0000${grammar.ebnf}`;
    const existing = this.findJob(key);
    if (existing !== null) {
      existing.waiters.add(seqId);
      this.bySeq.set(seqId, existing);
      return true;
    }
    if (this.counters().queued >= this.maxQueued) return false;
    const worker = this.leastBusyWorker();
    const job: Job = { key, grammar, worker, waiters: new Set([seqId]) };
    this.queues[worker].push(job);
    this.bySeq.set(seqId, job);
    this.pump(worker);
    return true;
  }

  /** `seqId` no longer waits (client gone): its compile is dropped if nobody else waits and it has not started. */
  cancel(seqId: string): void {
    const job = this.bySeq.get(seqId);
    if (job === undefined) return;
    this.bySeq.delete(seqId);
    job.waiters.delete(seqId);
    if (job.waiters.size > 0 || this.running[job.worker] === job) return;
    const queue = this.queues[job.worker];
    queue.splice(queue.indexOf(job), 1);
    this.cancelled++;
  }

  counters(): CompileCounters {
    let queued = 0;
    for (const queue of this.queues) queued += queue.length;
    return { queued, running: this.running.filter((job) => job !== null).length, completed: this.completed, cancelled: this.cancelled };
  }

  private findJob(key: string): Job | null {
    for (const job of this.running) if (job?.key === key) return job;
    for (const queue of this.queues) for (const job of queue) if (job.key === key) return job;
    return null;
  }

  private leastBusyWorker(): number {
    let best = 0;
    const load = (w: number): number => this.queues[w].length + (this.running[w] === null ? 0 : 1);
    for (let w = 1; w < this.workers.length; w++) if (load(w) < load(best)) best = w;
    return best;
  }

  private pump(worker: number): void {
    if (this.running[worker] !== null) return;
    const job = this.queues[worker].shift();
    if (job === undefined) return;
    this.running[worker] = job;
    this.workers[worker].compileGrammar(job.grammar).then(
      () => this.finish(job, null),
      (error: unknown) => this.finish(job, error instanceof Error ? error : new Error(String(error))),
    );
  }

  private finish(job: Job, error: Error | null): void {
    this.running[job.worker] = null;
    this.completed++;
    for (const seqId of job.waiters) {
      this.bySeq.delete(seqId);
      this.done(seqId, job.worker, error);
    }
    this.pump(job.worker);
  }
}
