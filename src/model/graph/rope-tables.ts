// cos/sin tables [maxPositions, headDim/2] baked into the graph and gathered
// by position_ids. Frequencies follow HF's rope init functions (default,
// `linear`, `llama3`); written independently of the reference decoder on purpose.

import type { RopeScaling } from '../types.js';

export function ropeFrequencies(headDim: number, theta: number, scaling: RopeScaling | null): Float64Array {
  const half = headDim / 2;
  const freqs = Float64Array.from({ length: half }, (_, j) => Math.pow(theta, (-2 * j) / headDim));
  if (scaling?.type === 'linear') return freqs.map((f) => f / scaling.factor);
  if (scaling?.type === 'llama3') {
    const lowWavelen = scaling.originalMaxPositionEmbeddings / scaling.lowFreqFactor;
    const highWavelen = scaling.originalMaxPositionEmbeddings / scaling.highFreqFactor;
    return freqs.map((f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) return f / scaling.factor;
      if (wavelen < highWavelen) return f;
      const smooth =
        (scaling.originalMaxPositionEmbeddings / wavelen - scaling.lowFreqFactor) /
        (scaling.highFreqFactor - scaling.lowFreqFactor);
      return (1 - smooth) * (f / scaling.factor) + smooth * f;
    });
  }
  return freqs;
}

export interface RopeTables {
  /** [maxPositions, headDim/2] */
  cos: Float32Array;
  sin: Float32Array;
}

export function ropeTables(maxPositions: number, headDim: number, theta: number, scaling: RopeScaling | null): RopeTables {
  const freqs = ropeFrequencies(headDim, theta, scaling);
  const half = freqs.length;
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  for (let p = 0; p < maxPositions; p++) {
    for (let j = 0; j < half; j++) {
      const angle = p * freqs[j];
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
