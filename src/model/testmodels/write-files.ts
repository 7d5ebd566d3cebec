// The file writers every generated model shares: JSON files and safetensors
// weights, recorded in the model's file list.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeSafetensors, writeShardedSafetensors, type TensorToWrite } from '../safetensors.js';
import type { F32Tensor, WeightDType } from '../types.js';

export const DEFAULT_SEED = 1234;

export interface WriteModelOptions {
  seed?: number;
  dtype?: WeightDType;
  /** Split weights into shards of at most this many bytes (plus an index file). */
  shardBytes?: number;
}

export const TORCH_DTYPE: Record<WeightDType, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const DTYPE_BYTES: Record<WeightDType, number> = { F32: 4, F16: 2, BF16: 2 };

export async function writeJson(dir: string, name: string, value: unknown, files: string[]): Promise<void> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(value, null, 2) + '\n');
  files.push(name);
}

/** Writes the tensors under their given names; returns the bytes of weight data. */
export async function writeWeights(dir: string, weights: Map<string, F32Tensor>, opts: WriteModelOptions, files: string[]): Promise<number> {
  const dtype = opts.dtype ?? 'F32';
  const tensors = new Map<string, TensorToWrite>();
  let bytes = 0;
  for (const [name, t] of weights) {
    tensors.set(name, { dtype, shape: t.shape, data: t.data });
    bytes += t.data.length * DTYPE_BYTES[dtype];
  }
  const metadata = { format: 'pt' }; // what transformers writes; some loaders check it
  if (opts.shardBytes !== undefined) files.push(...(await writeShardedSafetensors(dir, tensors, opts.shardBytes, metadata)));
  else {
    await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, metadata);
    files.push('model.safetensors');
  }
  return bytes;
}
