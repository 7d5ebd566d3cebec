// A device worker's prefix-cache blocks: copies of PREFIX_BLOCK_SIZE positions
// of K/V taken out of a slot, kept by the number the scheduler gave them, and
// copied into a fresh slot when a sequence starts with that prefix. The
// scheduler decides every copy and eviction (src/scheduler/prefix-cache.ts);
// this only moves memory. A dropped block's array is let go, so an evicted
// cache gives its memory back.

import type { KvSlotPool } from './kv-pool.js';
import { PREFIX_BLOCK_SIZE, type BlockSave } from './types.js';

export class PrefixBlockStore {
  private readonly blocks: (Float32Array | undefined)[] = [];

  constructor(private readonly pool: KvSlotPool) {}

  drop(ids: readonly number[]): void {
    for (const id of ids) this.blocks[id] = undefined;
  }

  save(saves: readonly BlockSave[]): void {
    for (const { seqId, index, id } of saves) {
      const block = this.blocks[id] ?? new Float32Array(this.pool.positionsFloats(PREFIX_BLOCK_SIZE));
      this.pool.copyOut(this.pool.slotOf(seqId), index * PREFIX_BLOCK_SIZE, PREFIX_BLOCK_SIZE, block);
      this.blocks[id] = block;
    }
  }

  /** Fills a slot's first positions with these blocks, in order; returns how many positions that is. */
  load(seqId: string, ids: readonly number[]): number {
    const slot = this.pool.slotOf(seqId);
    ids.forEach((id, i) => {
      const block = this.blocks[id];
      if (block === undefined) throw new Error(`prefix-cache block ${id} is not held by this worker`);
      this.pool.copyIn(slot, i * PREFIX_BLOCK_SIZE, PREFIX_BLOCK_SIZE, block);
    });
    return ids.length * PREFIX_BLOCK_SIZE;
  }

  clear(): void {
    this.blocks.length = 0;
  }

}
