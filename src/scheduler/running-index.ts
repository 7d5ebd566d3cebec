// What admission needs to know of the running sequences: how many of each
// request (group) run, so requests take turns (admission-order.ts), and which
// worker each prompt's choices run on. The `n` choices of one prompt share one
// worker: they copy the prompt's KV from each other there, and a failing
// worker fails them together, never a few of them (vLLM keeps a request's
// parallel samples in one engine the same way). A request's different prompts
// may still run on different workers.

import type { Sequence } from './sequence.js';

export class RunningIndex {
  /** Running sequences per request group. */
  readonly perGroup = new Map<string, number>();
  private readonly choices = new Map<string, { count: number; worker: number }>();

  /** The worker `seq`'s sibling choices run on, or null when none runs. */
  siblingWorker(seq: Sequence): number | null {
    return this.choices.get(seq.choiceKey)?.worker ?? null;
  }

  started(seq: Sequence, worker: number): void {
    this.perGroup.set(seq.group, (this.perGroup.get(seq.group) ?? 0) + 1);
    const entry = this.choices.get(seq.choiceKey);
    if (entry === undefined) this.choices.set(seq.choiceKey, { count: 1, worker });
    else if (entry.worker !== worker) throw new Error(`a prompt's choices run on worker ${entry.worker}; one was admitted to worker ${worker}`);
    else entry.count += 1;
  }

  stopped(seq: Sequence): void {
    const running = (this.perGroup.get(seq.group) ?? 1) - 1;
    if (running > 0) this.perGroup.set(seq.group, running);
    else this.perGroup.delete(seq.group);
    const entry = this.choices.get(seq.choiceKey);
    if (entry === undefined) return;
    entry.count -= 1;
    if (entry.count === 0) this.choices.delete(seq.choiceKey);
  }
}
