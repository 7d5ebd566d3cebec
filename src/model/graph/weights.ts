// Helpers both graph builders use to turn checkpoint tensors into initializers.

import type { WeightStore } from '../types.js';

/** The tensor's data, after checking it has the shape the config implies. */
export function checkedTensor(weights: WeightStore, name: string, shape: number[]): Float32Array {
  const t = weights.get(name);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${name}: expected shape [${shape}], got [${t.shape}]`);
  }
  return t.data;
}

/** [rows, cols] → [cols, rows], blocked so both sides stay in cache. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const TILE = 32;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(r0 + TILE, rows);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(c0 + TILE, cols);
      for (let r = r0; r < r1; r++) {
        for (let col = c0; col < c1; col++) out[col * rows + r] = w[r * cols + col];
      }
    }
  }
  return out;
}
