// llama.cpp's q/k row order for llama-architecture GGUFs, and that Serval undoes it.
//
// convert_hf_to_gguf.py permutes attn_q / attn_k rows with
//   w.reshape(n_head, 2, D/2, in).swapaxes(1, 2).reshape(w.shape)
// because llama.cpp's llama RoPE (GGML_ROPE_TYPE_NORM) rotates adjacent pairs
// (2i, 2i+1) where Hugging Face rotates (i, i + D/2). The proof here: with the
// permutation transcribed from numpy (generic strided reshape/swapaxes),
// llama.cpp's RoPE on the permuted projection equals HF's RoPE on the original,
// row for row under the same permutation — and unpermuteQkRows returns the
// original weights exactly, for floats and for rows of quantised blocks.

import t from 'tap';
import { unpermuteQkRows } from '../../../src/model/gguf/tensor-map.js';
import { SplitMix32 } from '../../../src/model/testmodels/prng.js';

/** numpy: a C-ordered array of `shape` → swapaxes(a, b) → flattened in C order again. */
function swapAxesFlat(data: Float32Array, shape: number[], a: number, b: number): Float32Array {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((x, y) => x * y, 1));
  const outShape = [...shape];
  [outShape[a], outShape[b]] = [outShape[b], outShape[a]];
  const outStrides = [...strides];
  [outStrides[a], outStrides[b]] = [outStrides[b], outStrides[a]];
  const out = new Float32Array(data.length);
  const index = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < data.length; flat++) {
    let src = 0;
    for (let d = 0; d < shape.length; d++) src += index[d] * outStrides[d];
    out[flat] = data[src];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < outShape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

function llamaCppPermute(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  return swapAxesFlat(w, [heads, 2, headDim / 2, cols], 1, 2);
}

function matVec(w: Float32Array, rows: number, cols: number, x: Float64Array): Float64Array {
  return Float64Array.from({ length: rows }, (_, r) => {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[c];
    return s;
  });
}

/** Rotates per head: pairs (pair(i)[0], pair(i)[1]) by pos·θ^(−2i/D). */
function rope(q: Float64Array, headDim: number, pos: number, pair: (i: number) => [number, number]): Float64Array {
  const out = new Float64Array(q.length);
  for (let h = 0; h < q.length / headDim; h++) {
    for (let i = 0; i < headDim / 2; i++) {
      const angle = pos * Math.pow(10000, (-2 * i) / headDim);
      const [a, b] = pair(i).map((j) => h * headDim + j);
      out[a] = q[a] * Math.cos(angle) - q[b] * Math.sin(angle);
      out[b] = q[b] * Math.cos(angle) + q[a] * Math.sin(angle);
    }
  }
  return out;
}

const heads = 3;
const headDim = 8;
const cols = 5;
const rows = heads * headDim;
const rng = new SplitMix32(5);
const w = Float32Array.from({ length: rows * cols }, () => rng.nextFloat() * 2 - 1);
const permuted = llamaCppPermute(w, heads, headDim, cols);

t.test("llama.cpp's RoPE on permuted rows is HF's RoPE on the original rows", async (t) => {
  const x = Float64Array.from({ length: cols }, () => rng.nextFloat() * 2 - 1);
  const pos = 7;
  const hf = rope(matVec(w, rows, cols, x), headDim, pos, (i) => [i, i + headDim / 2]); // rotate-half (NEOX)
  const gg = rope(matVec(permuted, rows, cols, x), headDim, pos, (i) => [2 * i, 2 * i + 1]); // adjacent pairs (NORM)
  let worst = 0;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < headDim / 2; i++) {
      for (let j = 0; j < 2; j++) worst = Math.max(worst, Math.abs(gg[h * headDim + 2 * i + j] - hf[h * headDim + j * (headDim / 2) + i]));
    }
  }
  t.ok(worst < 1e-12, `GGUF row 2i+j ↔ HF row j·D/2+i after RoPE: max |Δ| = ${worst.toExponential(1)}`);
  t.notSame(Array.from(permuted), Array.from(w), 'the permutation moves rows');
});

t.test('unpermuteQkRows restores the Hugging Face rows', async (t) => {
  const bytes = new Uint8Array(permuted.buffer.slice(0));
  const back = new Float32Array(unpermuteQkRows(bytes, rows, cols * 4, headDim).buffer);
  t.same(Array.from(back), Array.from(w), 'float rows');
  // A bias is a column of one value per row.
  const bias = Float32Array.from({ length: rows }, (_, i) => i);
  const biasBack = new Float32Array(unpermuteQkRows(new Uint8Array(llamaCppPermute(bias, heads, headDim, 1).buffer), rows, 4, headDim).buffer);
  t.same(Array.from(biasBack), Array.from(bias), 'bias');
  // Rows of quantised blocks move as opaque byte runs (here 18-byte Q4_0 blocks, 2 per row).
  const rowBytes = 36;
  const blocks = Uint8Array.from({ length: rows * rowBytes }, () => Math.floor(rng.nextFloat() * 256));
  const asRows = Float32Array.from({ length: rows }, (_, r) => r);
  const order = llamaCppPermute(asRows, heads, headDim, 1);
  const shuffled = new Uint8Array(blocks.length);
  order.forEach((src, r) => shuffled.set(blocks.subarray(src * rowBytes, (src + 1) * rowBytes), r * rowBytes));
  t.same(Array.from(unpermuteQkRows(shuffled, rows, rowBytes, headDim)), Array.from(blocks), 'block rows');
});
