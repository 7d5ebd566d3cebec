// ggml block formats → float32, following ggml-quants.c (dequantize_row_*)
// including its float32 evaluation order, so the values equal what llama.cpp
// computes from the same blocks.

import { bf16ToF32, f16ToF32 } from '../float-convert.js';
import { QK_K, type SupportedGgmlType } from './ggml-types.js';

let f16Values: Float32Array | null = null;

/** Every f16 bit pattern's value (256 KiB, built once): scales are read one at a time. */
export function f16At(bytes: Uint8Array, offset: number): number {
  f16Values ??= f16ToF32(Uint16Array.from({ length: 65536 }, (_, i) => i));
  return f16Values[bytes[offset] | (bytes[offset + 1] << 8)];
}

const f32 = Math.fround;

/** k-quant sub-block j's 6-bit scale and min from the 12 packed bytes at `o` (ggml get_scale_min_k4). */
export function scaleMinK4(j: number, q: Uint8Array, o: number): [number, number] {
  if (j < 4) return [q[o + j] & 63, q[o + j + 4] & 63];
  return [(q[o + j + 4] & 0x0f) | ((q[o + j - 4] >> 6) << 4), (q[o + j + 4] >> 4) | ((q[o + j] >> 6) << 4)];
}

function q8_0(src: Uint8Array, out: Float32Array): void {
  const i8 = new Int8Array(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0, o = 0; b < out.length / 32; b++, o += 34) {
    const d = f16At(src, o);
    for (let j = 0; j < 32; j++) out[b * 32 + j] = f32(i8[o + 2 + j] * d);
  }
}

/** Q4_0 (min = null: (q − 8)·d) and Q4_1 (q·d + m): element j low nibble of byte j, j + 16 its high nibble. */
function q4Legacy(src: Uint8Array, out: Float32Array, withMin: boolean): void {
  const bytes = withMin ? 20 : 18;
  const qs = withMin ? 4 : 2;
  for (let b = 0, o = 0; b < out.length / 32; b++, o += bytes) {
    const d = f16At(src, o);
    const base = b * 32;
    if (withMin) {
      const m = f16At(src, o + 2);
      for (let j = 0; j < 16; j++) {
        const byte = src[o + qs + j];
        out[base + j] = f32(f32((byte & 0x0f) * d) + m);
        out[base + j + 16] = f32(f32((byte >> 4) * d) + m);
      }
    } else {
      for (let j = 0; j < 16; j++) {
        const byte = src[o + qs + j];
        out[base + j] = f32(((byte & 0x0f) - 8) * d);
        out[base + j + 16] = f32(((byte >> 4) - 8) * d);
      }
    }
  }
}

/** Q4_K and Q5_K (fifth bit from qh): 8 sub-blocks of 32 with their own scale and min. */
function qK45(src: Uint8Array, out: Float32Array, five: boolean): void {
  const blockBytes = five ? 176 : 144;
  for (let b = 0, o = 0; b < out.length / QK_K; b++, o += blockBytes) {
    const d = f16At(src, o);
    const dmin = f16At(src, o + 2);
    const qh = o + 16;
    const ql = five ? o + 48 : o + 16;
    for (let sub = 0; sub < 8; sub++) {
      const [sc, m] = scaleMinK4(sub, src, o + 4);
      const scale = f32(d * sc);
      const min = f32(dmin * m);
      const pair = sub >> 1;
      const shift = (sub & 1) * 4;
      const y = b * QK_K + sub * 32;
      for (let l = 0; l < 32; l++) {
        let q = (src[ql + pair * 32 + l] >> shift) & 0x0f;
        if (five && (src[qh + l] & (1 << sub)) !== 0) q += 16;
        out[y + l] = f32(f32(scale * q) - min);
      }
    }
  }
}

function q6K(src: Uint8Array, out: Float32Array): void {
  const i8 = new Int8Array(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0, o = 0; b < out.length / QK_K; b++, o += 210) {
    const d = f16At(src, o + 208);
    for (let half = 0; half < 2; half++) {
      const ql = o + half * 64;
      const qh = o + 128 + half * 32;
      const sc = o + 192 + half * 8;
      const y = b * QK_K + half * 128;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = src[qh + l];
        const q1 = ((src[ql + l] & 0x0f) | ((h & 3) << 4)) - 32;
        const q2 = ((src[ql + l + 32] & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        out[y + l] = f32(f32(d * i8[sc + is]) * q1);
        out[y + l + 32] = f32(f32(d * i8[sc + is + 2]) * q2);
        out[y + l + 64] = f32(f32(d * i8[sc + is + 4]) * q3);
        out[y + l + 96] = f32(f32(d * i8[sc + is + 6]) * q4);
      }
    }
  }
}

/** The bytes' own buffer when they start it (so any typed view is aligned); otherwise a copy. */
function aligned(src: Uint8Array): ArrayBuffer {
  return src.byteOffset === 0 && src.buffer instanceof ArrayBuffer ? src.buffer : src.slice().buffer;
}

/**
 * `elements` values of a tensor stored as `type` in `src` (exactly the tensor's bytes).
 * F32 comes back as a view of `src` itself (the loader's buffers are fresh per tensor).
 */
export function dequantize(type: SupportedGgmlType, src: Uint8Array, elements: number): Float32Array {
  switch (type) {
    case 'F32':
      return new Float32Array(aligned(src), 0, elements);
    case 'F16':
      return f16ToF32(new Uint16Array(aligned(src), 0, elements));
    case 'BF16':
      return bf16ToF32(new Uint16Array(aligned(src), 0, elements));
  }
  const out = new Float32Array(elements);
  switch (type) {
    case 'Q8_0':
      q8_0(src, out);
      break;
    case 'Q4_0':
      q4Legacy(src, out, false);
      break;
    case 'Q4_1':
      q4Legacy(src, out, true);
      break;
    case 'Q4_K':
      qK45(src, out, false);
      break;
    case 'Q5_K':
      qK45(src, out, true);
      break;
    case 'Q6_K':
      q6K(src, out);
      break;
  }
  return out;
}
