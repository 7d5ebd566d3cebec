import t from 'tap';
import { expNeg, EXP_NEG_MAX_NATS } from '../../src/sampling/fast-exp.js';
import { philox4x32, uniformAt } from '../../src/sampling/philox.js';
import { sortCandidates } from '../../src/sampling/candidate-sort.js';
import { mulberry32 } from './helpers.js';

t.test('expNeg matches Math.exp to 1e-8 relative over [0, 80] and is monotone', (t) => {
  let worst = 0;
  let rises = 0;
  let prev = Infinity;
  for (let i = 0; i <= 400000; i++) {
    const d = (i / 400000) * EXP_NEG_MAX_NATS;
    const ref = Math.exp(-d);
    const got = expNeg(d);
    worst = Math.max(worst, Math.abs(got - ref) / ref);
    if (got > prev) rises++;
    prev = got;
  }
  t.equal(rises, 0, 'non-increasing');
  t.ok(worst < 1e-8, `worst relative error ${worst}`);
  t.equal(expNeg(0), 1);
  t.equal(expNeg(Infinity), 0);
  t.equal(expNeg(NaN), 0);
  t.equal(expNeg(EXP_NEG_MAX_NATS + 1), 0);
  t.end();
});

t.test('Philox4x32-10 reproduces the Random123 known-answer vectors', (t) => {
  const out = new Uint32Array(4);
  const hex = (): string[] => Array.from(out, (w) => w.toString(16).padStart(8, '0'));
  philox4x32(0, 0, 0, 0, 0, 0, out);
  t.same(hex(), ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
  philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
  t.same(hex(), ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
  philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
  t.same(hex(), ['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  t.end();
});

t.test('uniformAt is in [0,1), deterministic, and roughly uniform across seeds and steps', (t) => {
  t.equal(uniformAt(7, 0, 3), uniformAt(7, 0, 3));
  t.not(uniformAt(7, 0, 3), uniformAt(7, 0, 4));
  t.not(uniformAt(7, 0, 3), uniformAt(8, 0, 3));
  const bins = new Array<number>(20).fill(0);
  const N = 20000;
  let outOfRange = 0;
  for (let s = 0; s < N; s++) {
    const u = uniformAt(s, 0, s % 7);
    if (!(u >= 0 && u < 1)) outOfRange++;
    else bins[Math.floor(u * 20)]++;
  }
  t.equal(outOfRange, 0);
  // χ²(19) at 1e-3 ≈ 43.8
  const stat = bins.reduce((s, c) => s + (c - N / 20) ** 2 / (N / 20), 0);
  t.ok(stat < 43.8, `chi-square ${stat}`);
  t.end();
});

t.test('sortCandidates orders by key desc then id asc, like a comparator sort', (t) => {
  const rand = mulberry32(3);
  for (let trial = 0; trial < 200; trial++) {
    const n = Math.floor(rand() * 300);
    const keys = new Float64Array(n);
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      keys[i] = Math.floor(rand() * (trial % 2 ? 5 : 1000)); // many ties on odd trials
      ids[i] = i;
    }
    // shuffle ids alongside keys
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [keys[i], keys[j]] = [keys[j], keys[i]];
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    const pairs = Array.from(ids, (id, i) => [keys[i], id] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    sortCandidates(keys, ids, 0, n);
    const got = Array.from(ids, (id, i) => [keys[i], id] as const);
    if (JSON.stringify(got) !== JSON.stringify(pairs)) {
      t.fail(`trial ${trial} mis-sorted`);
      break;
    }
  }
  t.pass('200 random arrays sorted');
  t.end();
});
