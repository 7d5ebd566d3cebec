// cos/sin tables [maxPositions, rotaryDim/2] baked into the graph and gathered
// by position_ids. Frequencies follow HF's rope init functions (default,
// `linear`, `llama3`, `longrope`); written independently of the reference decoder on purpose.
//
// LongRoPE is chosen per position: rows below original_max_position_embeddings
// use the short factors, the rest the long ones. That is what HF computes when a
// sequence grows one token at a time (it switches once the length exceeds the
// original context), and it keeps a token's rotation independent of the batch
// and of how its prompt was chunked. (HF prefilling a whole prompt longer than
// the original context at once would rotate all of it with the long factors.)

import type { RopeScaling } from '../types.js';

/** Inverse frequencies of `rotaryDim` rotated dimensions; for longrope, those of the short factors. */
export function ropeFrequencies(rotaryDim: number, theta: number, scaling: RopeScaling | null, long = false): Float64Array {
  const half = rotaryDim / 2;
  const freqs = Float64Array.from({ length: half }, (_, j) => Math.pow(theta, (-2 * j) / rotaryDim));
  if (scaling?.type === 'linear') return freqs.map((f) => f / scaling.factor);
  if (scaling?.type === 'longrope') {
    const factors = long ? scaling.longFactor : scaling.shortFactor;
    return freqs.map((f, j) => f / factors[j]);
  }
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
  /** [maxPositions, rotaryDim/2] */
  cos: Float32Array;
  sin: Float32Array;
}

export function ropeTables(maxPositions: number, rotaryDim: number, theta: number, scaling: RopeScaling | null): RopeTables {
  const short = ropeFrequencies(rotaryDim, theta, scaling);
  const long = scaling?.type === 'longrope' ? ropeFrequencies(rotaryDim, theta, scaling, true) : short;
  const switchAt = scaling?.type === 'longrope' ? scaling.originalMaxPositionEmbeddings : Infinity;
  const amplitude = scaling?.type === 'longrope' ? scaling.attentionFactor : 1;
  const half = short.length;
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  for (let p = 0; p < maxPositions; p++) {
    const freqs = p < switchAt ? short : long;
    for (let j = 0; j < half; j++) {
      const angle = p * freqs[j];
      cos[p * half + j] = amplitude * Math.cos(angle);
      sin[p * half + j] = amplitude * Math.sin(angle);
    }
  }
  return { cos, sin };
}
