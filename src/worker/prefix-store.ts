// A device worker's prefix-cache blocks: copies of PREFIX_BLOCK_SIZE positions
// of K/V taken out of a slot, kept by the number the scheduler gave them, and
// copied into a fresh slot when a sequence starts with that prefix. The
// scheduler decides every copy and eviction (src/scheduler/prefix-cache.ts);
// this only moves memory.
//
// A fresh block's first write page-faults every page it spans (≈ 10 µs per
// 4 KB here: a 256 KB block of the bench preset took 0.8 ms to save, against
// 0.01 ms into a block already written), so dropped blocks are kept as spares
// for later saves, up to SPARE_BYTES; beyond that an evicted cache gives its
// memory back.

import type { KvSlotPool } from './kv-pool.js';
import { PREFIX_BLOCK_SIZE, type BlockSave } from './types.js';

/** Memory that dropped blocks may keep for reuse. */
const SPARE_BYTES = 64 * 2 ** 20;

export class PrefixBlockStore {
  private readonly blocks: (Float32Array | undefined)[] = [];
  private readonly spares: Float32Array[] = [];

  constructor(private readonly pool: KvSlotPool) {}

  drop(ids: readonly number[]): void {
    for (const id of ids) {
      const block = this.blocks[id];
      this.blocks[id] = undefined;
      if (block !== undefined && (this.spares.length + 1) * block.byteLength <= SPARE_BYTES) this.spares.push(block);
    }
  }

  save(saves: readonly BlockSave[]): void {
    for (const { seqId, index, id } of saves) {
      const block = this.blocks[id] ?? this.spares.pop() ?? new Float32Array(this.pool.positionsFloats(PREFIX_BLOCK_SIZE));
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
    this.spares.length = 0;
  }
}
