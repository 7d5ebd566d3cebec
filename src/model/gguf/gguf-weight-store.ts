// WeightStore over a GGUF file: Hugging Face names in, tensors read from the
// file on demand (one at a time), q/k rows un-permuted for llama-architecture
// files. Q4_0 / Q4_1 / Q4_K / Q8_0 linear weights come out as MatMulNBits blocks
// (packedLinear); every other type, and any tensor get() is asked for, is
// dequantised to float32.

import { ModelLoadError } from '../errors.js';
import type { F32Tensor, PackedLinear, WeightDType, WeightStore } from '../types.js';
import { dequantize } from './dequantize.js';
import type { SupportedGgmlType } from './ggml-types.js';
import { unsupportedType, type GgufFile, type GgufTensor } from './gguf-file.js';
import { isInt4GgmlType, packInt4, packInt8 } from './pack-nbits.js';
import { ggufName, hfName, isPermutedQk, unpermuteQkRows } from './tensor-map.js';

const EMBEDDING = 'model.embed_tokens.weight';

export class GgufWeightStore implements WeightStore {
  /** Tied models ask for the embedding twice (Gather and lm_head); it is dequantised once. */
  private embedding: F32Tensor | null = null;

  constructor(
    private readonly file: GgufFile,
    /** llama-architecture files: q/k rows are in llama.cpp's interleaved order. */
    private readonly permutedQk: boolean,
    private readonly headDim: number,
  ) {}

  names(): string[] {
    return [...this.file.tensors.keys()].map(hfName).filter((n): n is string => n !== null);
  }

  has(name: string): boolean {
    const g = ggufName(name);
    return g !== null && this.file.tensors.has(g);
  }

  /** The GGUF tensor behind a Hugging Face name. */
  tensor(name: string): GgufTensor {
    const g = ggufName(name);
    const t = g === null ? undefined : this.file.tensors.get(g);
    if (t === undefined) throw new ModelLoadError(this.file.path, g ?? name, 'tensor not found');
    return t;
  }

  /** Hugging Face shape: ggml dims reversed. */
  shapeOf(name: string): number[] {
    return [...this.tensor(name).dims].reverse();
  }

  /** The ggml type as stored (F32 … Q6_K); throws naming the tensor when Serval cannot read it. */
  ggmlType(name: string): SupportedGgmlType {
    const t = this.tensor(name);
    if (t.type === null) throw unsupportedType(this.file.path, t);
    return t.type.name;
  }

  get(name: string): F32Tensor {
    if (name === EMBEDDING && this.embedding !== null) return this.embedding;
    const t = this.tensor(name);
    const type = this.ggmlType(name);
    const shape = this.shapeOf(name);
    const data = dequantize(type, this.rowsInHfOrder(name, t), t.elements);
    const tensor = { shape, data };
    if (name === EMBEDDING) this.embedding = tensor;
    return tensor;
  }

  dtypeOf(name: string): WeightDType {
    const type = this.ggmlType(name);
    return type === 'F16' || type === 'BF16' ? type : 'F32';
  }

  packedLinear(name: string): PackedLinear | null {
    const t = this.tensor(name);
    const type = this.ggmlType(name);
    if (t.dims.length !== 2 || (type !== 'Q8_0' && !isInt4GgmlType(type))) return null;
    const [k, n] = t.dims;
    const bytes = this.rowsInHfOrder(name, t);
    return type === 'Q8_0' ? packInt8(bytes, n, k) : packInt4(type, bytes, n, k);
  }

  /**
   * The tensor's stored bytes with q/k rows un-permuted. Quantised rows are moved as
   * whole block runs (a row never shares a block), so no value is touched.
   */
  private rowsInHfOrder(name: string, t: GgufTensor): Uint8Array {
    const bytes = this.file.read(t);
    if (!this.permutedQk || !isPermutedQk(name)) return bytes;
    const rows = t.dims.length === 2 ? t.dims[1] : t.dims[0];
    return unpermuteQkRows(bytes, rows, bytes.length / rows, this.headDim);
  }
}
