import t, { type Test } from 'tap';
import { KvSlotPool } from '../../src/worker/kv-pool.js';
import { mulberry32 } from '../support/random.js';

const shape = { layers: 2, kvHeads: 2, headDim: 3, maxSlots: 8, budgetTokens: 8 * 64 };

/** Writes value(seq, layer, head, pos, d) for positions [0, count) of a sequence's slot. */
function fill(pool: KvSlotPool, seq: number, count: number): void {
  const { kvHeads, headDim } = shape;
  for (let layer = 0; layer < shape.layers; layer++) {
    const keys = new Float32Array(kvHeads * count * headDim);
    const values = new Float32Array(keys.length);
    for (let h = 0; h < kvHeads; h++) {
      for (let p = 0; p < count; p++) {
        for (let d = 0; d < headDim; d++) {
          const i = (h * count + p) * headDim + d;
          keys[i] = seq * 1000 + layer * 100 + h * 10 + p + d / 10;
          values[i] = -keys[i];
        }
      }
    }
    pool.write(layer, keys, values, count, 0, pool.slotOf(`s${seq}`), 0, count);
  }
}

/** Checks positions [0, count) of a sequence's slot through the decode-batch views. */
function check(t: Test, pool: KvSlotPool, seq: number, count: number): void {
  const { kvHeads, headDim } = shape;
  const slot = pool.slotOf(`s${seq}`);
  const views = pool.prefixViews(pool.activeSlots);
  let bad = 0;
  for (let layer = 0; layer < shape.layers; layer++) {
    for (let h = 0; h < kvHeads; h++) {
      for (let p = 0; p < count; p++) {
        for (let d = 0; d < headDim; d++) {
          const i = ((slot * kvHeads + h) * pool.capacity + p) * headDim + d;
          const want = seq * 1000 + layer * 100 + h * 10 + p + d / 10;
          if (Math.abs(views.keys[layer][i] - want) > 1e-3 || Math.abs(views.values[layer][i] + want) > 1e-3) bad++;
        }
      }
    }
  }
  t.equal(bad, 0, `sequence ${seq} intact in slot ${slot}`);
}

/** A pool laid out for lengths.length slots of `capacity`; sequence s{i} holds lengths[i] written positions. */
function poolWith(capacity: number, lengths: number[]): KvSlotPool {
  const pool = new KvSlotPool(shape);
  pool.reserve(capacity, lengths.length);
  lengths.forEach((length, s) => {
    pool.acquire(`s${s}`);
    fill(pool, s, length);
  });
  return pool;
}

t.test('release keeps slots contiguous and moves the last slot intact', async (t) => {
  const pool = poolWith(16, [10, 10, 10, 10]);
  pool.release('s1');
  t.equal(pool.activeSlots, 3);
  t.equal(pool.slotOf('s3'), 1, 'the last sequence took the freed slot');
  for (const s of [0, 2, 3]) check(t, pool, s, 10);
});

t.test('growing and shrinking the capacity keeps every active sequence', async (t) => {
  const pool = poolWith(16, [16, 12]);
  t.equal(pool.capacity, 32, 'a new layout gets 1.5x the need, rounded up to 16');
  pool.reserve(48, 2);
  t.equal(pool.capacity, 64, 'growth headroom stops where the budget would no longer hold every slot (512 / 8)');
  check(t, pool, 0, 16);
  check(t, pool, 1, 12);
  pool.reserve(40, 2);
  t.equal(pool.capacity, 64, 'within 2x of the need: no re-layout');
  pool.reserve(16, 2);
  t.equal(pool.capacity, 32, 'more than 2x the need: shrinks to 1.5x');
  check(t, pool, 0, 16);
  check(t, pool, 1, 12);
});

t.test('a sequence decoding one position at a time re-lays out its pool a few times, not every granule', async (t) => {
  const pool = new KvSlotPool({ ...shape, maxSlots: 4, budgetTokens: 4 * 2048, maxCapacity: 1000 });
  pool.reserve(128, 1);
  pool.acquire('s0');
  const capacities = [pool.capacity];
  for (let need = 129; need <= 1000; need++) {
    pool.reserve(need, 1);
    t.ok(pool.capacity >= need, 'holds the need');
    if (pool.capacity !== capacities.at(-1)) capacities.push(pool.capacity);
  }
  t.same(capacities, [192, 304, 464, 704, 1000], '1.5x the need, rounded up to 16, each time; capped at maxCapacity');
  pool.release('s0');
  pool.reserve(600, 4);
  t.equal(pool.capacity, 1000, 'a shorter sequence keeps the layout (within 2x)');
  const tight = new KvSlotPool({ ...shape, maxSlots: 4, budgetTokens: 4 * 100 });
  tight.reserve(90, 1);
  t.equal(tight.capacity, 100, 'no headroom beyond what leaves room for every slot');
  tight.reserve(150, 2);
  t.equal(tight.capacity, 150, 'past that, exactly the need');
});

t.test('growth headroom stops at the ceiling: no sequence will need more', async (t) => {
  const pool = new KvSlotPool({ ...shape, maxSlots: 4, budgetTokens: 4 * 2048 });
  pool.reserve(192, 1, 192);
  t.equal(pool.capacity, 192, 'prompt + max_tokens is 192: no 1.5x headroom (288)');
  pool.acquire('s0');
  pool.reserve(200, 2, 400);
  t.equal(pool.capacity, 304, 'a longer sequence, well within the ceiling: 1.5x the need, rounded up to 16');
  pool.reserve(320, 2, 330);
  t.equal(pool.capacity, 336, 'ceiling 330, rounded up to 16');
  const fresh = new KvSlotPool({ ...shape, maxSlots: 4, budgetTokens: 4 * 2048 });
  fresh.reserve(192, 1, 150);
  t.equal(fresh.capacity, 192, 'never below the need');
});

t.test('an idle pool keeps its layout for the next sequence', async (t) => {
  const pool = new KvSlotPool({ ...shape, maxSlots: 4, budgetTokens: 4 * 512 });
  pool.reserve(128, 1);
  pool.acquire('s0');
  const buffer = pool.prefixViews(1).keys[0].buffer;
  pool.release('s0');
  pool.reserve(0, 0);
  t.equal(pool.capacity, 192, 'no sequence left: the layout stays');
  pool.reserve(100, 1);
  pool.acquire('s1');
  t.equal(pool.capacity, 192, 'a shorter next sequence fits it (within 2x)');
  t.equal(pool.prefixViews(1).keys[0].buffer, buffer, 'same buffers: no re-layout');
  pool.release('s1');
  pool.reserve(0, 0);
  pool.reserve(400, 1);
  t.ok(pool.capacity >= 400, 'a longer one still grows it');
});

t.test('a layout holds every slot the budget allows at its capacity, and no more', async (t) => {
  const pool = new KvSlotPool(shape);
  pool.reserve(32, 1);
  t.equal(pool.allocatedSlots, shape.maxSlots, 'budget 512 / capacity 32 allows 16: capped at maxSlots');
  for (let s = 0; s < shape.maxSlots; s++) pool.acquire(`s${s}`);
  t.throws(() => pool.acquire('extra'), /reserve/);
  t.throws(() => pool.reserve(32, shape.maxSlots + 1), /budget/);
  t.ok(pool.reservedBytes() <= 2 * shape.layers * shape.budgetTokens * shape.kvHeads * shape.headDim * 4, 'within the KV budget');

  const wide = new KvSlotPool(shape);
  wide.reserve(128, 1);
  t.equal(wide.allocatedSlots, 4, 'budget 512 / capacity 128');
});

t.test('a release after a capacity change moves only what was written, and later writes land intact', async (t) => {
  const pool = poolWith(16, [4, 8, 12]);
  pool.reserve(40, 3);
  pool.release('s0');
  t.equal(pool.slotOf('s2'), 0);
  check(t, pool, 2, 12);
  check(t, pool, 1, 8);
  fill(pool, 2, 30);
  check(t, pool, 2, 30);
});

t.test('positions an earlier occupant wrote count as stale until a fresh re-layout', async (t) => {
  const pool = poolWith(16, [16, 16, 16, 16]);
  t.equal(pool.stalePositions(), 0, 'first occupants leave nothing stale');
  pool.release('s3');
  pool.release('s1');
  pool.acquire('s4');
  fill(pool, 4, 2);
  t.equal(pool.stalePositions(), 14, "s4 reads 14 positions its slot's earlier occupant wrote");
  pool.reserve(16, 3);
  t.equal(pool.stalePositions(), 14, '14 stale against 34 live positions (under half): kept');

  pool.release('s0');
  pool.release('s2');
  pool.acquire('s5');
  pool.acquire('s6');
  fill(pool, 5, 3);
  fill(pool, 6, 1);
  const staleBefore = pool.stalePositions();
  t.ok(staleBefore > 2 + 3 + 1, `${staleBefore} stale positions outnumber the 6 live ones`);
  pool.reserve(16, 3);
  t.equal(pool.capacity, 32, 'same capacity');
  t.equal(pool.stalePositions(), 0, 'a fresh buffer: nothing stale');
  check(t, pool, 4, 2);
  check(t, pool, 5, 3);
  check(t, pool, 6, 1);
});

t.test('copyOut then copyIn moves a block of positions into another slot, every layer and head', async (t) => {
  const pool = poolWith(32, [20, 0]);
  const block = new Float32Array(pool.positionsFloats(8));
  pool.copyOut(pool.slotOf('s0'), 8, 8, block);
  pool.copyIn(pool.slotOf('s1'), 8, 8, block);
  pool.copyOut(pool.slotOf('s0'), 0, 8, block);
  pool.copyIn(pool.slotOf('s1'), 0, 8, block);
  // s1 now holds s0's first 16 positions: compare through the decode views.
  const views = pool.prefixViews(2);
  let bad = 0;
  const stride = shape.kvHeads * pool.capacity * shape.headDim;
  for (let layer = 0; layer < shape.layers; layer++) {
    for (let i = 0; i < shape.kvHeads * pool.capacity * shape.headDim; i++) {
      const pos = Math.floor(i / shape.headDim) % pool.capacity;
      if (pos >= 16) continue;
      if (views.keys[layer][stride + i] !== views.keys[layer][i] || views.values[layer][stride + i] !== views.values[layer][i]) bad++;
    }
  }
  t.equal(bad, 0, 'positions [0, 16) identical in both slots');
  t.equal(pool.capacity, 48);
  t.throws(() => pool.copyIn(pool.slotOf('s1'), 44, 8, block), /exceed the slot capacity/);
});

t.test('the budget bounds slots x capacity', async (t) => {
  const pool = new KvSlotPool(shape);
  t.throws(() => pool.reserve(128, 5), /budget/);
});

t.test('random admissions, writes, releases and capacity changes keep every written position', async (t) => {
  const next = mulberry32(3);
  const pool = new KvSlotPool(shape);
  /** Shadow: per sequence, the value written at each position (layer 0 keys; the rest follow the same path). */
  const written = new Map<string, number[]>();
  let serial = 0;
  let ops = 0;
  for (let op = 0; op < 400; op++) {
    const longest = Math.max(0, ...[...written.values()].map((v) => v.length));
    const choice = next();
    if (choice < 0.25 && pool.activeSlots < shape.maxSlots) {
      const seq = `q${serial++}`;
      const capacity = Math.max(pool.capacity, longest, 8);
      if ((pool.activeSlots + 1) * capacity > shape.budgetTokens) continue;
      pool.reserve(capacity, pool.activeSlots + 1);
      pool.acquire(seq);
      written.set(seq, []);
    } else if (choice < 0.4 && written.size > 0) {
      const seq = [...written.keys()][Math.floor(next() * written.size)];
      pool.release(seq);
      written.delete(seq);
    } else if (choice < 0.55 && written.size > 0) {
      // Shrink or grow to anything that still holds the longest sequence.
      const capacity = Math.max(longest, 1) + Math.floor(next() * 40);
      if (written.size * capacity > shape.budgetTokens) continue;
      pool.reserve(capacity, written.size);
    } else if (written.size > 0) {
      const seq = [...written.keys()][Math.floor(next() * written.size)];
      const values = written.get(seq) as number[];
      const count = 1 + Math.floor(next() * 6);
      const need = values.length + count;
      if (need > pool.capacity) {
        if (written.size * need > shape.budgetTokens) continue;
        pool.reserve(need, written.size);
      }
      const { kvHeads, headDim } = shape;
      const keys = new Float32Array(kvHeads * count * headDim);
      for (let i = 0; i < keys.length; i++) keys[i] = Math.round(next() * 1e6);
      for (let layer = 0; layer < shape.layers; layer++) pool.write(layer, keys, keys, count, 0, pool.slotOf(seq), values.length, count);
      // Record head 0, dimension 0 of each new position.
      for (let p = 0; p < count; p++) values.push(keys[p * headDim]);
    }
    ops++;
    let bad = 0;
    const views = pool.prefixViews(pool.activeSlots);
    for (const [seq, values] of written) {
      const slot = pool.slotOf(seq);
      values.forEach((value, p) => {
        const i = (slot * shape.kvHeads * pool.capacity + p) * shape.headDim;
        for (let layer = 0; layer < shape.layers; layer++) {
          if (views.keys[layer][i] !== value || views.values[layer][i] !== value) bad++;
        }
      });
    }
    if (bad > 0) {
      t.fail(`after operation ${op}: ${bad} positions lost`);
      return;
    }
  }
  t.ok(ops > 300, `${ops} operations, every written position intact after each`);
});
