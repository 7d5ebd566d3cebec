// Block-wise 4-bit weight quantisation in the layout of ONNX Runtime's
// com.microsoft.MatMulNBits (bits = 4): for a Linear weight W [N, K] (HF's
// [out, in]), each row is cut into blocks of `blockSize` along K;
//   B           uint8 [N, kBlocks, blockSize/2]  two codes per byte, low nibble first
//   scales      float [N, kBlocks]
//   zero_points uint8 [N, ceil(kBlocks/2)]       two per byte, low nibble first (asymmetric only;
//                                                absent means zero point 8)
// and W ≈ (code − zero_point) · scale. A K that is not a multiple of the block
// size is zero-padded in its last block.

export interface Int4Weight {
  /** Output features (rows of W). */
  n: number;
  /** Input features (columns of W). */
  k: number;
  blockSize: number;
  kBlocks: number;
  /** [n, kBlocks, blockSize / 2] */
  packed: Uint8Array;
  /** [n, kBlocks] */
  scales: Float32Array;
  /** [n, ceil(kBlocks / 2)], or null for symmetric quantisation (implicit zero point 8). */
  zeroPoints: Uint8Array | null;
}

export interface Int4Options {
  blockSize?: number;
  /** Symmetric: zero point fixed at 8 (codes −8..7). Asymmetric: a per-block zero point. */
  symmetric?: boolean;
}

const SYMMETRIC_ZERO_POINT = 8;

export function quantizeInt4(weight: Float32Array, n: number, k: number, options: Int4Options = {}): Int4Weight {
  const blockSize = options.blockSize ?? 32;
  const symmetric = options.symmetric ?? false;
  if (weight.length !== n * k) throw new Error(`quantizeInt4: ${weight.length} values for [${n}, ${k}]`);
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new Error('blockSize must be a power of two ≥ 16');
  const kBlocks = Math.ceil(k / blockSize);
  const blobSize = blockSize / 2;
  const zpBytes = Math.ceil(kBlocks / 2);
  const packed = new Uint8Array(n * kBlocks * blobSize);
  const scales = new Float32Array(n * kBlocks);
  const zeroPoints = symmetric ? null : new Uint8Array(n * zpBytes);

  for (let row = 0; row < n; row++) {
    const rowBase = row * k;
    for (let block = 0; block < kBlocks; block++) {
      const start = block * blockSize;
      const end = Math.min(start + blockSize, k);
      let scale: number;
      let zeroPoint: number;
      if (symmetric) {
        // Like ORT's quantiser: the largest-magnitude value (with its sign) maps to code 0 (= −8).
        let extreme = 0;
        for (let i = start; i < end; i++) {
          const v = weight[rowBase + i];
          if (Math.abs(v) > Math.abs(extreme)) extreme = v;
        }
        scale = Math.fround(extreme / -8);
        zeroPoint = SYMMETRIC_ZERO_POINT;
      } else {
        // The range always contains 0 so that zero (and the padding) is exact.
        let min = 0;
        let max = 0;
        for (let i = start; i < end; i++) {
          const v = weight[rowBase + i];
          if (v < min) min = v;
          if (v > max) max = v;
        }
        scale = Math.fround((max - min) / 15);
        zeroPoint = scale === 0 ? SYMMETRIC_ZERO_POINT : clampCode(Math.round(-min / scale));
        const zpIndex = row * zpBytes + (block >> 1);
        zeroPoints![zpIndex] |= (block & 1) === 0 ? zeroPoint : zeroPoint << 4;
      }
      scales[row * kBlocks + block] = scale;
      const inverse = scale === 0 ? 0 : 1 / scale;
      const blobBase = (row * kBlocks + block) * blobSize;
      for (let j = 0; j < blockSize; j++) {
        const i = start + j;
        const value = i < end ? weight[rowBase + i] : 0;
        const code = clampCode(Math.round(value * inverse) + zeroPoint);
        packed[blobBase + (j >> 1)] |= (j & 1) === 0 ? code : code << 4;
      }
    }
  }
  return { n, k, blockSize, kBlocks, packed, scales, zeroPoints };
}

/** W' [n, k] = (code − zero_point) · scale: what MatMulNBits multiplies by. */
export function dequantizeInt4(q: Int4Weight): Float32Array {
  const { n, k, blockSize, kBlocks } = q;
  const blobSize = blockSize / 2;
  const zpBytes = Math.ceil(kBlocks / 2);
  const out = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let i = 0; i < k; i++) {
      const block = Math.floor(i / blockSize);
      const j = i % blockSize;
      const byte = q.packed[(row * kBlocks + block) * blobSize + (j >> 1)];
      const code = (j & 1) === 0 ? byte & 0x0f : byte >> 4;
      let zeroPoint = SYMMETRIC_ZERO_POINT;
      if (q.zeroPoints) {
        const zpByte = q.zeroPoints[row * zpBytes + (block >> 1)];
        zeroPoint = (block & 1) === 0 ? zpByte & 0x0f : zpByte >> 4;
      }
      out[row * k + i] = (code - zeroPoint) * q.scales[row * kBlocks + block];
    }
  }
  return out;
}

function clampCode(code: number): number {
  return code < 0 ? 0 : code > 15 ? 15 : code;
}
