// Prompt sharing on a device worker: sequences with the same prompt (the n
// choices of one request, or identical requests) need the same KV for it, so
// a sequence whose prompt a sibling on this worker has already prefilled gets
// those positions copied instead of recomputed.

interface PromptEntry {
  key: string;
  promptLength: number;
  /** Prompt positions [0, computed) hold this sequence's KV. */
  computed: number;
}

export class PromptSharing {
  private readonly bySeq = new Map<string, PromptEntry>();

  admit(seqId: string, promptTokenIds: readonly number[]): void {
    this.bySeq.set(seqId, { key: promptTokenIds.join(','), promptLength: promptTokenIds.length, computed: 0 });
  }

  forget(seqId: string): void {
    this.bySeq.delete(seqId);
  }

  forgetAll(): void {
    this.bySeq.clear();
  }

  /** Positions [start, end) of the sequence are now in its KV. */
  computed(seqId: string, start: number, end: number): void {
    const entry = this.bySeq.get(seqId);
    // Only a contiguous prefix of the prompt counts; what follows the prompt differs per sequence.
    if (entry && start <= entry.computed) entry.computed = Math.max(entry.computed, Math.min(end, entry.promptLength));
  }

  /** Do the two sequences have the same prompt? */
  samePrompt(a: string, b: string): boolean {
    const entry = this.bySeq.get(a);
    return entry !== undefined && entry.key === this.bySeq.get(b)?.key;
  }

  /**
   * A sibling whose KV already covers this sequence's positions [start, end),
   * or as much of them as any sibling has: copying [start, donor.end) is exact.
   */
  donor(seqId: string, start: number, end: number): { seqId: string; end: number } | null {
    const entry = this.bySeq.get(seqId);
    if (!entry || end <= start) return null;
    let best: { seqId: string; end: number } | null = null;
    for (const [otherId, other] of this.bySeq) {
      if (otherId === seqId || other.key !== entry.key) continue;
      const covered = Math.min(end, other.computed);
      if (covered > start && (best === null || covered > best.end)) best = { seqId: otherId, end: covered };
    }
    return best;
  }
}
