// sentence-transformers pooling and normalisation over a right-padded batch,
// for ONNX exports that return token-level hidden states. Serval's own graph
// does the same inside ORT (src/model/graph/encoder-graph.ts).

import type { PoolingMode } from '../../model/types.js';

/**
 * hidden: [B, S, H] row-major; lengths[b] = real tokens of row b (a prefix of
 * the row). Returns [B, H].
 */
export function poolBatch(hidden: Float32Array, lengths: ArrayLike<number>, seq: number, dims: number, mode: PoolingMode): Float32Array {
  const batch = lengths.length;
  const out = new Float32Array(batch * dims);
  const acc = new Float64Array(dims);
  for (let b = 0; b < batch; b++) {
    const n = lengths[b];
    const row = (s: number): number => (b * seq + s) * dims;
    switch (mode) {
      case 'cls':
        out.set(hidden.subarray(row(0), row(0) + dims), b * dims);
        continue;
      case 'lasttoken': {
        const last = row(Math.max(0, n - 1));
        out.set(hidden.subarray(last, last + dims), b * dims);
        continue;
      }
      case 'mean': {
        acc.fill(0);
        for (let s = 0; s < n; s++) {
          const r = row(s);
          for (let i = 0; i < dims; i++) acc[i] += hidden[r + i];
        }
        const count = Math.max(n, 1e-9);
        for (let i = 0; i < dims; i++) out[b * dims + i] = acc[i] / count;
        continue;
      }
      case 'max': {
        acc.fill(-1e9);
        for (let s = 0; s < n; s++) {
          const r = row(s);
          for (let i = 0; i < dims; i++) if (hidden[r + i] > acc[i]) acc[i] = hidden[r + i];
        }
        for (let i = 0; i < dims; i++) out[b * dims + i] = acc[i];
        continue;
      }
    }
  }
  return out;
}

/** In place, each of the B rows of `rows` ([B, dims]) becomes x / max(‖x‖₂, 1e-12). */
export function normalizeRows(rows: Float32Array, dims: number): void {
  for (let at = 0; at < rows.length; at += dims) {
    let sumSq = 0;
    for (let i = at; i < at + dims; i++) sumSq += rows[i] * rows[i];
    const inv = 1 / Math.max(Math.sqrt(sumSq), 1e-12);
    for (let i = at; i < at + dims; i++) rows[i] *= inv;
  }
}
