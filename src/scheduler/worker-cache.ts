// A worker's prefix cache inside its KV budget: cached blocks live in what
// the running sequences leave free (activeSlots × capacity + cached ≤ budget)
// and give way first, before any admission is refused or any sequence is
// preempted for room.

import type { WorkerKvAccount } from './kv-accounting.js';
import type { BlockSave } from '../worker/types.js';
import { PREFIX_BLOCK_SIZE, PrefixCache, type CachedBlock } from './prefix-cache.js';
import type { Sequence } from './sequence.js';

export class WorkerCache {
  private readonly cache = new PrefixCache();

  constructor(
    private readonly kv: WorkerKvAccount,
    readonly enabled: boolean,
  ) {}

  get tokens(): number {
    return this.cache.tokens;
  }

  /**
   * Running sequences needing `needs` positions fit once enough cached blocks
   * are evicted (they are then); false when they do not fit even with none.
   */
  makeRoomForNeeds(needs: readonly number[]): boolean {
    const cost = this.kv.costOf(needs);
    if (cost === null || cost > this.kv.limits.budgetTokens) return false;
    this.evictTokens(cost + this.cache.tokens - this.kv.limits.budgetTokens);
    return true;
  }

  /** One more sequence needing `need` positions would fit once unpinned cached blocks are evicted. */
  canAdmit(need: number): boolean {
    const cost = this.kv.admitCost(need);
    return cost !== null && cost + this.pinnedTokens() <= this.kv.limits.budgetTokens;
  }

  /** Evicts what admitting a sequence needing `need` positions requires (canAdmit said it can). */
  makeRoomToAdmit(need: number): void {
    this.evictTokens((this.kv.admitCost(need) ?? 0) + this.cache.tokens - this.kv.limits.budgetTokens);
  }

  /** Leading blocks of `seq` cached here (for placement; no side effects). */
  cachedBlocks(seq: Sequence): number {
    return this.enabled && seq.reusesPrefix ? this.cache.peek(seq, maxReusableBlocks(seq)) : 0;
  }

  /**
   * The cached blocks the admission of `seq` (needing `need` positions) loads:
   * pinned for the plan being formed, so no more than fit beside it.
   */
  load(seq: Sequence, need: number): CachedBlock[] {
    if (!this.enabled || !seq.reusesPrefix) return [];
    const room = this.kv.limits.budgetTokens - (this.kv.admitCost(need) ?? Infinity) - this.pinnedTokens();
    return this.cache.match(seq, Math.min(maxReusableBlocks(seq), Math.floor(room / PREFIX_BLOCK_SIZE)));
  }

  /**
   * Caches `seq`'s full blocks among its first `computed` positions (the KV its
   * slot holds once the planned rows have run, counting only known tokens),
   * in free room first, then in room taken from the least recently used blocks.
   */
  save(seq: Sequence, computed: number): void {
    const full = Math.floor(computed / PREFIX_BLOCK_SIZE);
    if (!this.enabled || full <= seq.savedBlocks) return;
    seq.savedBlocks = this.cache.save(seq, full, this.freeBlocks());
    // Room from other blocks only: this chain was just touched, so it goes last, but it must not go at all.
    const others = this.cache.numBlocks - seq.savedBlocks;
    if (seq.savedBlocks < full && others > 0) {
      this.cache.evict(Math.min(full - seq.savedBlocks, others));
      seq.savedBlocks = this.cache.save(seq, full, this.freeBlocks());
    }
  }

  take(): { saves: BlockSave[]; drops: number[] } {
    return this.cache.take();
  }

  clear(): void {
    this.cache.clear();
  }

  private pinnedTokens(): number {
    return (this.cache.numBlocks - this.cache.evictable()) * PREFIX_BLOCK_SIZE;
  }

  private freeBlocks(): number {
    return Math.max(0, Math.floor((this.kv.limits.budgetTokens - this.kv.cost() - this.cache.tokens) / PREFIX_BLOCK_SIZE));
  }

  private evictTokens(tokens: number): void {
    if (tokens > 0) this.cache.evict(Math.ceil(tokens / PREFIX_BLOCK_SIZE));
  }
}

/** At least one position is always computed: the sample needs its logits. */
function maxReusableBlocks(seq: Sequence): number {
  return Math.floor((seq.length - 1) / PREFIX_BLOCK_SIZE);
}
