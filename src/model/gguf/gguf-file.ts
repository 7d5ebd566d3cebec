// A GGUF file: header, metadata and tensor table parsed by @huggingface/gguf;
// tensor data read here, one tensor at a time with positioned reads, so the
// file is never held in memory as a whole.

import { closeSync, openSync, readSync } from 'node:fs';
import { gguf, type GGUFTypedMetadata } from '@huggingface/gguf';
import { ModelLoadError } from '../errors.js';
import { ggmlTypeInfo, ggmlTypeName, SUPPORTED_GGML_TYPES, tensorBytes, type GgmlTypeInfo } from './ggml-types.js';

export interface GgufTensor {
  name: string;
  /** ggml order: dims[0] is the contiguous one (a Linear weight is [in, out]). */
  dims: number[];
  /** ggml type id as stored. */
  typeId: number;
  /** Null when Serval cannot read the type (reported when the tensor is needed). */
  type: GgmlTypeInfo | null;
  /** Absolute byte offset in the file. */
  offset: number;
  elements: number;
}

/** Metadata values keyed like the file (bigints narrowed to numbers where safe). */
export type GgufMetadata = Record<string, unknown>;

export class GgufFile {
  private constructor(
    readonly path: string,
    readonly metadata: GgufMetadata,
    readonly typedMetadata: GGUFTypedMetadata,
    readonly tensors: Map<string, GgufTensor>,
  ) {}

  static async open(file: string): Promise<GgufFile> {
    let parsed;
    try {
      parsed = await gguf(file, { allowLocalFile: true, typedMetadata: true });
    } catch (err) {
      throw new ModelLoadError(file, null, `cannot read GGUF: ${(err as Error).message}`);
    }
    const metadata: GgufMetadata = {};
    for (const [key, value] of Object.entries(parsed.metadata)) metadata[key] = narrow(value);
    const alignment = typeof metadata['general.alignment'] === 'number' ? (metadata['general.alignment'] as number) : 32;
    const dataStart = Number(parsed.tensorDataOffset);
    if (dataStart % alignment !== 0) throw new ModelLoadError(file, null, `tensor data starts at ${dataStart}, not aligned to ${alignment}`);
    const tensors = new Map<string, GgufTensor>();
    for (const info of parsed.tensorInfos) {
      const dims = info.shape.map(Number);
      tensors.set(info.name, {
        name: info.name,
        dims,
        typeId: info.dtype,
        type: ggmlTypeInfo(info.dtype),
        offset: dataStart + Number(info.offset),
        elements: dims.reduce((a, b) => a * b, 1),
      });
    }
    return new GgufFile(file, metadata, parsed.typedMetadata, tensors);
  }

  /** The tensor's bytes, exactly (a fresh buffer). The file is open only while it is read. */
  read(tensor: GgufTensor): Uint8Array {
    const type = tensor.type;
    if (type === null) throw unsupportedType(this.path, tensor);
    if (tensor.dims[0] % type.blockSize !== 0) {
      throw new ModelLoadError(this.path, tensor.name, `row length ${tensor.dims[0]} is not a multiple of the ${type.name} block (${type.blockSize})`);
    }
    const length = tensorBytes(type, tensor.elements);
    const out = new Uint8Array(length);
    const fd = openSync(this.path, 'r');
    try {
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), tensor.offset + done);
        if (n === 0) throw new ModelLoadError(this.path, tensor.name, `file ends inside the tensor's data (truncated download?)`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    return out;
  }
}

export function unsupportedType(file: string, tensor: GgufTensor): ModelLoadError {
  return new ModelLoadError(file, tensor.name, `unsupported weight type ${ggmlTypeName(tensor.typeId)} (supported: ${SUPPORTED_GGML_TYPES.join(', ')})`);
}

function narrow(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (Array.isArray(value) && value.length > 0 && typeof value[0] === 'bigint') return value.map(narrow);
  return value;
}
