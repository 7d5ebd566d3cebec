// Every supported ggml block type decoded by Serval (dequantize, and the
// MatMulNBits packing of the 4-bit ones) against decoders written here from
// the block layouts in ggml-common.h, element by element, on random blocks.

import t from 'tap';
import { f32ToF16Bits } from '../../../src/model/float-convert.js';
import { dequantize } from '../../../src/model/gguf/dequantize.js';
import type { SupportedGgmlType } from '../../../src/model/gguf/ggml-types.js';
import { packInt4, packInt8, type Int4GgmlType } from '../../../src/model/gguf/pack-nbits.js';
import { SplitMix32 } from '../../../src/model/testmodels/prng.js';
import type { PackedLinear } from '../../../src/model/types.js';
import { f16Formula } from '../helpers.js';

interface Layout {
  blockSize: number;
  blockBytes: number;
  /** Byte offsets of f16 scale fields (filled with sane values rather than random bits). */
  f16At: number[];
  /** Element e of one block. */
  decode(b: Uint8Array, e: number): number;
}

const f16 = (b: Uint8Array, o: number): number => f16Formula(b[o] | (b[o + 1] << 8));
const i8 = (v: number): number => (v > 127 ? v - 256 : v);
/** k-quant 6-bit scale (which = 0) or min (which = 1) of sub-block j, from the 12 bytes at o. */
function kScale(b: Uint8Array, o: number, j: number, which: 0 | 1): number {
  const s = (i: number): number => b[o + i];
  if (j < 4) return s(j + 4 * which) & 63;
  const low = which === 0 ? s(j + 4) & 15 : s(j + 4) >> 4;
  return low | ((s(j - 4 * (1 - which)) >> 6) << 4);
}

const LAYOUTS: Record<SupportedGgmlType, Layout> = {
  F32: { blockSize: 1, blockBytes: 4, f16At: [], decode: (b) => new DataView(b.buffer, b.byteOffset).getFloat32(0, true) },
  F16: { blockSize: 1, blockBytes: 2, f16At: [0], decode: (b) => f16(b, 0) },
  BF16: { blockSize: 1, blockBytes: 2, f16At: [], decode: (b) => new DataView(new Uint8Array([0, 0, b[0], b[1]]).buffer).getFloat32(0, true) },
  Q8_0: { blockSize: 32, blockBytes: 34, f16At: [0], decode: (b, e) => f16(b, 0) * i8(b[2 + e]) },
  Q4_0: { blockSize: 32, blockBytes: 18, f16At: [0], decode: (b, e) => (((e < 16 ? b[2 + e] : b[2 + e - 16] >> 4) & 15) - 8) * f16(b, 0) },
  Q4_1: { blockSize: 32, blockBytes: 20, f16At: [0, 2], decode: (b, e) => ((e < 16 ? b[4 + e] : b[4 + e - 16] >> 4) & 15) * f16(b, 0) + f16(b, 2) },
  Q4_K: {
    blockSize: 256,
    blockBytes: 144,
    f16At: [0, 2],
    decode: (b, e) => {
      const sub = Math.floor(e / 32);
      const q = (b[16 + Math.floor(sub / 2) * 32 + (e % 32)] >> (4 * (sub % 2))) & 15;
      return f16(b, 0) * kScale(b, 4, sub, 0) * q - f16(b, 2) * kScale(b, 4, sub, 1);
    },
  },
  Q5_K: {
    blockSize: 256,
    blockBytes: 176,
    f16At: [0, 2],
    decode: (b, e) => {
      const sub = Math.floor(e / 32);
      const l = e % 32;
      const q = ((b[48 + Math.floor(sub / 2) * 32 + l] >> (4 * (sub % 2))) & 15) + 16 * ((b[16 + l] >> sub) & 1);
      return f16(b, 0) * kScale(b, 4, sub, 0) * q - f16(b, 2) * kScale(b, 4, sub, 1);
    },
  },
  Q6_K: {
    blockSize: 256,
    blockBytes: 210,
    f16At: [208],
    decode: (b, e) => {
      const half = Math.floor(e / 128);
      const quarter = Math.floor((e % 128) / 32);
      const l = e % 32;
      const low = b[half * 64 + l + (quarter % 2) * 32];
      const nibble = quarter < 2 ? low & 15 : low >> 4;
      const high = (b[128 + half * 32 + l] >> (2 * quarter)) & 3;
      const scale = i8(b[192 + half * 8 + Math.floor(l / 16) + 2 * quarter]);
      return f16(b, 208) * scale * ((nibble | (high << 4)) - 32);
    },
  },
};

function randomBlocks(layout: Layout, blocks: number, rng: SplitMix32): Uint8Array {
  const out = new Uint8Array(blocks * layout.blockBytes);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rng.nextFloat() * 256);
  for (let b = 0; b < blocks; b++) {
    for (const at of layout.f16At) {
      const bits = f32ToF16Bits((rng.nextFloat() - 0.3) * 0.02);
      out[b * layout.blockBytes + at] = bits & 0xff;
      out[b * layout.blockBytes + at + 1] = bits >> 8;
    }
  }
  // Plain floats: keep random bit patterns finite (exponent below all-ones).
  if (layout.blockSize === 1 && layout.f16At.length === 0) for (let i = layout.blockBytes - 1; i < out.length; i += layout.blockBytes) out[i] &= 0x7e;
  return out;
}

function reference(layout: Layout, bytes: Uint8Array, elements: number): Float64Array {
  const out = new Float64Array(elements);
  for (let e = 0; e < elements; e++) {
    const block = Math.floor(e / layout.blockSize);
    out[e] = layout.decode(bytes.subarray(block * layout.blockBytes, (block + 1) * layout.blockBytes), e % layout.blockSize);
  }
  return out;
}

function worstRelative(got: ArrayLike<number>, want: Float64Array): number {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  return worst / Math.max(scale, 1e-30);
}

/** (code − zero point)·scale + min, element by element, from the MatMulNBits layout. */
function unpack(q: PackedLinear): Float64Array {
  const out = new Float64Array(q.n * q.k);
  for (let row = 0; row < q.n; row++) {
    for (let i = 0; i < q.k; i++) {
      const block = Math.floor(i / q.blockSize);
      const j = i % q.blockSize;
      const blockBase = (row * q.kBlocks + block) * ((q.blockSize * q.bits) / 8);
      const byte = q.bits === 8 ? q.packed[blockBase + j] : q.packed[blockBase + Math.floor(j / 2)];
      const code = q.bits === 8 ? byte : j % 2 === 0 ? byte & 15 : byte >> 4;
      const zpByte = q.zeroPoints === null ? 0x88 : q.zeroPoints[row * Math.ceil(q.kBlocks / 2) + Math.floor(block / 2)];
      const zp = q.bits === 8 ? 128 : block % 2 === 0 ? zpByte & 15 : zpByte >> 4;
      const min = q.mins === null ? 0 : q.mins[row * q.kBlocks + block];
      out[row * q.k + i] = (code - zp) * q.scales[row * q.kBlocks + block] + min;
    }
  }
  return out;
}

const rng = new SplitMix32(77);
for (const [type, layout] of Object.entries(LAYOUTS) as [SupportedGgmlType, Layout][]) {
  t.test(`${type}: dequantize equals the block layout decoded from the spec`, async (t) => {
    const elements = layout.blockSize === 1 ? 1000 : layout.blockSize * 12;
    const bytes = randomBlocks(layout, elements / layout.blockSize, rng);
    const want = reference(layout, bytes, elements);
    const got = dequantize(type, bytes, elements);
    t.equal(got.length, elements);
    t.ok(got.every(Number.isFinite), 'finite');
    const worst = worstRelative(got, want);
    // float32 evaluation (as ggml does) vs float64 here: a few ulp of the largest value.
    t.ok(worst <= 1e-6, `max |Δ| / max |x| = ${worst.toExponential(2)}`);
  });
}

for (const type of ['Q4_0', 'Q4_1', 'Q4_K', 'Q8_0'] as (Int4GgmlType | 'Q8_0')[]) {
  t.test(`${type}: MatMulNBits packing holds the same weights`, async (t) => {
    const layout = LAYOUTS[type];
    const n = 3;
    const k = 512;
    const bytes = randomBlocks(layout, (n * k) / layout.blockSize, rng);
    const packed = type === 'Q8_0' ? packInt8(bytes, n, k) : packInt4(type, bytes, n, k);
    t.same([packed.bits, packed.n, packed.k, packed.blockSize, packed.kBlocks], [type === 'Q8_0' ? 8 : 4, n, k, 32, k / 32]);
    t.equal(packed.mins === null, type === 'Q4_0' || type === 'Q8_0', 'mins only for the asymmetric types');
    const worst = worstRelative(unpack(packed), reference(layout, bytes, n * k));
    t.ok(worst <= 1e-6, `max |Δ| / max |x| = ${worst.toExponential(2)}`);
  });
}
