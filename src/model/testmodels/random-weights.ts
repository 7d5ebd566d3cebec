// Random but deliberately non-degenerate weights: norms are not all ones (so a
// missing norm multiply shows up), embeddings are large enough that logits
// have a spread of a few units, and every tensor comes from its own seeded
// stream (so generation order never matters).
//
// Linear weights use std 1/sqrt(fan_in) (0.125 for tiny's 64-wide layers,
// 0.044 for bench's 512) rather than a flat 0.02: with smaller weights the
// attention scores are ~0.1, softmax is almost uniform, and RoPE or causal
// mask bugs barely move the output; the layers also add so little to the
// residual stream that a tied-embedding model just echoes its last token.

import { decoderTensorSpecs, classifierTensorSpecs, encoderTensorSpecs, type TensorSpec } from '../tensor-names.js';
import type { DecoderConfig, EncoderConfig, F32Tensor } from '../types.js';
import { SplitMix32, streamSeed } from './prng.js';

/** Linear std = LINEAR_GAIN / sqrt(fan_in): unit-variance outputs for unit-RMS inputs. */
const LINEAR_GAIN = 1;
const BIAS_STD = 0.1;
const NORM_NOISE_STD = 0.1;
const NORM_BIAS_STD = 0.05;
const INPUT_EMBEDDING_STD = 0.7;
/** Target std of a logit when the final hidden state has unit RMS. */
const TARGET_LOGIT_STD = 4;

function fillTensor(spec: TensorSpec, seed: number, embeddingStd: number): F32Tensor {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  const rng = new SplitMix32(streamSeed(seed, spec.name));
  switch (spec.role) {
    case 'embedding':
      rng.fillNormal(data, embeddingStd);
      break;
    case 'linear':
      rng.fillNormal(data, LINEAR_GAIN / Math.sqrt(spec.shape[1]));
      break;
    case 'bias':
      rng.fillNormal(data, BIAS_STD);
      break;
    case 'norm':
      rng.fillNormal(data, NORM_NOISE_STD, 1);
      break;
    case 'normOffset':
      rng.fillNormal(data, NORM_NOISE_STD);
      break;
    case 'normBias':
      rng.fillNormal(data, NORM_BIAS_STD);
      break;
  }
  return { shape: [...spec.shape], data };
}

export function randomDecoderWeights(config: DecoderConfig, seed: number): Map<string, F32Tensor> {
  const out = new Map<string, F32Tensor>();
  // The output embedding (lm_head, or the shared table when tied) is scaled so
  // logits ≈ N(0, TARGET_LOGIT_STD²) for a unit-RMS final hidden state.
  const outputStd = TARGET_LOGIT_STD / Math.sqrt(config.hiddenSize);
  const inputStd = config.tieWordEmbeddings ? outputStd : INPUT_EMBEDDING_STD;
  for (const spec of decoderTensorSpecs(config)) {
    const std = spec.name === 'lm_head.weight' ? outputStd : inputStd;
    out.set(spec.name, fillTensor(spec, seed, std));
  }
  return out;
}

export function randomEncoderWeights(config: EncoderConfig, seed: number): Map<string, F32Tensor> {
  const out = new Map<string, F32Tensor>();
  for (const spec of [...encoderTensorSpecs(config), ...classifierTensorSpecs(config)]) {
    out.set(spec.name, fillTensor(spec, seed, 0.5));
  }
  return out;
}
