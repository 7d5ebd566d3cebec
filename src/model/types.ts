// Plain data describing a loaded model. Every module that reads a checkpoint
// (graph builder, reference forward pass, device worker) speaks these types,
// never raw Hugging Face JSON.

export type WeightDType = 'F32' | 'F16' | 'BF16';

/** RoPE frequency scaling as found in `config.json` → `rope_scaling`. */
export type RopeScaling =
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  | { type: 'linear'; factor: number };

/** Decoder-only Llama-family architecture (Llama 2/3, Mistral, Qwen2, Qwen3). */
export interface DecoderConfig {
  /** `architectures[0]`, e.g. `LlamaForCausalLM`. */
  architecture: string;
  modelType: 'llama' | 'mistral' | 'qwen2' | 'qwen3';
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  vocabSize: number;
  /** q/k/v projections carry a bias (Qwen2, or `attention_bias: true`). */
  attentionBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  bosTokenId: number | null;
  /** End-of-sequence ids from config.json and generation_config.json, deduplicated. */
  eosTokenIds: number[];
}

/** Defaults from `generation_config.json`; absent fields stay undefined. */
export interface GenerationDefaults {
  eosTokenIds: number[];
  doSample?: boolean;
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  maxNewTokens?: number;
}

/** A weight tensor converted to float32 at load. Row-major, HF layout (Linear weights are [out, in]). */
export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

/** Read-only access to a checkpoint's tensors by their Hugging Face names. */
export interface WeightStore {
  names(): string[];
  has(name: string): boolean;
  /** Throws a ModelLoadError naming the file when the tensor is missing. */
  get(name: string): F32Tensor;
  /** The dtype the tensor had on disk. */
  dtypeOf(name: string): WeightDType;
}

/** BERT-style encoder used for embeddings. */
export interface EncoderConfig {
  architecture: string;
  modelType: 'bert';
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  layerNormEps: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  vocabSize: number;
  hiddenAct: 'gelu' | 'gelu_new' | 'relu';
}

export type PoolingMode = 'mean' | 'cls' | 'max' | 'lasttoken';

/** sentence-transformers modules: pooling, normalisation, max sequence length. */
export interface SentenceTransformerConfig {
  pooling: PoolingMode;
  normalize: boolean;
  maxSeqLength: number;
}
