// Block-wise int4 quantisation: round-trip error bounds, and ORT's
// com.microsoft.MatMulNBits on our packed layout against a plain fp32 product
// with the dequantised weight computed here in float64.

import ort from 'onnxruntime-node';
import t from 'tap';
import { dequantizeInt4, quantizeInt4, type Int4Weight } from '../../src/model/graph/int4.js';
import { DataType, GraphBuilder, MS_DOMAIN, int } from '../../src/model/graph/onnx-builder.js';
import { SplitMix32 } from '../../src/model/testmodels/prng.js';

function randomMatrix(n: number, k: number, seed: number): Float32Array {
  const data = new Float32Array(n * k);
  new SplitMix32(seed).fillNormal(data, 0.05);
  // A few outliers and an all-zero row so both the range and the scale-0 paths run.
  data[3] = 0.9;
  data[k + 5] = -1.1;
  data.fill(0, 2 * k, 3 * k);
  return data;
}

/** Per element: |W − dequant(quant(W))| ≤ bound · scale of its block. */
function worstScaledError(w: Float32Array, q: Int4Weight): number {
  const deq = dequantizeInt4(q);
  let worst = 0;
  for (let row = 0; row < q.n; row++) {
    for (let i = 0; i < q.k; i++) {
      const scale = Math.abs(q.scales[row * q.kBlocks + Math.floor(i / q.blockSize)]);
      const err = Math.abs(w[row * q.k + i] - deq[row * q.k + i]);
      worst = Math.max(worst, scale === 0 ? (err === 0 ? 0 : Infinity) : err / scale);
    }
  }
  return worst;
}

for (const [n, k] of [
  [48, 64],
  [40, 80], // K not a multiple of the block size: last block is padded
] as const) {
  t.test(`round trip [${n}, ${k}]`, async (t) => {
    const w = randomMatrix(n, k, n * 1000 + k);
    const asym = quantizeInt4(w, n, k);
    t.equal(asym.kBlocks, Math.ceil(k / 32));
    t.equal(asym.packed.length, n * asym.kBlocks * 16);
    t.ok(asym.zeroPoints !== null && asym.zeroPoints.length === n * Math.ceil(asym.kBlocks / 2));
    // Asymmetric rounds to the nearest of 16 evenly spaced levels spanning the block's range.
    const asymWorst = worstScaledError(w, asym);
    t.ok(asymWorst <= 0.5 + 1e-4, `asymmetric: worst error = ${asymWorst.toFixed(4)} × scale`);
    // Symmetric: nearest level too, except +|extreme| when the extreme is negative (clamped at code 15).
    const sym = quantizeInt4(w, n, k, { symmetric: true });
    t.equal(sym.zeroPoints, null);
    const symWorst = worstScaledError(w, sym);
    t.ok(symWorst <= 1 + 1e-4, `symmetric: worst error = ${symWorst.toFixed(4)} × scale`);
    // An all-zero row stays exactly zero.
    const deq = dequantizeInt4(asym);
    t.ok(deq.subarray(2 * k, 3 * k).every((v) => v === 0));
    // Whole-matrix relative error is what decides model quality: a few percent at 4 bits.
    let num = 0;
    let den = 0;
    for (let i = 0; i < w.length; i++) {
      num += (w[i] - deq[i]) ** 2;
      den += w[i] ** 2;
    }
    t.ok(Math.sqrt(num / den) < 0.12, `relative Frobenius error ${Math.sqrt(num / den).toFixed(4)}`);
  });
}

function matMulNBitsModel(q: Int4Weight, accuracyLevel: number): Uint8Array {
  const g = new GraphBuilder();
  g.input('a', DataType.FLOAT, ['m', q.k]);
  const inputs = [
    'a',
    g.uint8Tensor('b', q.packed, [q.n, q.kBlocks, q.blockSize / 2]),
    g.floatTensor('scales', q.scales, [q.n, q.kBlocks]),
  ];
  if (q.zeroPoints) inputs.push(g.uint8Tensor('zp', q.zeroPoints, [q.n, Math.ceil(q.kBlocks / 2)]));
  g.op('MatMulNBits', inputs, { K: int(q.k), N: int(q.n), bits: int(4), block_size: int(q.blockSize), accuracy_level: int(accuracyLevel) }, 'y', MS_DOMAIN);
  g.output('y', DataType.FLOAT, ['m', q.n]);
  return g.toModelBytes('matmulnbits');
}

for (const symmetric of [false, true]) {
  for (const [n, k] of [
    [48, 64],
    [40, 80],
  ] as const) {
    t.test(`MatMulNBits (${symmetric ? 'symmetric' : 'asymmetric'}) [${n}, ${k}] equals A · dequant(W)ᵀ`, async (t) => {
      const w = randomMatrix(n, k, 7 + n + k);
      const q = quantizeInt4(w, n, k, { symmetric });
      const deq = dequantizeInt4(q);
      const m = 5;
      const a = new Float32Array(m * k);
      new SplitMix32(99).fillNormal(a, 1);
      const expected = new Float64Array(m * n);
      let maxMagnitude = 0;
      for (let r = 0; r < m; r++) {
        for (let o = 0; o < n; o++) {
          let acc = 0;
          for (let i = 0; i < k; i++) acc += a[r * k + i] * deq[o * k + i];
          expected[r * n + o] = acc;
          maxMagnitude = Math.max(maxMagnitude, Math.abs(acc));
        }
      }
      // accuracy_level 0 computes in fp32: exact layout check. Level 4 quantises A to int8 per block.
      for (const [level, tolerance] of [
        [0, 1e-4],
        [4, 0.02 * maxMagnitude],
      ] as const) {
        const session = await ort.InferenceSession.create(matMulNBitsModel(q, level));
        const out = await session.run({ a: new ort.Tensor('float32', a, [m, k]) });
        const y = out.y.data as Float32Array;
        let worst = 0;
        for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - expected[i]));
        t.ok(worst <= tolerance, `accuracy_level ${level}: max |Δ| = ${worst.toExponential(2)} (≤ ${tolerance.toExponential(2)})`);
      }
    });
  }
}
