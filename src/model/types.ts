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
  | { type: 'linear'; factor: number }
  | {
      /** Phi-3 LongRoPE ("su"): per-frequency divisors, short below the original context, long from it on. */
      type: 'longrope';
      shortFactor: number[];
      longFactor: number[];
      /** Positions from this one on use `longFactor` (HF switches when the sequence length exceeds it). */
      originalMaxPositionEmbeddings: number;
      /** Multiplies cos and sin (HF `attention_factor`, by default from the context extension ratio). */
      attentionFactor: number;
    };

export type HiddenActivation = 'silu' | 'gelu_tanh';

/** A layer's attention span: the whole causal past, or the last `slidingWindow` positions. */
export type LayerAttention = 'full' | 'sliding';

/**
 * Decoder-only Llama-family architecture (Llama 2/3, Mistral, Qwen2, Qwen3) and the
 * families that are small deltas on it (SmolLM3, Granite 3, Phi-3/4-mini, Gemma 3 text).
 * The per-family fields below hold the plain Llama value (1, false, null, all layers
 * full and rotated) for a family that does not have the feature.
 */
export interface DecoderConfig {
  /** `architectures[0]`, e.g. `LlamaForCausalLM`. */
  architecture: string;
  modelType: 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'smollm3' | 'granite' | 'phi3' | 'gemma3_text';
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
  /** Leading dimensions of each head that RoPE rotates (Phi-3 partial_rotary_factor); the rest pass through. */
  rotaryDim: number;
  /** Per layer: whether q and k are rotated at all (SmolLM3 no_rope_layers). */
  layerRope: boolean[];
  /** Per layer: full causal attention or a sliding window (Gemma 3 layer pattern, Phi-3 sliding_window). */
  layerAttention: LayerAttention[];
  /** Positions a sliding layer sees, its own included (HF: key index > query index − window); null when none slides. */
  slidingWindow: number | null;
  /** RoPE base of the sliding layers, without scaling (Gemma 3 rope_local_base_freq); null: as the full layers. */
  slidingRopeTheta: number | null;
  hiddenAct: HiddenActivation;
  /** Phi-3 checkpoints store q/k/v as one `qkv_proj` and gate/up as one `gate_up_proj`. */
  fusedProjections: boolean;
  /** Gemma RMSNorm: the weight is an offset, the scale is (1 + w). */
  normUnitOffset: boolean;
  /** Gemma: attention and MLP outputs are normed before the residual add (post_attention / pre- and post_feedforward_layernorm). */
  sandwichNorms: boolean;
  /** Multiplies the token embeddings (Granite embedding_multiplier, Gemma √hidden). */
  embeddingMultiplier: number;
  /** Multiplies each attention and MLP output before the residual add (Granite residual_multiplier). */
  residualMultiplier: number;
  /** Multiplies q·k: 1/√headDim, Granite attention_multiplier, Gemma query_pre_attn_scalar^−½. */
  attentionScale: number;
  /** Logits are divided by it (Granite logits_scaling). */
  logitsDivisor: number;
  /** Logits become cap·tanh(logits / cap) (Gemma final_logit_softcapping); null: none. */
  finalLogitSoftcap: number | null;
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
  /**
   * A Linear weight the checkpoint already stores as 4- or 8-bit blocks of 32 (GGUF Q4_0,
   * Q4_1, Q4_K, Q8_0), in MatMulNBits layout, so the graph uses it without a round trip
   * through floats; null when the tensor is stored otherwise. Absent: never.
   */
  packedLinear?(name: string): PackedLinear | null;
}

/**
 * W [n, k] ≈ (code − zero point)·scale + min per block of `blockSize` along k, in the
 * layout of com.microsoft.MatMulNBits (see graph/int4.ts); `mins` is the part
 * MatMulNBits cannot express, added by the graph as Σ_block(x)·min.
 */
export interface PackedLinear {
  bits: 4 | 8;
  n: number;
  k: number;
  blockSize: number;
  kBlocks: number;
  /** [n, kBlocks, blockSize · bits / 8]; 4-bit: low nibble first. */
  packed: Uint8Array;
  /** [n, kBlocks] */
  scales: Float32Array;
  /** 4-bit only: [n, ceil(kBlocks / 2)]; null for the implicit zero point (8, or 128 for 8 bits). */
  zeroPoints: Uint8Array | null;
  /** [n, kBlocks] per-block offsets, or null when there are none. */
  mins: Float32Array | null;
}

/**
 * The head of a *ForSequenceClassification cross-encoder, on the first token:
 * BERT: pooler dense + tanh, then `classifier`; RoBERTa / XLM-R: `classifier.dense`
 * + tanh, then `classifier.out_proj` (HF modeling_bert.py / modeling_roberta.py).
 */
export interface EncoderClassifier {
  kind: 'bert-pooler' | 'roberta-head';
  numLabels: number;
  /** What turns a logit into a score (sentence-transformers CrossEncoder activation_fn; default sigmoid for one label). */
  activation: 'sigmoid' | 'identity';
}

/** BERT-style encoder (BERT, RoBERTa, XLM-RoBERTa) used for embeddings and reranking. */
export interface EncoderConfig {
  architecture: string;
  modelType: 'bert' | 'roberta' | 'xlm-roberta';
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  layerNormEps: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  vocabSize: number;
  hiddenAct: 'gelu' | 'gelu_new' | 'relu';
  /**
   * RoBERTa family: HF create_position_ids_from_input_ids, i.e. a token's position is
   * padding_idx + (non-pad tokens up to and including it), a pad token's is padding_idx.
   * null for BERT (positions 0, 1, 2, …).
   */
  positionPaddingIdx: number | null;
  /** The classification head of a cross-encoder; null for a plain encoder. */
  classifier: EncoderClassifier | null;
}

export type PoolingMode = 'mean' | 'cls' | 'max' | 'lasttoken';

/** sentence-transformers modules: pooling, normalisation, max sequence length. */
export interface SentenceTransformerConfig {
  pooling: PoolingMode;
  normalize: boolean;
  maxSeqLength: number;
}
