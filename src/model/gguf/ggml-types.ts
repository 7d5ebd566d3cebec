// The ggml weight types Serval reads from GGUF files: their block geometry
// (elements per block, bytes per block) as ggml-common.h defines them.

import { GGMLQuantizationType } from '@huggingface/gguf';

export type SupportedGgmlType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q4_K' | 'Q5_K' | 'Q6_K';

export interface GgmlTypeInfo {
  name: SupportedGgmlType;
  /** Elements per block (1 for plain floats). */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
}

/** Super-block size of the k-quants. */
export const QK_K = 256;

const TYPES = new Map<number, GgmlTypeInfo>([
  [GGMLQuantizationType.F32, { name: 'F32', blockSize: 1, blockBytes: 4 }],
  [GGMLQuantizationType.F16, { name: 'F16', blockSize: 1, blockBytes: 2 }],
  [GGMLQuantizationType.BF16, { name: 'BF16', blockSize: 1, blockBytes: 2 }],
  // d (f16) + 32 × int8
  [GGMLQuantizationType.Q8_0, { name: 'Q8_0', blockSize: 32, blockBytes: 34 }],
  // d (f16) + 16 bytes of nibbles
  [GGMLQuantizationType.Q4_0, { name: 'Q4_0', blockSize: 32, blockBytes: 18 }],
  // d, m (f16) + 16 bytes of nibbles
  [GGMLQuantizationType.Q4_1, { name: 'Q4_1', blockSize: 32, blockBytes: 20 }],
  // d, dmin (f16) + 12 bytes of 6-bit scales/mins + 128 bytes of nibbles
  [GGMLQuantizationType.Q4_K, { name: 'Q4_K', blockSize: QK_K, blockBytes: 144 }],
  // d, dmin (f16) + 12 bytes scales/mins + 32 bytes high bits + 128 bytes nibbles
  [GGMLQuantizationType.Q5_K, { name: 'Q5_K', blockSize: QK_K, blockBytes: 176 }],
  // 128 bytes low nibbles + 64 bytes high 2-bit pairs + 16 int8 scales + d (f16)
  [GGMLQuantizationType.Q6_K, { name: 'Q6_K', blockSize: QK_K, blockBytes: 210 }],
]);

export const SUPPORTED_GGML_TYPES: SupportedGgmlType[] = [...TYPES.values()].map((t) => t.name);

export function ggmlTypeInfo(type: number): GgmlTypeInfo | null {
  return TYPES.get(type) ?? null;
}

/** The ggml name of any type id (for messages about unsupported ones). */
export function ggmlTypeName(type: number): string {
  return GGMLQuantizationType[type] ?? `type ${type}`;
}

/** The ggml type id of a supported type name (the test writer needs it). */
export function ggmlTypeId(name: SupportedGgmlType): number {
  for (const [id, info] of TYPES) if (info.name === name) return id;
  throw new Error(`unknown ggml type ${name}`);
}

export function tensorBytes(info: GgmlTypeInfo, elements: number): number {
  return (elements / info.blockSize) * info.blockBytes;
}
