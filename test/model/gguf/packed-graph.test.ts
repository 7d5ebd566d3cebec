// The graph's MatMulNBits path for 4-bit GGUF types with per-block mins (Q4_1,
// Q4_K: w = q·scale + min, MatMulNBits adds Σ_block(x)·min separately), Q4_0
// and Q8_0 (8-bit): every linear layer and lm_head stored as random valid blocks, logits
// against the reference forward of the same blocks dequantised. Bound 1e-3 at
// accuracy_level 0 (fp32 compute), as test/graph/int4-agreement.test.ts.

import t from 'tap';
import { f32ToF16Bits } from '../../../src/model/float-convert.js';
import { buildDecoderGraph } from '../../../src/model/graph/decoder-graph.js';
import { createDecoderSession } from '../../../src/model/graph/session.js';
import { dequantize } from '../../../src/model/gguf/dequantize.js';
import { ggmlTypeInfo, ggmlTypeId } from '../../../src/model/gguf/ggml-types.js';
import { packInt4, packInt8, type Int4GgmlType } from '../../../src/model/gguf/pack-nbits.js';
import { ReferenceDecoder } from '../../../src/model/reference/llama-reference.js';
import { DECODER_PRESETS } from '../../../src/model/testmodels/presets.js';
import { SplitMix32 } from '../../../src/model/testmodels/prng.js';
import { randomDecoderWeights } from '../../../src/model/testmodels/random-weights.js';
import type { DecoderConfig, F32Tensor, PackedLinear, WeightDType, WeightStore } from '../../../src/model/types.js';
import { SequenceCache, maxAbsDiff, promptTokens, runBatch } from '../../graph/harness.js';

type PackedType = Int4GgmlType | 'Q8_0';

/** Linear weights as raw ggml blocks; everything else float32. */
class BlockStore implements WeightStore {
  constructor(
    private readonly floats: Map<string, F32Tensor>,
    private readonly blocks: Map<string, { bytes: Uint8Array; shape: number[] }>,
    private readonly type: PackedType,
  ) {}
  names(): string[] {
    return [...this.floats.keys(), ...this.blocks.keys()];
  }
  has(name: string): boolean {
    return this.floats.has(name) || this.blocks.has(name);
  }
  get(name: string): F32Tensor {
    const b = this.blocks.get(name);
    if (b === undefined) return this.floats.get(name)!;
    return { shape: b.shape, data: dequantize(this.type, b.bytes, b.shape[0] * b.shape[1]) };
  }
  dtypeOf(): WeightDType {
    return 'F32';
  }
  packedLinear(name: string): PackedLinear | null {
    const b = this.blocks.get(name);
    if (b === undefined) return null;
    return this.type === 'Q8_0' ? packInt8(b.bytes, b.shape[0], b.shape[1]) : packInt4(this.type, b.bytes, b.shape[0], b.shape[1]);
  }
}

/** Random blocks with scales giving weights of roughly ±0.1. */
function randomBlocks(type: PackedType, elements: number, rng: SplitMix32): Uint8Array {
  const info = ggmlTypeInfo(ggmlTypeId(type))!;
  const out = new Uint8Array((elements / info.blockSize) * info.blockBytes);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rng.nextFloat() * 256);
  const setF16 = (at: number, v: number): void => {
    const bits = f32ToF16Bits(v);
    out[at] = bits & 0xff;
    out[at + 1] = bits >> 8;
  };
  for (let o = 0; o < out.length; o += info.blockBytes) {
    if (type === 'Q4_0') setF16(o, 0.012 * (rng.nextFloat() + 0.5));
    if (type === 'Q8_0') setF16(o, 8e-4 * (rng.nextFloat() + 0.5));
    if (type === 'Q4_1') {
      setF16(o, 0.012 * (rng.nextFloat() + 0.5));
      setF16(o + 2, -0.09 * (rng.nextFloat() + 0.5));
    }
    if (type === 'Q4_K') {
      setF16(o, 2e-4 * (rng.nextFloat() + 0.5));
      setF16(o + 2, 1.5e-3 * (rng.nextFloat() + 0.5));
    }
  }
  return out;
}

const config: DecoderConfig = { ...DECODER_PRESETS.tiny, hiddenSize: 256, intermediateSize: 512, tieWordEmbeddings: false, headDim: 64 };

for (const type of ['Q4_0', 'Q4_1', 'Q4_K', 'Q8_0'] as PackedType[]) {
  t.test(`${type} linear layers through MatMulNBits equal the reference of the dequantised blocks`, async (t) => {
    const rng = new SplitMix32(11);
    const floats = randomDecoderWeights(config, 3);
    const blocks = new Map<string, { bytes: Uint8Array; shape: number[] }>();
    for (const [name, tensor] of floats) {
      if (!/_proj\.weight$/.test(name) && name !== 'lm_head.weight') continue;
      blocks.set(name, { bytes: randomBlocks(type, tensor.data.length, rng), shape: tensor.shape });
      floats.delete(name);
    }
    const store = new BlockStore(floats, blocks, type);
    const session = await createDecoderSession(buildDecoderGraph(config, store, { int4AccuracyLevel: 0 }), { intraOpThreads: 1 });
    const tokens = promptTokens(4, 12, config.vocabSize);
    const [got] = await runBatch(session, config, [{ cache: new SequenceCache(config, tokens.length), tokens, logitsAt: tokens.map((_, i) => i) }]);
    const ref = new ReferenceDecoder(config, store);
    const want = ref.forward(ref.newState(), tokens);
    const spread = Math.max(...want[0]) - Math.min(...want[0]);
    const worst = Math.max(...got.map((row, i) => maxAbsDiff(row, want[i])));
    t.ok(spread > 1, `logits are not degenerate (spread ${spread.toFixed(2)})`);
    t.ok(worst <= 1e-3, `max |Δ logits| = ${worst.toExponential(2)}`);
  });
}
