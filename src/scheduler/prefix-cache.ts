// One worker's prefix cache, as the scheduler keeps its books: which blocks of
// PREFIX_BLOCK_SIZE token positions the worker holds copies of, keyed by a hash
// chained over the tokens from position 0 (a block means "these tokens after
// exactly that prefix"). The device worker holds the K/V itself in numbered
// blocks (src/worker/prefix-store.ts) and only does the copies a step names;
// this class decides them.
//
// Blocks are copies, never shared with a running slot, so every block can be
// evicted at any time without touching a sequence: eviction is book-keeping
// plus a `drop` the worker applies at its next step. Least recently used go
// first; a lookup or save touches a chain leaf-first, so a parent is always
// more recent than its children and is never evicted before them.
//
// A hash match is verified (same parent block, same tokens) before it counts,
// so a hash collision is a miss, never wrong KV.

import { PREFIX_BLOCK_SIZE, type BlockSave } from '../worker/types.js';

export { PREFIX_BLOCK_SIZE };

export interface CachedBlock {
  /** The worker's block number (reused after eviction). */
  readonly id: number;
  readonly hash: number;
  readonly parent: CachedBlock | null;
  readonly tokens: readonly number[];
}

/** What a sequence's leading blocks look like to the cache. */
export interface BlockSource {
  readonly id: string;
  /** Chained hash of block i (its tokens and every token before it). */
  blockHash(i: number): number;
  /** Tokens of block i. */
  blockTokens(i: number): number[];
}

export class PrefixCache {
  /** hash → block, in least-recently-used-first order (a Map keeps insertion order; touch = delete + set). */
  private readonly blocks = new Map<number, CachedBlock>();
  private readonly freeIds: number[] = [];
  private nextId = 0;
  /** Saves decided but not yet handed to the worker: an evicted block's save is cancelled instead of dropped. */
  private pendingSaves: BlockSave[] = [];
  private pendingDrops: number[] = [];
  /** Blocks a step being planned loads: not evictable until that plan is taken. */
  private readonly pinned = new Set<number>();

  get numBlocks(): number {
    return this.blocks.size;
  }

  get tokens(): number {
    return this.blocks.size * PREFIX_BLOCK_SIZE;
  }

  /** The longest run of `seq`'s leading blocks held here, at most `maxBlocks`; touched and pinned (the caller loads them). */
  match(seq: BlockSource, maxBlocks: number): CachedBlock[] {
    const found = this.walk(seq, maxBlocks);
    this.touch(found);
    for (const block of found) this.pinned.add(block.id);
    return found;
  }

  /** How many of `seq`'s leading blocks are held here (no side effects: for placement). */
  peek(seq: BlockSource, maxBlocks: number): number {
    return this.walk(seq, maxBlocks).length;
  }

  /** `seq`'s leading blocks held here, each verified against its parent and tokens, at most `maxBlocks`. */
  private walk(seq: BlockSource, maxBlocks: number): CachedBlock[] {
    const found: CachedBlock[] = [];
    let parent: CachedBlock | null = null;
    for (let i = 0; i < maxBlocks; i++) {
      const block = this.blocks.get(seq.blockHash(i));
      if (block === undefined || block.parent !== parent || !sameTokens(block.tokens, seq.blockTokens(i))) break;
      found.push(block);
      parent = block;
    }
    return found;
  }

  /**
   * Records `seq`'s blocks [0, to) as held, queueing a copy for each one not
   * held yet, at most `room` new ones; stops at the first block that finds no
   * room (later ones would be unreachable). Returns how many leading blocks are
   * held now.
   */
  save(seq: BlockSource, to: number, room: number): number {
    const chain: CachedBlock[] = [];
    let parent: CachedBlock | null = null;
    let i = 0;
    for (; i < to; i++) {
      const hash = seq.blockHash(i);
      const existing = this.blocks.get(hash);
      if (existing !== undefined) {
        if (existing.parent !== parent || !sameTokens(existing.tokens, seq.blockTokens(i))) break; // a collision: keep the holder
        parent = existing;
      } else {
        if (room <= 0) break;
        room--;
        const id = this.freeIds.pop() ?? this.nextId++;
        parent = { id, hash, parent, tokens: seq.blockTokens(i) };
        this.blocks.set(hash, parent);
        this.pendingSaves.push({ seqId: seq.id, index: i, id });
      }
      chain.push(parent);
    }
    this.touch(chain);
    return i;
  }

  /** Evicts up to `count` least recently used blocks that are not pinned; returns how many went. */
  evict(count: number): number {
    let evicted = 0;
    for (const block of this.blocks.values()) {
      if (evicted >= count) break;
      if (this.pinned.has(block.id)) continue;
      this.blocks.delete(block.hash);
      this.freeIds.push(block.id);
      const saves = this.pendingSaves.length;
      this.pendingSaves = this.pendingSaves.filter((save) => save.id !== block.id);
      if (this.pendingSaves.length === saves) this.pendingDrops.push(block.id);
      evicted++;
    }
    return evicted;
  }

  /** Blocks that may be evicted now (pinned ones are always held: they cannot be evicted). */
  evictable(): number {
    return this.blocks.size - this.pinned.size;
  }

  /** The copies and drops decided since the last call, for the worker's next step; unpins everything. */
  take(): { saves: BlockSave[]; drops: number[] } {
    const out = { saves: this.pendingSaves, drops: this.pendingDrops };
    this.pendingSaves = [];
    this.pendingDrops = [];
    this.pinned.clear();
    return out;
  }

  /** Forgets everything (the worker lost its memory). */
  clear(): void {
    this.blocks.clear();
    this.freeIds.length = 0;
    this.nextId = 0;
    this.pendingSaves = [];
    this.pendingDrops = [];
    this.pinned.clear();
  }

  /** Most recent last: leaf first, so the chain's root ends up the most recent. */
  private touch(chain: readonly CachedBlock[]): void {
    for (let i = chain.length - 1; i >= 0; i--) {
      const block = chain[i];
      this.blocks.delete(block.hash);
      this.blocks.set(block.hash, block);
    }
  }
}

/** The hash of a block: two 32-bit FNV-1a lanes over the parent's hash and the block's tokens, as one 52-bit number. */
export function chainHash(parent: number, tokens: readonly number[]): number {
  let a = 0x811c9dc5 ^ (parent >>> 0);
  let b = 0x01000193 ^ Math.floor(parent / 0x100000000);
  for (const token of tokens) {
    a = Math.imul(a ^ token, 0x01000193);
    b = Math.imul(b ^ token, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) >>> 12);
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
