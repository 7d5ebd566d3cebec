// Which worker the running choices of each prompt of each request are on. The
// `n` choices of one prompt share one worker: they copy the prompt's KV from
// each other there, and a failing worker fails a prompt's choices together,
// never a few of them (vLLM keeps a request's parallel samples in one engine
// the same way). A request's different prompts may still run on different workers.

export class ChoiceWorkers {
  private readonly running = new Map<string, { count: number; worker: number }>();

  /** The worker the choices with this key run on, or null when none runs. */
  workerOf(choiceKey: string): number | null {
    return this.running.get(choiceKey)?.worker ?? null;
  }

  started(choiceKey: string, worker: number): void {
    const entry = this.running.get(choiceKey);
    if (entry === undefined) this.running.set(choiceKey, { count: 1, worker });
    else if (entry.worker !== worker) throw new Error(`a prompt's choices run on worker ${entry.worker}; one was admitted to worker ${worker}`);
    else entry.count += 1;
  }

  stopped(choiceKey: string): void {
    const entry = this.running.get(choiceKey);
    if (entry === undefined) return;
    entry.count -= 1;
    if (entry.count === 0) this.running.delete(choiceKey);
  }
}
