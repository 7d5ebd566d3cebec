// 4- and 8-bit ggml blocks → MatMulNBits blocks of 32, moving codes only (no
// floats are formed from them). Per 32-value block:
//   Q4_0:  w = (q − 8)·d            → code q, scale d, implicit zero point 8: exact
//   Q4_1:  w = q·d + m              → code q, scale d, zero point 0, min m: exact
//   Q4_K:  w = (d·sc)·q − dmin·mn   → code q, scale d·sc, zero point 0, min −dmin·mn: exact
//   Q8_0:  w = q·d (int8 q)          → 8-bit code q + 128, scale d, implicit zero point 128: exact
// MatMulNBits has no per-block additive term, so the mins travel separately and
// the graph adds Σ_block(x)·min (one small MatMul over K/32 block sums).

import type { PackedLinear } from '../types.js';
import { f16At, scaleMinK4 } from './dequantize.js';
import { QK_K } from './ggml-types.js';

export type Int4GgmlType = 'Q4_0' | 'Q4_1' | 'Q4_K';

export function isInt4GgmlType(type: string): type is Int4GgmlType {
  return type === 'Q4_0' || type === 'Q4_1' || type === 'Q4_K';
}

const BLOCK = 32;

/** `codeAt(l)` gives element l (0..31) of a block; writes MatMulNBits order (element 2i low nibble, 2i+1 high). */
function packBlock(out: Uint8Array, at: number, codeAt: (l: number) => number): void {
  for (let i = 0; i < BLOCK / 2; i++) out[at + i] = codeAt(2 * i) | (codeAt(2 * i + 1) << 4);
}

/** A [n, k] weight stored as `type` in `src` (row-major, k contiguous) as MatMulNBits blocks. */
export function packInt4(type: Int4GgmlType, src: Uint8Array, n: number, k: number): PackedLinear {
  const kBlocks = k / BLOCK;
  const packed = new Uint8Array(n * kBlocks * (BLOCK / 2));
  const scales = new Float32Array(n * kBlocks);
  const mins = type === 'Q4_0' ? null : new Float32Array(n * kBlocks);
  // Zero point 0 for the asymmetric types (all-zero bytes); Q4_0 uses the implicit 8.
  const zeroPoints = type === 'Q4_0' ? null : new Uint8Array(n * Math.ceil(kBlocks / 2));
  const total = n * kBlocks;
  if (type === 'Q4_K') {
    for (let sb = 0, o = 0; sb < total / (QK_K / BLOCK); sb++, o += 144) {
      const d = f16At(src, o);
      const dmin = f16At(src, o + 2);
      for (let sub = 0; sub < 8; sub++) {
        const block = sb * 8 + sub;
        const [sc, m] = scaleMinK4(sub, src, o + 4);
        scales[block] = Math.fround(d * sc);
        mins![block] = -Math.fround(dmin * m);
        const qs = o + 16 + (sub >> 1) * 32;
        const shift = (sub & 1) * 4;
        packBlock(packed, block * 16, (l) => (src[qs + l] >> shift) & 0x0f);
      }
    }
  } else {
    const bytes = type === 'Q4_0' ? 18 : 20;
    const qs = type === 'Q4_0' ? 2 : 4;
    for (let block = 0, o = 0; block < total; block++, o += bytes) {
      scales[block] = f16At(src, o);
      if (mins !== null) mins[block] = f16At(src, o + 2);
      // ggml: element j is byte j's low nibble, element j + 16 its high nibble.
      packBlock(packed, block * 16, (l) => (l < 16 ? src[o + qs + l] & 0x0f : src[o + qs + l - 16] >> 4));
    }
  }
  return { bits: 4, n, k, blockSize: BLOCK, kBlocks, packed, scales, zeroPoints, mins };
}

/** Q8_0 (w = q·d, q int8) → MatMulNBits 8-bit: code q + 128 against the implicit zero point 128: exact. */
export function packInt8(src: Uint8Array, n: number, k: number): PackedLinear {
  const kBlocks = k / BLOCK;
  const total = n * kBlocks;
  const packed = new Uint8Array(total * BLOCK);
  const scales = new Float32Array(total);
  for (let block = 0, o = 0; block < total; block++, o += 34) {
    scales[block] = f16At(src, o);
    for (let l = 0; l < BLOCK; l++) packed[block * BLOCK + l] = src[o + 2 + l] ^ 0x80; // int8 → uint8 + 128
  }
  return { bits: 8, n, k, blockSize: BLOCK, kBlocks, packed, scales, zeroPoints: null, mins: null };
}
