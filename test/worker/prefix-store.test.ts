import t from 'tap';
import { KvSlotPool } from '../../src/worker/kv-pool.js';
import { PrefixBlockStore } from '../../src/worker/prefix-store.js';
import { PREFIX_BLOCK_SIZE } from '../../src/worker/types.js';

const shape = { layers: 2, kvHeads: 2, headDim: 4, maxSlots: 4, budgetTokens: 4 * 128 };
const length = 2 * PREFIX_BLOCK_SIZE;

/** Writes a value unique to (seq, layer, head, position, dim) into positions [0, length) of the sequence's slot. */
function fill(pool: KvSlotPool, seqId: string, seq: number): void {
  const { kvHeads, headDim } = shape;
  for (let layer = 0; layer < shape.layers; layer++) {
    const keys = Float32Array.from({ length: kvHeads * length * headDim }, (_, i) => seq * 1e5 + layer * 1e4 + i);
    pool.write(layer, keys, keys.map((k) => -k), length, 0, pool.slotOf(seqId), 0, length);
  }
}

/** Every float of positions [0, count) of a slot, all layers. */
function positions(pool: KvSlotPool, seqId: string, count: number): number[] {
  const out = new Float32Array(pool.positionsFloats(count));
  pool.copyOut(pool.slotOf(seqId), 0, count, out);
  return [...out];
}

t.test('a block saved into a recycled array carries the new slot contents, and loads them back', async (t) => {
  const pool = new KvSlotPool(shape);
  pool.reserve(length, 3);
  for (const [i, id] of ['a', 'b', 'c'].entries()) {
    pool.acquire(id);
    if (id !== 'c') fill(pool, id, i + 1);
  }
  const store = new PrefixBlockStore(pool);
  store.save([{ seqId: 'a', index: 0, id: 0 }, { seqId: 'a', index: 1, id: 1 }]);
  store.drop([0, 1]);
  t.throws(() => store.load('c', [0]), /not held/, 'a dropped block is gone');
  // These two saves reuse the arrays dropped above: stale contents of 'a' must not survive.
  store.save([{ seqId: 'b', index: 0, id: 2 }, { seqId: 'b', index: 1, id: 3 }]);
  t.equal(store.load('c', [2, 3]), length);
  t.same(positions(pool, 'c', length), positions(pool, 'b', length), "c holds b's positions, not a's");
  t.notSame(positions(pool, 'c', length), positions(pool, 'a', length));
});
