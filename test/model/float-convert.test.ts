// 16-bit float conversions against independent arithmetic (Node 20 has no
// DataView.getFloat16): decoding from the IEEE formula, encoding checked by
// "no neighbouring 16-bit value is closer, and ties go to the even one".

import t from 'tap';
import { bf16Formula, f16Formula } from './helpers.js';
import { bf16ToF32, encodeBf16, encodeF16, f16ToF32, f32ToBf16Bits, f32ToF16Bits } from '../../src/model/float-convert.js';

const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

t.test('F16 → F32 decodes every bit pattern exactly', async (t) => {
  const all = new Uint16Array(65536);
  for (let i = 0; i < 65536; i++) all[i] = i;
  const out = f16ToF32(all);
  let bad = 0;
  for (let i = 0; i < 65536; i++) if (!same(out[i], f16Formula(i))) bad++;
  t.equal(bad, 0, 'all 65536 patterns match the formula');
  const edge: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x0400, 2 ** -14], // smallest normal
    [0x7bff, 65504], // max
    [0xfbff, -65504],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
    [0x3c00, 1],
    [0x3555, 0.333251953125],
  ];
  for (const [bits, value] of edge) t.ok(Object.is(f16ToF32(new Uint16Array([bits]))[0], value), `0x${bits.toString(16)} → ${value}`);
  t.ok(Number.isNaN(f16ToF32(new Uint16Array([0x7e00]))[0]), 'quiet NaN');
  t.ok(Number.isNaN(f16ToF32(new Uint16Array([0x7c01]))[0]), 'signalling NaN stays NaN');
});

t.test('BF16 → F32 is exact for every bit pattern', async (t) => {
  const all = new Uint16Array(65536);
  for (let i = 0; i < 65536; i++) all[i] = i;
  const out = bf16ToF32(all);
  let bad = 0;
  for (let i = 0; i < 65536; i++) if (!same(out[i], bf16Formula(i))) bad++;
  t.equal(bad, 0);
});

/** Returns descriptions of samples that did not round to the nearest (ties-to-even) value. */
function roundingFailures(
  encode: (x: number) => number,
  decode: (h: number) => number,
  maxFinite: number,
  samples: number[],
): string[] {
  let bad = 0;
  const fails: string[] = [];
  for (const x of samples) {
    const h = encode(x);
    const v = decode(h);
    if (Number.isNaN(x)) {
      if (!Number.isNaN(v)) bad++;
      continue;
    }
    if (Math.abs(x) > maxFinite && !Number.isFinite(v)) continue; // overflow handled separately
    const err = Math.abs(v - x);
    for (const n of [h - 1, h + 1]) {
      if (n < 0 || n > 0xffff || ((n ^ h) & 0x8000) !== 0) continue;
      const nv = decode(n);
      if (Number.isNaN(nv)) continue;
      const nerr = Math.abs(nv - x);
      if (nerr < err || (nerr === err && (h & 1) === 1)) {
        bad++;
        if (fails.length < 5) fails.push(`${x} → 0x${h.toString(16)} (neighbour 0x${n.toString(16)} better)`);
      }
    }
    if (x !== 0 && Math.sign(v) !== Math.sign(x) && v !== 0) {
      bad++;
      fails.push(`${x} changed sign`);
    }
  }
  if (bad > fails.length) fails.push(`…${bad - fails.length} more`);
  return fails;
}

function samplesFor(scale: number[]): number[] {
  const f = new Float32Array(1);
  const out: number[] = [0, -0, NaN, Infinity, -Infinity];
  let s = 12345;
  const rand = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
  for (const e of scale) {
    for (let i = 0; i < 400; i++) {
      f[0] = (rand() * 2 - 1) * 2 ** e;
      out.push(f[0]);
    }
  }
  return out;
}

t.test('F32 → F16 rounds to nearest even', async (t) => {
  const samples = samplesFor([-26, -24, -20, -15, -14, -10, -1, 0, 3, 10, 15, 16]);
  // Exact ties: halfway between 1 and the next F16 (1 + 2^-10) must round to 1 (even).
  samples.push(1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -25, 3 * 2 ** -25, 65519, 65520);
  t.same(roundingFailures(f32ToF16Bits, f16Formula, 65504, samples), [], 'F16 rounds to nearest, ties to even');
  t.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00, 'tie 1+2^-11 → 1 (even)');
  t.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02, 'tie 1+3·2^-11 → up to even');
  t.equal(f32ToF16Bits(2 ** -25), 0x0000, 'half the smallest subnormal ties to 0');
  t.equal(f32ToF16Bits(3 * 2 ** -25), 0x0002, '1.5 × smallest subnormal ties to 2 (even)');
  t.equal(f32ToF16Bits(65519), 0x7bff, 'just below the overflow midpoint stays finite');
  t.equal(f32ToF16Bits(65520), 0x7c00, 'the overflow midpoint rounds to inf');
  t.equal(f32ToF16Bits(1e6), 0x7c00);
  t.equal(f32ToF16Bits(-1e6), 0xfc00);
  t.equal(f32ToF16Bits(-0), 0x8000);
  t.ok(Number.isNaN(f16Formula(f32ToF16Bits(NaN))));
  const arr = new Float32Array([0.1, -2.5, 1e-7]);
  t.same([...encodeF16(arr)], [...arr].map(f32ToF16Bits), 'array encoder matches scalar');
});

t.test('F32 → BF16 rounds to nearest even', async (t) => {
  const samples = samplesFor([-130, -127, -60, -1, 0, 10, 100, 127]);
  samples.push(1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4e38);
  t.same(roundingFailures(f32ToBf16Bits, bf16Formula, 3.3895313892515355e38, samples), [], 'BF16 rounds to nearest, ties to even');
  t.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80, 'tie → even (down)');
  t.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82, 'tie → even (up)');
  t.ok(Number.isNaN(bf16Formula(f32ToBf16Bits(NaN))), 'NaN stays NaN');
  t.equal(f32ToBf16Bits(Infinity), 0x7f80);
  const arr = new Float32Array([0.1, -2.5, 1e-7]);
  t.same([...encodeBf16(arr)], [...arr].map(f32ToBf16Bits));
});
