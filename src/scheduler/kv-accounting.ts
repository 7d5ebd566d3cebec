// Per-worker KV memory accounting. A worker's KV buffer is
// [slots, kvHeads, capacity, headDim] per layer, so its cost in token
// positions is activeSlots × capacity, where capacity covers the longest
// active sequence (rounded up to a granule, at most maxModelLen). This module
// only counts; which physical slot a sequence sits in is the worker's business.

import type { SeqId } from './types.js';

export interface KvLimits {
  maxSlots: number;
  budgetTokens: number;
  granule: number;
  maxModelLen: number;
}

/** Capacity needed for a longest-sequence KV length of `maxNeed`: rounded up to `granule`, capped at maxModelLen; 0 when nothing is active. */
export function capacityFor(maxNeed: number, granule: number, maxModelLen: number): number {
  if (maxNeed <= 0) return 0;
  return Math.min(Math.ceil(maxNeed / granule) * granule, maxModelLen);
}

export class WorkerKvAccount {
  /** seqId → KV positions the sequence fills once its planned rows have run. */
  private readonly needs = new Map<SeqId, number>();

  constructor(readonly limits: KvLimits) {}

  get activeSlots(): number {
    return this.needs.size;
  }

  has(id: SeqId): boolean {
    return this.needs.has(id);
  }

  needOf(id: SeqId): number | undefined {
    return this.needs.get(id);
  }

  private maxNeed(): number {
    let m = 0;
    for (const n of this.needs.values()) if (n > m) m = n;
    return m;
  }

  /** Capacity (positions per slot) the worker's buffer must have now. */
  capacity(): number {
    return capacityFor(this.maxNeed(), this.limits.granule, this.limits.maxModelLen);
  }

  /**
   * The capacity a step asks the worker's buffer for: capacity(), but not
   * rounded up past `ceiling`, which no sequence can outgrow (a rounding past
   * it made the pool re-lay out for positions nobody would write).
   */
  stepCapacity(ceiling: number): number {
    return Math.max(this.maxNeed(), Math.min(this.capacity(), ceiling));
  }

  /** Token positions the worker's buffer costs now. */
  cost(): number {
    return this.activeSlots * this.capacity();
  }

  fits(): boolean {
    return this.cost() <= this.limits.budgetTokens;
  }

  /** What a worker whose active sequences need exactly `needs` positions would cost; null beyond the slot cap. */
  costOf(needs: readonly number[]): number | null {
    if (needs.length > this.limits.maxSlots) return null;
    return needs.length * capacityFor(Math.max(0, ...needs), this.limits.granule, this.limits.maxModelLen);
  }

  /** Would a worker whose active sequences need exactly `needs` positions fit (slot cap and budget)? */
  fitsNeeds(needs: readonly number[]): boolean {
    const cost = this.costOf(needs);
    return cost !== null && cost <= this.limits.budgetTokens;
  }

  /** What the worker would cost with one more sequence needing `need` positions; null when no slot is free. */
  admitCost(need: number): number | null {
    if (this.activeSlots >= this.limits.maxSlots) return null;
    return (this.activeSlots + 1) * capacityFor(Math.max(this.maxNeed(), need), this.limits.granule, this.limits.maxModelLen);
  }

  /** Would one more sequence needing `need` positions fit (slot cap and budget)? */
  canAdmit(need: number): boolean {
    const cost = this.admitCost(need);
    return cost !== null && cost <= this.limits.budgetTokens;
  }

  /** Take a slot. Budget is the caller's policy (check canAdmit first); the slot cap is enforced. */
  admit(id: SeqId, need: number): void {
    if (this.needs.has(id)) throw new Error(`kv: ${id} already holds a slot`);
    if (this.activeSlots >= this.limits.maxSlots) throw new Error(`kv: no free slot for ${id}`);
    this.needs.set(id, need);
  }

  /** Record that `id` will fill `need` positions after this step. KV only grows while a slot lives. */
  grow(id: SeqId, need: number): void {
    const cur = this.needs.get(id);
    if (cur === undefined) throw new Error(`kv: ${id} holds no slot`);
    if (need < cur) throw new Error(`kv: ${id} cannot shrink from ${cur} to ${need}`);
    this.needs.set(id, need);
  }

  /** Release the slot; returns false when `id` held none. */
  free(id: SeqId): boolean {
    return this.needs.delete(id);
  }
}
