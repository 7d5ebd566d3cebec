// The KV cache of one device worker: per layer, one K and one V buffer laid out
// [slots, kvHeads, capacity, headDim]. The graph reads them as inputs (zero-copy);
// this module writes the new tokens' K/V that the graph returns. Slots stay
// contiguous (0..active-1) so a decode call can pass one prefix view of each buffer.
//
// Memory is touched only where tokens are written. A fresh buffer's pages map
// the kernel's shared zero page until written, so allocating every slot the
// budget allows costs address space, not RAM, and the masked positions beyond
// a row's length that attention still reads come from that one cached page.
// Positions an earlier occupant of the slot wrote ("stale") are read from
// memory instead: on the bench preset at B = 24, capacity 384, a decode call
// takes 20.6 ms with untouched tails and 24.3 ms with stale ones. Slots are
// reused as sequences come and go, so stale positions pile up in a long-running
// server; once they exceed half the live ones the pool re-lays itself out into
// a fresh buffer (see STALE_RELAYOUT_RATIO). Re-layouts copy only each slot's
// written positions; moving rows in place instead (no allocation, shorter
// gaps) measured 2–4 % slower overall, its row tails holding stale data.

export interface KvShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  maxSlots: number;
  /** Token positions the whole pool may hold (slots × capacity never exceeds it). */
  budgetTokens: number;
  /** Longest sequence the engine serves: a capacity beyond it is never needed (default: no limit). */
  maxCapacity?: number;
}

/**
 * A layout that must grow gets this many times the needed capacity, so a
 * sequence decoding past its capacity re-lays out every ~50 % of its length,
 * not every few tokens: a re-layout copies every active slot inside one step,
 * which every decode row waits for (at B = 1 it was most of the inter-token
 * p99). The slack costs attention over masked positions in every decode call
 * (4 % at 32 rows and 11 % at 64 for 96 extra positions on the bench preset),
 * so it never goes past the longest any running sequence can become.
 */
const GROWTH_FACTOR = 1.5;
/** Grown capacities are rounded up to this many positions. */
const GROWTH_GRANULE = 16;
/** Keep a capacity up to this many times the needed one before shrinking (above GROWTH_FACTOR, so a grown layout is kept). */
const SHRINK_FACTOR = 2;
/**
 * Buffers are allocated together in ArrayBuffers of up to this size. An
 * allocation this large is always fresh zero pages from mmap; glibc serves
 * smaller ones (up to 32 MB once such blocks were freed) from recycled heap
 * memory that calloc must clear, which made a re-layout cost 10–200 ms and
 * made the whole layout resident.
 */
const CHUNK_BYTES = 2 ** 30;
/**
 * Re-lay out into a fresh buffer once stale positions exceed this share of the
 * live (written) ones. A re-layout writes each live position once into fresh
 * pages (~0.5 ms per MB: page faults dominate), a stale position costs one read
 * per decode call (~0.05 ms per MB at ~20 GB/s), so at 0.5 the copy is paid
 * back within about twenty decode calls. In a steady-state churn simulation
 * (32 slots, sequences of 128–382 positions, 4,000 steps) stale positions were
 * 35 % of what decode calls read without this, 14 % at 0.5 (17 more re-layouts)
 * and 28 % at 1 (2 more).
 */
const STALE_RELAYOUT_RATIO = 0.5;
/** Spans up to this many floats are copied by a plain loop: a subarray per copy costs more than the copy. */
const LOOP_COPY_MAX = 512;

export class KvSlotPool {
  readonly shape: KvShape;
  /** Token positions per slot currently allocated. */
  capacity = 0;
  /** Slots the buffers currently hold (active ones first). */
  allocatedSlots = 0;
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];
  private readonly slotBySeq = new Map<string, number>();
  private readonly seqBySlot: string[] = [];
  /** Positions written so far per active slot (everything beyond is unwritten or stale). */
  private readonly lengths: number[] = [];
  /** Per allocated slot: positions ever written since the buffer was allocated (beyond: zero pages). */
  private touched: number[] = [];

  constructor(shape: KvShape) {
    this.shape = shape;
    this.allocate(0, 0);
  }

  get activeSlots(): number {
    return this.seqBySlot.length;
  }

  slotOf(seqId: string): number {
    const slot = this.slotBySeq.get(seqId);
    if (slot === undefined) throw new Error(`sequence ${seqId} has no KV slot on this worker`);
    return slot;
  }

  has(seqId: string): boolean {
    return this.slotBySeq.has(seqId);
  }

  acquire(seqId: string): number {
    if (this.slotBySeq.has(seqId)) throw new Error(`sequence ${seqId} already holds a KV slot`);
    if (this.seqBySlot.length >= this.allocatedSlots) throw new Error('no free KV slot (reserve() was not called for it)');
    const slot = this.seqBySlot.length;
    this.seqBySlot.push(seqId);
    this.lengths.push(0);
    this.slotBySeq.set(seqId, slot);
    return slot;
  }

  /** Frees a slot by moving the last active slot into it, keeping slots contiguous. */
  release(seqId: string): void {
    const slot = this.slotBySeq.get(seqId);
    if (slot === undefined) return;
    this.slotBySeq.delete(seqId);
    const last = this.seqBySlot.length - 1;
    const movedSeq = this.seqBySlot.pop() as string;
    const movedLength = this.lengths.pop() as number;
    if (slot === last) return;
    this.copyPositions(last, slot, 0, movedLength);
    this.seqBySlot[slot] = movedSeq;
    this.lengths[slot] = movedLength;
    this.slotBySeq.set(movedSeq, slot);
  }

  releaseAll(): void {
    this.slotBySeq.clear();
    this.seqBySlot.length = 0;
    this.lengths.length = 0;
  }

  /**
   * Makes room for `slots` sequences of up to `needed` positions each. A
   * re-layout copies every active slot, so the current layout is kept while it
   * fits and is not much longer than needed (hysteresis: the longest sequence
   * finishing must not shrink the pool only to grow it again). Every layout
   * holds as many slots as the budget allows at its capacity, so admissions
   * never re-lay out (unwritten slots cost no memory). `ceiling`: no
   * sequence will need more positions (prompt + max_tokens), so a grown
   * layout stops there.
   */
  reserve(needed: number, slots: number, ceiling = Number.POSITIVE_INFINITY): void {
    // An idle pool keeps its layout: its written pages are already faulted in and
    // the next sequence likely needs a similar capacity. Dropping it made every
    // request at concurrency 1 allocate and fault in a fresh layout, and the
    // discarded buffers' external memory drove a full GC every few requests.
    if (slots === 0) return;
    const keepCapacity =
      this.capacity >= needed && this.capacity <= Math.max(needed * SHRINK_FACTOR, needed + 1) && this.slotsFor(this.capacity) >= slots;
    const capacity = keepCapacity ? this.capacity : this.grownCapacity(needed, slots, ceiling);
    if (capacity === this.capacity && this.allocatedSlots >= slots && !this.mostlyStale()) return;
    const limit = this.slotsFor(capacity);
    if (limit < slots) throw new Error(`capacity ${capacity} leaves no room for ${slots} slots within the KV budget`);
    this.relayout(capacity, limit);
  }

  /**
   * The capacity a new layout gets: GROWTH_FACTOR × needed, up to the
   * ceiling, as long as that still leaves room for every slot the pool may
   * hold (so a later admission never forces a re-layout to shrink) and for
   * `slots` now; never below needed.
   */
  private grownCapacity(needed: number, slots: number, ceiling: number): number {
    if (needed === 0) return 0;
    const grown = Math.ceil(Math.min(needed * GROWTH_FACTOR, ceiling) / GROWTH_GRANULE) * GROWTH_GRANULE;
    const roomy = Math.min(this.shape.maxCapacity ?? Infinity, Math.floor(this.shape.budgetTokens / Math.max(slots, this.shape.maxSlots)));
    return Math.max(needed, Math.min(grown, roomy));
  }

  /** Re-lays the buffers out, keeping each active slot's written positions (up to the new capacity). */
  private relayout(capacity: number, slots: number): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const oldCapacity = this.capacity;
    this.allocate(capacity, slots);
    const { kvHeads, headDim } = this.shape;
    for (let slot = 0; slot < this.lengths.length; slot++) {
      this.lengths[slot] = Math.min(this.lengths[slot], capacity);
      this.touched[slot] = this.lengths[slot];
      const span = this.lengths[slot] * headDim;
      if (span === 0) continue;
      for (let head = 0; head < kvHeads; head++) {
        const row = slot * kvHeads + head;
        const src = row * oldCapacity * headDim;
        const dst = row * capacity * headDim;
        for (let layer = 0; layer < this.shape.layers; layer++) {
          this.keys[layer].set(oldKeys[layer].subarray(src, src + span), dst);
          this.values[layer].set(oldValues[layer].subarray(src, src + span), dst);
        }
      }
    }
  }

  /** Views of every layer's K and V covering slots [0, count): the decode batch input. */
  prefixViews(count: number): { keys: Float32Array[]; values: Float32Array[] } {
    const end = count * this.slotStride();
    return {
      keys: this.keys.map((k) => k.subarray(0, end)),
      values: this.values.map((v) => v.subarray(0, end)),
    };
  }

  /** Views of the K and V of slots [slot, slot + count) in every layer: the input of a call of prefill chunks. */
  slotViews(slot: number, count = 1): { keys: Float32Array[]; values: Float32Array[] } {
    const stride = this.slotStride();
    const start = slot * stride;
    const end = start + count * stride;
    return {
      keys: this.keys.map((k) => k.subarray(start, end)),
      values: this.values.map((v) => v.subarray(start, end)),
    };
  }

  /**
   * Copies `count` new positions of batch row `row` from a graph output laid out
   * [batch, kvHeads, seqLen, headDim] into `slot` starting at position `start`.
   */
  write(layer: number, newKeys: Float32Array, newValues: Float32Array, seqLen: number, row: number, slot: number, start: number, count: number): void {
    const { kvHeads, headDim } = this.shape;
    const capacityStride = this.capacity * headDim;
    const srcHeadStride = seqLen * headDim;
    const span = count * headDim;
    const keys = this.keys[layer];
    const values = this.values[layer];
    for (let head = 0; head < kvHeads; head++) {
      const src = (row * kvHeads + head) * srcHeadStride;
      const dst = (slot * kvHeads + head) * capacityStride + start * headDim;
      if (span <= LOOP_COPY_MAX) {
        for (let i = 0; i < span; i++) {
          keys[dst + i] = newKeys[src + i];
          values[dst + i] = newValues[src + i];
        }
      } else {
        keys.set(newKeys.subarray(src, src + span), dst);
        values.set(newValues.subarray(src, src + span), dst);
      }
    }
    this.wrote(slot, start + count);
  }

  /** Copies positions [start, end) of every layer from one slot to another (prompt sharing). */
  copyPositions(fromSlot: number, toSlot: number, start: number, end: number): void {
    const { kvHeads, headDim } = this.shape;
    const capacityStride = this.capacity * headDim;
    for (let layer = 0; layer < this.shape.layers; layer++) {
      for (let head = 0; head < kvHeads; head++) {
        const src = (fromSlot * kvHeads + head) * capacityStride + start * headDim;
        const dst = (toSlot * kvHeads + head) * capacityStride + start * headDim;
        const span = (end - start) * headDim;
        this.keys[layer].copyWithin(dst, src, src + span);
        this.values[layer].copyWithin(dst, src, src + span);
      }
    }
    this.wrote(toSlot, end);
  }

  /** Floats `count` positions take in every layer's K and V: the size `copyOut` fills. */
  positionsFloats(count: number): number {
    return 2 * this.shape.layers * this.shape.kvHeads * count * this.shape.headDim;
  }

  /** Copies positions [start, start + count) of a slot, every layer's K then V, head by head, into `dst` (prefix caching). */
  copyOut(slot: number, start: number, count: number, dst: Float32Array): void {
    this.eachSpan(slot, start, count, (buffer, at, offset, span) => dst.set(buffer.subarray(at, at + span), offset));
  }

  /** The inverse of copyOut: writes `src` into positions [start, start + count) of a slot. */
  copyIn(slot: number, start: number, count: number, src: Float32Array): void {
    this.eachSpan(slot, start, count, (buffer, at, offset, span) => buffer.set(src.subarray(offset, offset + span), at));
    this.wrote(slot, start + count);
  }

  private eachSpan(slot: number, start: number, count: number, copy: (buffer: Float32Array, at: number, offset: number, span: number) => void): void {
    const { kvHeads, headDim, layers } = this.shape;
    if (start + count > this.capacity) throw new Error(`positions [${start}, ${start + count}) exceed the slot capacity ${this.capacity}`);
    const capacityStride = this.capacity * headDim;
    const span = count * headDim;
    let offset = 0;
    for (let layer = 0; layer < layers; layer++) {
      for (const buffer of [this.keys[layer], this.values[layer]]) {
        for (let head = 0; head < kvHeads; head++) {
          copy(buffer, (slot * kvHeads + head) * capacityStride + start * headDim, offset, span);
          offset += span;
        }
      }
    }
  }

  /** Positions a decode call over every active slot reads that an earlier occupant wrote. */
  stalePositions(): number {
    let stale = 0;
    for (let slot = 0; slot < this.lengths.length; slot++) stale += this.touched[slot] - this.lengths[slot];
    return stale;
  }

  private mostlyStale(): boolean {
    let live = 0;
    for (const length of this.lengths) live += length;
    const stale = this.stalePositions();
    // At least one slot's worth, so that a few finished sequences do not re-lay out a nearly empty pool.
    return stale >= this.capacity && stale > STALE_RELAYOUT_RATIO * live;
  }

  private wrote(slot: number, end: number): void {
    if (end > this.lengths[slot]) this.lengths[slot] = end;
    if (end > this.touched[slot]) this.touched[slot] = end;
  }

  /** Address space the buffers span; only written pages are resident. */
  reservedBytes(): number {
    return 2 * this.shape.layers * this.allocatedSlots * this.slotStride() * 4;
  }

  private slotsFor(capacity: number): number {
    if (capacity === 0) return this.shape.maxSlots;
    return Math.min(this.shape.maxSlots, Math.floor(this.shape.budgetTokens / capacity));
  }

  private slotStride(): number {
    return this.shape.kvHeads * this.capacity * this.shape.headDim;
  }

  private allocate(capacity: number, slots: number): void {
    this.capacity = capacity;
    this.allocatedSlots = slots;
    this.touched = new Array<number>(slots).fill(0);
    const size = slots * this.slotStride();
    const buffers = this.chunkedBuffers(2 * this.shape.layers, size);
    this.keys = buffers.slice(0, this.shape.layers);
    this.values = buffers.slice(this.shape.layers);
  }

  /** `count` zeroed arrays of `size` floats, packed into as few ArrayBuffers of at most CHUNK_BYTES as fit. */
  private chunkedBuffers(count: number, size: number): Float32Array[] {
    const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / Math.max(1, size * 4)));
    const out: Float32Array[] = [];
    while (out.length < count) {
      const inChunk = Math.min(perChunk, count - out.length);
      const chunk = new ArrayBuffer(inChunk * size * 4);
      for (let i = 0; i < inChunk; i++) out.push(new Float32Array(chunk, i * size * 4, size));
    }
    return out;
  }
}
