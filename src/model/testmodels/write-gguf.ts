// A small GGUF writer for tests: a decoder's Hugging Face tensors → a GGUF file
// laid out as llama.cpp's convert_hf_to_gguf.py + llama-quantize would write it
// (ggml dims order, q/k rows permuted for the llama architecture, llama3 RoPE
// scaling as rope_freqs, norms and biases kept F32, reference quantisers).
// Header and metadata are serialised by @huggingface/gguf; the tensor infos
// and the aligned data section are written here.

import { writeFile } from 'node:fs/promises';
import { GGUFValueType, serializeGgufMetadata, type GGUFTypedMetadata } from '@huggingface/gguf';
import { loadModelFolder } from '../folder.js';
import { encodeF16, f16ToF32, f32ToF16Bits } from '../float-convert.js';
import { ggmlTypeId } from '../gguf/ggml-types.js';
import { ggufName } from '../gguf/tensor-map.js';
import type { DecoderConfig, F32Tensor } from '../types.js';
import { ggufTokenizerMetadata } from './gguf-tokenizer-metadata.js';

export const GGUF_WRITE_TYPES = ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q4_K'] as const;
export type GgufWriteType = (typeof GGUF_WRITE_TYPES)[number];
export type GgufWriteArch = 'llama' | 'qwen2' | 'qwen3';
export type TypedEntry = { value: unknown; type: GGUFValueType; subType?: GGUFValueType };

export interface WriteGgufOptions {
  arch: GgufWriteArch;
  /**
   * Type of the 2-D weights; 1-D tensors stay F32. Rows the type's block does not divide fall
   * back (as llama-quantize does): Q4_K to Q8_0, then anything to F16.
   */
  type: GgufWriteType;
  /** Extra metadata (tokenizer.ggml.*, tokenizer.chat_template, ...). */
  metadata?: Record<string, TypedEntry>;
}

const ALIGNMENT = 32;

/** llama.cpp's LlamaModel.permute, transcribed: w.reshape(heads, 2, D/2, in).swapaxes(1, 2).reshape(w.shape). */
export function llamaCppPermute(w: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const half = rows / heads / 2;
  const out = new Float32Array(w.length);
  // out[h, a, b, :] = w[h, b, a, :] with out viewed as [heads, half, 2, cols] and w as [heads, 2, half, cols].
  for (let h = 0; h < heads; h++) {
    for (let a = 0; a < half; a++) {
      for (let b = 0; b < 2; b++) {
        const src = ((h * 2 + b) * half + a) * cols;
        const dst = ((h * half + a) * 2 + b) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

function quantizeQ8_0(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 32) * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    view.setUint16(b * 34, f32ToF16Bits(d), true);
    for (let j = 0; j < 32; j++) view.setInt8(b * 34 + 2 + j, roundf(Math.fround(x[b * 32 + j] * id)));
  }
  return out;
}

/** C roundf: halves away from zero (Math.round rounds them up). */
function roundf(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}

/** ggml quantize_row_q4_0_ref: the signed extreme maps to −8. */
function quantizeQ4_0(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 32) * 18);
  const view = new DataView(out.buffer);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[b * 32 + j];
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    view.setUint16(b * 18, f32ToF16Bits(d), true);
    const code = (v: number): number => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
    for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = code(x[b * 32 + j]) | (code(x[b * 32 + j + 16]) << 4);
  }
  return out;
}

/**
 * A valid Q4_K encoding, simpler than llama.cpp's (no iterative scale search): per sub-block
 * of 32 the range [min(0, x), max x] in 15 steps; the 6-bit scales and mins relative to
 * the super-block's largest, as d and dmin.
 */
function quantizeQ4_K(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 256) * 144);
  const view = new DataView(out.buffer);
  for (let b = 0; b < x.length / 256; b++) {
    const o = b * 144;
    const scales: number[] = [];
    const mins: number[] = [];
    for (let s = 0; s < 8; s++) {
      let lo = 0;
      let hi = -Infinity;
      for (let l = 0; l < 32; l++) {
        const v = x[b * 256 + s * 32 + l];
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      scales.push((hi - lo) / 15);
      mins.push(-lo);
    }
    const dBits = f32ToF16Bits(Math.max(...scales) / 63);
    const dminBits = f32ToF16Bits(Math.max(...mins) / 63);
    view.setUint16(o, dBits, true);
    view.setUint16(o + 2, dminBits, true);
    const d = halfValue(dBits);
    const dmin = halfValue(dminBits);
    for (let s = 0; s < 8; s++) {
      const sc = d === 0 ? 0 : Math.min(63, Math.round(scales[s] / d));
      const m = dmin === 0 ? 0 : Math.min(63, Math.round(mins[s] / dmin));
      // get_scale_min_k4's inverse: 6 bits each, the top 2 of sub-blocks 4..7 in bytes 0..7.
      if (s < 4) {
        out[o + 4 + s] |= sc;
        out[o + 8 + s] |= m;
      } else {
        out[o + 4 + s + 4] = (sc & 15) | ((m & 15) << 4);
        out[o + 4 + s - 4] |= (sc >> 4) << 6;
        out[o + 4 + s] |= (m >> 4) << 6;
      }
      const scale = Math.fround(d * sc);
      const min = Math.fround(dmin * m);
      for (let l = 0; l < 32; l++) {
        const q = scale === 0 ? 0 : Math.max(0, Math.min(15, Math.round((x[b * 256 + s * 32 + l] + min) / scale)));
        out[o + 16 + (s >> 1) * 32 + l] |= (s & 1) === 0 ? q : q << 4;
      }
    }
  }
  return out;
}

function halfValue(bits: number): number {
  return f16ToF32(Uint16Array.of(bits))[0];
}

function encode(type: GgufWriteType, data: Float32Array): Uint8Array {
  switch (type) {
    case 'F32':
      return new Uint8Array(data.slice().buffer);
    case 'F16':
      return new Uint8Array(encodeF16(data).buffer);
    case 'Q8_0':
      return quantizeQ8_0(data);
    case 'Q4_0':
      return quantizeQ4_0(data);
    case 'Q4_K':
      return quantizeQ4_K(data);
  }
}

/** convert_hf_to_gguf.py's rope_freqs for Llama 3 scaling: per-frequency divisors. */
function llama3RopeFreqs(c: DecoderConfig): Float32Array | null {
  const s = c.ropeScaling;
  if (s === null) return null;
  if (s.type !== 'llama3') throw new Error(`write-gguf: RoPE scaling ${s.type} is not written`);
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  return Float32Array.from({ length: c.rotaryDim / 2 }, (_, i) => {
    const wavelen = (2 * Math.PI) / (1 / c.ropeTheta ** ((2 * i) / c.rotaryDim));
    if (wavelen < highWavelen) return 1;
    if (wavelen > lowWavelen) return s.factor;
    const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return 1 / ((1 - smooth) / s.factor + smooth);
  });
}

function u32(value: number): TypedEntry {
  return { value, type: GGUFValueType.UINT32 };
}
function f32(value: number): TypedEntry {
  return { value, type: GGUFValueType.FLOAT32 };
}

function architectureMetadata(c: DecoderConfig, arch: GgufWriteArch): Record<string, TypedEntry> {
  return {
    'general.architecture': { value: arch, type: GGUFValueType.STRING },
    'general.name': { value: `serval-test-${arch}`, type: GGUFValueType.STRING },
    [`${arch}.context_length`]: u32(c.maxPositionEmbeddings),
    [`${arch}.embedding_length`]: u32(c.hiddenSize),
    [`${arch}.block_count`]: u32(c.numLayers),
    [`${arch}.feed_forward_length`]: u32(c.intermediateSize),
    [`${arch}.attention.head_count`]: u32(c.numHeads),
    [`${arch}.attention.head_count_kv`]: u32(c.numKvHeads),
    [`${arch}.attention.key_length`]: u32(c.headDim),
    [`${arch}.attention.value_length`]: u32(c.headDim),
    [`${arch}.rope.dimension_count`]: u32(c.rotaryDim),
    [`${arch}.rope.freq_base`]: f32(c.ropeTheta),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(c.rmsNormEps),
    [`${arch}.vocab_size`]: u32(c.vocabSize),
  };
}

interface Entry {
  name: string;
  dims: number[];
  typeId: number;
  bytes: Uint8Array;
}

/** Writes `weights` (Hugging Face names and layout) as a GGUF file; returns the bytes written. */
export async function writeGguf(file: string, config: DecoderConfig, weights: Map<string, F32Tensor>, options: WriteGgufOptions): Promise<number> {
  const entries: Entry[] = [];
  for (const [hf, tensor] of weights) {
    const name = ggufName(hf);
    if (name === null) throw new Error(`write-gguf: no GGUF name for ${hf}`);
    let data = tensor.data;
    const rows = tensor.shape[0];
    const cols = tensor.shape.length === 2 ? tensor.shape[1] : 1;
    if (options.arch === 'llama' && /\.self_attn\.[qk]_proj\.(weight|bias)$/.test(hf)) {
      data = llamaCppPermute(data, rows, cols, rows / config.headDim);
    }
    let type: GgufWriteType = tensor.shape.length === 1 ? 'F32' : options.type;
    if (type === 'Q4_K' && cols % 256 !== 0) type = 'Q8_0';
    if ((type === 'Q8_0' || type === 'Q4_0') && cols % 32 !== 0) type = 'F16';
    entries.push({ name, dims: [...tensor.shape].reverse(), typeId: ggmlTypeId(type), bytes: encode(type, data) });
  }
  const freqs = options.arch === 'llama' ? llama3RopeFreqs(config) : null;
  if (freqs !== null) entries.push({ name: 'rope_freqs.weight', dims: [freqs.length], typeId: ggmlTypeId('F32'), bytes: new Uint8Array(freqs.buffer) });

  const metadata = {
    version: { value: 3, type: GGUFValueType.UINT32 },
    tensor_count: { value: BigInt(entries.length), type: GGUFValueType.UINT64 },
    kv_count: { value: 0n, type: GGUFValueType.UINT64 },
    ...architectureMetadata(config, options.arch),
    ...options.metadata,
  } as GGUFTypedMetadata;
  // Alignment 1: the tensor infos follow the metadata directly; we pad after them.
  const header = serializeGgufMetadata(metadata, { alignment: 1 });

  const infos: Buffer[] = [];
  let offset = 0;
  const offsets: number[] = [];
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const info = Buffer.alloc(8 + name.length + 4 + 8 * e.dims.length + 4 + 8);
    let p = info.writeBigUInt64LE(BigInt(name.length), 0);
    p += name.copy(info, p);
    p = info.writeUInt32LE(e.dims.length, p);
    for (const d of e.dims) p = info.writeBigUInt64LE(BigInt(d), p);
    p = info.writeUInt32LE(e.typeId, p);
    info.writeBigUInt64LE(BigInt(offset), p);
    infos.push(info);
    offsets.push(offset);
    offset = pad(offset + e.bytes.length);
  }
  const headerLength = header.length + infos.reduce((a, b) => a + b.length, 0);
  const data = Buffer.alloc(offset);
  entries.forEach((e, i) => data.set(e.bytes, offsets[i]));
  const out = Buffer.concat([header, ...infos, Buffer.alloc(pad(headerLength) - headerLength), data]);
  await writeFile(file, out);
  return out.length;
}

function pad(n: number): number {
  return Math.ceil(n / ALIGNMENT) * ALIGNMENT;
}

/** A make-model checkpoint folder (safetensors + tokenizer files) as one GGUF file, as llama.cpp would convert it. */
export async function writeGgufFromFolder(dir: string, file: string, type: GgufWriteType): Promise<number> {
  const folder = await loadModelFolder(dir);
  const arch = folder.config.modelType;
  if (arch !== 'llama' && arch !== 'qwen2' && arch !== 'qwen3') throw new Error(`write-gguf: ${arch} checkpoints are not written`);
  const weights = new Map(folder.weights.names().map((name): [string, F32Tensor] => [name, folder.weights.get(name)]));
  // config.json's end id comes first; generation_config.json adds the end-of-turn token.
  const eot = folder.config.eosTokenIds[1] ?? null;
  const metadata = ggufTokenizerMetadata(folder.tokenizerJsonPath, folder.tokenizerConfig, { chatTemplate: folder.chatTemplate, eotTokenId: eot });
  return writeGguf(file, folder.config, weights, { arch, type, metadata });
}
