// Reading and writing the safetensors format: an 8-byte little-endian header
// length, a JSON header mapping tensor names to {dtype, shape, data_offsets},
// then the raw little-endian tensor bytes. Only the header is read up front;
// each tensor is read from disk and widened to float32 the first time it is
// asked for, so peak memory is the converted weights, not file + weights.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from './errors.js';
import { bf16ToF32, encodeBf16, encodeF16, f16ToF32 } from './float-convert.js';
import type { F32Tensor, WeightDType, WeightStore } from './types.js';

const SUPPORTED_DTYPES: Record<WeightDType, number> = { F32: 4, F16: 2, BF16: 2 };
/** Headers are a few hundred KB even for 100B-parameter shards; anything huge is corruption. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function isSupportedDType(dtype: string): dtype is WeightDType {
  return Object.prototype.hasOwnProperty.call(SUPPORTED_DTYPES, dtype);
}

export interface SafetensorsEntry {
  /** As written in the header; may be unsupported (e.g. I64 buffers we never read). */
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

/** One .safetensors file: header parsed eagerly, tensor data read on demand. */
export class SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string>;
  private readonly entries: Map<string, SafetensorsEntry>;

  private constructor(filePath: string, entries: Map<string, SafetensorsEntry>, metadata: Record<string, string>) {
    this.path = filePath;
    this.entries = entries;
    this.metadata = metadata;
  }

  static open(filePath: string): SafetensorsFile {
    if (!existsSync(filePath)) throw new ModelLoadError(filePath, null, 'file not found');
    const fd = openSync(filePath, 'r');
    try {
      const fileSize = fstatSync(fd).size;
      if (fileSize < 8) {
        throw new ModelLoadError(filePath, null, `truncated safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`);
      }
      const lenBuf = Buffer.alloc(8);
      readSync(fd, lenBuf, 0, 8, 0);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(fileSize - 8)) {
        throw new ModelLoadError(filePath, null, `header length ${headerLen} exceeds the file size (${fileSize} bytes); file is truncated or not safetensors`);
      }
      if (headerLen > BigInt(MAX_HEADER_BYTES)) {
        throw new ModelLoadError(filePath, null, `header length ${headerLen} is implausibly large`);
      }
      const n = Number(headerLen);
      const headerBuf = Buffer.alloc(n);
      readSync(fd, headerBuf, 0, n, 8);
      const dataStart = 8 + n;
      const { entries, metadata } = parseHeader(filePath, headerBuf.toString('utf8'), dataStart, fileSize);
      return new SafetensorsFile(filePath, entries, metadata);
    } finally {
      closeSync(fd);
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const e = this.entries.get(name);
    if (e === undefined) throw new ModelLoadError(this.path, name, 'tensor not found in this file');
    return e;
  }

  /** Reads and widens one tensor. Callers cache; this always hits the disk. */
  read(name: string): F32Tensor {
    const e = this.entry(name);
    if (!isSupportedDType(e.dtype)) throw unsupportedDType(this.path, name, e.dtype);
    const length = e.end - e.begin;
    // A fresh ArrayBuffer is 8-byte aligned, so typed views over it are legal.
    const bytes = new Uint8Array(length);
    const fd = openSync(this.path, 'r');
    try {
      let done = 0;
      while (done < length) {
        const got = readSync(fd, bytes, done, length - done, e.begin + done);
        if (got === 0) throw new ModelLoadError(this.path, name, 'file shrank while reading (truncated)');
        done += got;
      }
    } finally {
      closeSync(fd);
    }
    // Typed arrays use host byte order; safetensors is little-endian, as are all Node targets we ship.
    let data: Float32Array;
    if (e.dtype === 'F32') data = new Float32Array(bytes.buffer);
    else if (e.dtype === 'BF16') data = bf16ToF32(new Uint16Array(bytes.buffer));
    else data = f16ToF32(new Uint16Array(bytes.buffer));
    return { shape: [...e.shape], data };
  }
}

function unsupportedDType(file: string, name: string, dtype: string): ModelLoadError {
  return new ModelLoadError(file, name, `unsupported dtype ${dtype}; only F32, F16 and BF16 weights are supported`);
}

function parseHeader(
  file: string,
  text: string,
  dataStart: number,
  fileSize: number,
): { entries: Map<string, SafetensorsEntry>; metadata: Record<string, string> } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(file, null, `malformed JSON header: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelLoadError(file, null, 'malformed header: expected a JSON object');
  }
  const dataSize = fileSize - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new ModelLoadError(file, '__metadata__', 'expected an object of strings');
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    if (typeof raw !== 'object' || raw === null) throw new ModelLoadError(file, name, 'header entry is not an object');
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string') throw new ModelLoadError(file, name, 'header entry has no dtype');
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new ModelLoadError(file, name, `shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new ModelLoadError(file, name, `data_offsets ${JSON.stringify(offsets)} are not a [begin, end] pair of byte offsets`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataSize) {
      throw new ModelLoadError(
        file,
        name,
        `data_offsets [${begin}, ${end}] run past the end of the data section (${dataSize} bytes); file is truncated`,
      );
    }
    const elementSize = isSupportedDType(dtype) ? SUPPORTED_DTYPES[dtype] : knownElementSize(dtype);
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    if (elementSize !== null && end - begin !== elements * elementSize) {
      throw new ModelLoadError(
        file,
        name,
        `data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${elements * elementSize}`,
      );
    }
    entries.set(name, { dtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end });
  }
  return { entries, metadata };
}

/** Sizes of dtypes we cannot load but can still bounds-check (they may be unused buffers). */
function knownElementSize(dtype: string): number | null {
  const sizes: Record<string, number> = { F64: 8, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1 };
  return sizes[dtype] ?? null;
}

export const SINGLE_FILE_NAME = 'model.safetensors';
export const INDEX_FILE_NAME = 'model.safetensors.index.json';

/**
 * WeightStore over one or more safetensors files, converting per tensor. Nothing
 * is cached: a graph build reads each tensor once and hands it on, so holding
 * them here would keep a whole fp32 copy of the model alive during the load.
 */
export class SafetensorsWeightStore implements WeightStore {
  private readonly location = new Map<string, SafetensorsFile>();
  /** Named when a tensor is missing: the index file or the single file. */
  readonly source: string;

  constructor(files: SafetensorsFile[], source: string, weightMap?: Map<string, string>) {
    this.source = source;
    const byBase = new Map(files.map((f) => [path.basename(f.path), f]));
    if (weightMap === undefined) {
      for (const f of files) for (const name of f.names()) this.location.set(name, f);
      return;
    }
    for (const [name, shard] of weightMap) {
      const file = byBase.get(shard);
      if (file === undefined) throw new ModelLoadError(source, name, `weight_map names shard ${shard}, which was not opened`);
      if (!file.has(name)) {
        throw new ModelLoadError(file.path, name, `tensor listed in ${path.basename(source)} is missing from this shard`);
      }
      this.location.set(name, file);
    }
  }

  names(): string[] {
    return [...this.location.keys()];
  }

  has(name: string): boolean {
    return this.location.has(name);
  }

  /** Header info without reading data: used to validate shapes before loading. */
  entry(name: string): SafetensorsEntry & { file: string } {
    const file = this.location.get(name);
    if (file === undefined) throw new ModelLoadError(this.source, name, 'tensor not found');
    return { ...file.entry(name), file: file.path };
  }

  get(name: string): F32Tensor {
    const file = this.location.get(name);
    if (file === undefined) throw new ModelLoadError(this.source, name, 'tensor not found');
    return file.read(name);
  }

  dtypeOf(name: string): WeightDType {
    const e = this.entry(name);
    if (!isSupportedDType(e.dtype)) throw unsupportedDType(e.file, name, e.dtype);
    return e.dtype;
  }
}

/** Opens `model.safetensors.index.json` if present, else `model.safetensors`. */
export function openSafetensorsDir(dir: string): SafetensorsWeightStore {
  const indexPath = path.join(dir, INDEX_FILE_NAME);
  if (existsSync(indexPath)) return openSharded(indexPath);
  const single = path.join(dir, SINGLE_FILE_NAME);
  if (!existsSync(single)) {
    const hasBin = existsSync(path.join(dir, 'pytorch_model.bin'));
    throw new ModelLoadError(
      single,
      null,
      hasBin
        ? 'file not found (pytorch_model.bin is present, but only safetensors checkpoints are supported)'
        : `file not found (expected ${SINGLE_FILE_NAME} or ${INDEX_FILE_NAME})`,
    );
  }
  return new SafetensorsWeightStore([SafetensorsFile.open(single)], single);
}

function openSharded(indexPath: string): SafetensorsWeightStore {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(indexPath, null, `malformed JSON: ${(err as Error).message}`);
  }
  const weightMapRaw = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMapRaw !== 'object' || weightMapRaw === null || Array.isArray(weightMapRaw)) {
    throw new ModelLoadError(indexPath, 'weight_map', 'missing or not an object of tensor name → shard file');
  }
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMapRaw as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
      throw new ModelLoadError(indexPath, `weight_map.${name}`, 'expected a shard file name');
    }
    weightMap.set(name, shard);
  }
  const dir = path.dirname(indexPath);
  const files: SafetensorsFile[] = [];
  for (const shard of new Set(weightMap.values())) {
    const shardPath = path.join(dir, shard);
    if (!existsSync(shardPath)) {
      const example = [...weightMap].find(([, s]) => s === shard)?.[0] ?? '';
      throw new ModelLoadError(shardPath, null, `shard file not found (listed in ${INDEX_FILE_NAME} for tensors such as ${example})`);
    }
    files.push(SafetensorsFile.open(shardPath));
  }
  return new SafetensorsWeightStore(files, indexPath, weightMap);
}

// ---------------------------------------------------------------- writing

export interface TensorToWrite {
  dtype: WeightDType;
  shape: number[];
  data: Float32Array;
}

function encodeTensor(t: TensorToWrite): Uint8Array {
  if (t.dtype === 'F32') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const halves = t.dtype === 'F16' ? encodeF16(t.data) : encodeBf16(t.data);
  return new Uint8Array(halves.buffer);
}

function checkTensor(file: string, name: string, t: TensorToWrite): void {
  const elements = t.shape.reduce((a, b) => a * b, 1);
  if (elements !== t.data.length) {
    throw new Error(`${file}: ${name}: shape [${t.shape.join(', ')}] has ${elements} elements but data has ${t.data.length}`);
  }
}

/** Writes one safetensors file, tensors in map order, header padded to 8 bytes. */
export async function writeSafetensors(
  filePath: string,
  tensors: Map<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<number> {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    checkTensor(filePath, name, t);
    const bytes = t.data.length * SUPPORTED_DTYPES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  // Pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned.
  const headerBytesLen = Buffer.byteLength(headerText, 'utf8');
  headerText += ' '.repeat((8 - (headerBytesLen % 8)) % 8);
  const headerBuf = Buffer.from(headerText, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(headerBuf.length));
  await mkdir(path.dirname(filePath), { recursive: true });
  const fd = openSync(filePath, 'w');
  try {
    writeAll(fd, lenBuf);
    writeAll(fd, headerBuf);
    for (const t of tensors.values()) writeAll(fd, encodeTensor(t));
  } finally {
    closeSync(fd);
  }
  return 8 + headerBuf.length + offset;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/**
 * Writes `model-0000i-of-0000n.safetensors` shards of at most `maxShardBytes`
 * of tensor data each (a larger tensor gets a shard of its own) plus
 * `model.safetensors.index.json`, as `transformers` does.
 */
export async function writeShardedSafetensors(
  dir: string,
  tensors: Map<string, TensorToWrite>,
  maxShardBytes: number,
  metadata?: Record<string, string>,
): Promise<string[]> {
  if (!(maxShardBytes > 0)) throw new Error(`maxShardBytes must be positive, got ${maxShardBytes}`);
  const shards: Map<string, TensorToWrite>[] = [];
  let current = new Map<string, TensorToWrite>();
  let currentBytes = 0;
  let totalSize = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.length * SUPPORTED_DTYPES[t.dtype];
    if (current.size > 0 && currentBytes + bytes > maxShardBytes) {
      shards.push(current);
      current = new Map();
      currentBytes = 0;
    }
    current.set(name, t);
    currentBytes += bytes;
    totalSize += bytes;
  }
  if (current.size > 0) shards.push(current);
  const width = Math.max(5, String(shards.length).length);
  const pad = (n: number): string => String(n).padStart(width, '0');
  const weightMap: Record<string, string> = {};
  const written: string[] = [];
  for (let i = 0; i < shards.length; i++) {
    const fileName = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    await writeSafetensors(path.join(dir, fileName), shards[i], metadata);
    for (const name of shards[i].keys()) weightMap[name] = fileName;
    written.push(fileName);
  }
  const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
  await writeFile(path.join(dir, INDEX_FILE_NAME), JSON.stringify(index, null, 2) + '\n');
  written.push(INDEX_FILE_NAME);
  return written;
}
