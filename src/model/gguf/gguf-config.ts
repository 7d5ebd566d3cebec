// GGUF metadata (`{arch}.*`, `tokenizer.ggml.*` ids) → DecoderConfig, as
// llama.cpp's convert_hf_to_gguf.py writes it. Things GGUF keeps in tensors
// rather than keys (tied embeddings, q/k/v biases, q/k norms, llama3 RoPE
// factors) are read from the tensor table.

import { dedupe } from '../config.js';
import { ModelLoadError } from '../errors.js';
import type { DecoderConfig, GenerationDefaults, RopeScaling } from '../types.js';
import type { GgufFile } from './gguf-file.js';
import { llamaBlock } from '../llama-block.js';

interface GgufArchitecture {
  /** The Hugging Face class the file was converted from (reported, and config.architecture). */
  architecture: string;
  modelType: DecoderConfig['modelType'];
  /** llama.cpp permutes attn_q / attn_k rows of this architecture for its interleaved RoPE. */
  permutedQk: boolean;
}

/** `general.architecture` values Serval runs. Mistral and Llama 2/3 are all `llama` in GGUF. */
const ARCHITECTURES: Record<string, GgufArchitecture> = {
  llama: { architecture: 'LlamaForCausalLM', modelType: 'llama', permutedQk: true },
  qwen2: { architecture: 'Qwen2ForCausalLM', modelType: 'qwen2', permutedQk: false },
  qwen3: { architecture: 'Qwen3ForCausalLM', modelType: 'qwen3', permutedQk: false },
};

export const SUPPORTED_GGUF_ARCHITECTURES = Object.keys(ARCHITECTURES);

export interface GgufModelConfig {
  /** `general.architecture`, e.g. `llama`. */
  ggufArchitecture: string;
  permutedQk: boolean;
  config: DecoderConfig;
  generation: GenerationDefaults;
}

class MetadataReader {
  constructor(
    private readonly file: GgufFile,
    private readonly prefix: string,
  ) {}

  fail(key: string, problem: string): ModelLoadError {
    return new ModelLoadError(this.file.path, key, problem);
  }

  optNum(key: string): number | undefined {
    const v = this.file.metadata[this.prefix + key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.fail(this.prefix + key, `expected a number, got ${String(v)}`);
    return v;
  }

  int(key: string): number {
    const v = this.optNum(key);
    if (v === undefined) throw this.fail(this.prefix + key, 'missing');
    if (!Number.isInteger(v) || v < 1) throw this.fail(this.prefix + key, `expected a positive integer, got ${v}`);
    return v;
  }

  optString(key: string): string | undefined {
    const v = this.file.metadata[this.prefix + key];
    return typeof v === 'string' ? v : undefined;
  }
}

function ropeScaling(file: GgufFile, r: MetadataReader, rotaryDim: number, contextLength: number): RopeScaling | null {
  // convert_hf_to_gguf.py turns Llama 3's rope_scaling into per-frequency divisors (rope_freqs.weight).
  const freqs = file.tensors.get('rope_freqs.weight');
  if (freqs !== undefined) {
    if (freqs.elements !== rotaryDim / 2) throw new ModelLoadError(file.path, 'rope_freqs.weight', `expected ${rotaryDim / 2} values, found ${freqs.elements}`);
    if (freqs.type?.name !== 'F32') throw new ModelLoadError(file.path, 'rope_freqs.weight', 'expected F32');
    const bytes = file.read(freqs);
    const factors = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, freqs.elements));
    return { type: 'longrope', shortFactor: factors, longFactor: factors, originalMaxPositionEmbeddings: contextLength, attentionFactor: 1 };
  }
  const kind = r.optString('rope.scaling.type') ?? 'none';
  if (kind === 'none') return null;
  const factor = r.optNum('rope.scaling.factor') ?? 1;
  if (kind === 'linear') return factor === 1 ? null : { type: 'linear', factor };
  throw r.fail(`rope.scaling.type`, `unsupported RoPE scaling ${JSON.stringify(kind)} (supported: none, linear, llama3 via rope_freqs)`);
}

function tokenId(file: GgufFile, key: string, vocabSize: number): number | null {
  const v = file.metadata[`tokenizer.ggml.${key}`];
  if (typeof v !== 'number') return null;
  if (!Number.isInteger(v) || v < 0 || v >= vocabSize) throw new ModelLoadError(file.path, `tokenizer.ggml.${key}`, `token id ${v} is outside the vocabulary (${vocabSize})`);
  return v;
}

export function ggufDecoderConfig(file: GgufFile): GgufModelConfig {
  const archName = file.metadata['general.architecture'];
  if (typeof archName !== 'string') throw new ModelLoadError(file.path, 'general.architecture', 'missing');
  const arch = ARCHITECTURES[archName];
  if (arch === undefined) {
    throw new ModelLoadError(file.path, 'general.architecture', `unsupported architecture ${JSON.stringify(archName)} (supported: ${SUPPORTED_GGUF_ARCHITECTURES.join(', ')})`);
  }
  const r = new MetadataReader(file, `${archName}.`);
  const embed = file.tensors.get('token_embd.weight');
  if (embed === undefined || embed.dims.length !== 2) throw new ModelLoadError(file.path, 'token_embd.weight', 'missing or not 2-D');

  const hiddenSize = r.int('embedding_length');
  const numHeads = r.int('attention.head_count');
  const numKvHeads = r.optNum('attention.head_count_kv') ?? numHeads;
  if (!Number.isInteger(numKvHeads) || numKvHeads < 1 || numHeads % numKvHeads !== 0) {
    throw r.fail(`${archName}.attention.head_count_kv`, `${numKvHeads} does not divide attention.head_count (${numHeads})`);
  }
  const headDim = r.optNum('attention.key_length') ?? hiddenSize / numHeads;
  if (!Number.isInteger(headDim)) throw r.fail(`${archName}.attention.key_length`, `missing, and embedding_length ${hiddenSize} is not divisible by head_count ${numHeads}`);
  const valueLength = r.optNum('attention.value_length') ?? headDim;
  if (valueLength !== headDim) throw r.fail(`${archName}.attention.value_length`, `${valueLength} differs from key_length ${headDim} (unsupported)`);
  const rotaryDim = r.optNum('rope.dimension_count') ?? headDim;
  if (rotaryDim !== headDim) throw r.fail(`${archName}.rope.dimension_count`, `partial rotary (${rotaryDim} of ${headDim}) is unsupported for ${archName}`);
  const numLayers = r.int('block_count');
  const contextLength = r.int('context_length');
  const vocabSize = r.optNum('vocab_size') ?? embed.dims[1];
  const rmsNormEps = r.optNum('attention.layer_norm_rms_epsilon') ?? 1e-6;
  const ropeTheta = r.optNum('rope.freq_base') ?? 10000;

  const bosTokenId = tokenId(file, 'bos_token_id', vocabSize);
  // llama.cpp stops on EOS, and on end-of-turn / end-of-message when the vocabulary has them.
  const eosTokenIds = dedupe(['eos_token_id', 'eot_token_id', 'eom_token_id'].map((k) => tokenId(file, k, vocabSize)).filter((id): id is number => id !== null));
  const config: DecoderConfig = {
    architecture: arch.architecture,
    modelType: arch.modelType,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: r.int('feed_forward_length'),
    rmsNormEps,
    ropeTheta,
    ropeScaling: ropeScaling(file, r, rotaryDim, contextLength),
    maxPositionEmbeddings: contextLength,
    tieWordEmbeddings: !file.tensors.has('output.weight'),
    vocabSize,
    attentionBias: file.tensors.has('blk.0.attn_q.bias'),
    qkNorm: file.tensors.has('blk.0.attn_q_norm.weight'),
    // The architectures GGUF is read for here are plain Llama blocks, with the file's rotary width.
    ...llamaBlock(numLayers, headDim),
    rotaryDim,
    bosTokenId,
    eosTokenIds,
  };
  return { ggufArchitecture: archName, permutedQk: arch.permutedQk, config, generation: { eosTokenIds: [...eosTokenIds] } };
}
