// Presets for the embedding and rerank models beside the tiny BERT encoder,
// with the published config.json of a real checkpoint (architecture, model_type,
// heads, positions, pad id, token types, norm eps, activation, head, pooling),
// so the downloaded checkpoint loads through the same code. Reduced, with reason
// (as the decoder family presets are):
// - one or two layers, and the hidden / MLP width of bge-m3, bge-reranker-base and
//   Qwen3-Embedding cut to 256–384 / 768–1536 with the head count kept (one real
//   bge-m3 layer is 12.6M parameters: generating it, building its session and the
//   float64 reference forward take ~10 s each on the shared test machine);
//   ms-marco-MiniLM-L6 keeps its real width;
// - the vocabulary (1024 instead of 250002 / 30522 / 151669): the tokenizer is
//   generated from a small corpus (Unigram for XLM-R, WordPiece for BERT,
//   byte-level BPE for Qwen3), and a real-size embedding would dominate the file.

import type { DecoderConfig, EncoderConfig, SentenceTransformerConfig } from '../types.js';
import { llamaBlock } from '../llama-block.js';
import { ENCODER_VOCAB_SIZE, type DecoderTokens } from './special-tokens.js';

export type EncoderFamilyPresetName = 'xlmr-embed' | 'xlmr-rerank' | 'bert-rerank';
export type EmbeddingDecoderPresetName = 'qwen3-embed';
export const ENCODER_FAMILY_PRESET_NAMES: readonly EncoderFamilyPresetName[] = ['xlmr-embed', 'xlmr-rerank', 'bert-rerank'];

export interface EncoderPreset {
  config: EncoderConfig;
  /** sentence-transformers modules of an embedding model; null for a cross-encoder. */
  sentence: SentenceTransformerConfig | null;
  tokenizer: 'wordpiece' | 'unigram';
  /** config.json → sentence_transformers.activation_fn, as CrossEncoder v4 writes it; null: absent. */
  activationFn: string | null;
}

const XLMR_VOCAB = 1024;

/** What every published XLM-R checkpoint has beyond its size. */
const XLMR_BASE = {
  modelType: 'xlm-roberta',
  layerNormEps: 1e-5,
  typeVocabSize: 1,
  hiddenAct: 'gelu',
  positionPaddingIdx: 1,
  vocabSize: XLMR_VOCAB,
} as const;

export const ENCODER_FAMILY_PRESETS: Record<EncoderFamilyPresetName, EncoderPreset> = {
  /** BAAI/bge-m3 (dense): XLMRobertaModel, 16 heads, 8194 positions; CLS pooling, normalised. Hidden 256 (1024), MLP 1024 (4096), two layers (24). */
  'xlmr-embed': {
    config: { ...XLMR_BASE, architecture: 'XLMRobertaModel', hiddenSize: 256, numLayers: 2, numHeads: 16, intermediateSize: 1024, maxPositionEmbeddings: 8194, classifier: null },
    sentence: { pooling: 'cls', normalize: true, maxSeqLength: 8192 },
    tokenizer: 'unigram',
    activationFn: null,
  },
  /** BAAI/bge-reranker-base: XLMRobertaForSequenceClassification, 12 heads, 514 positions, one label. Hidden 384 (768), MLP 1536 (3072), two layers (12). */
  'xlmr-rerank': {
    config: {
      ...XLMR_BASE,
      architecture: 'XLMRobertaForSequenceClassification',
      hiddenSize: 384,
      numLayers: 2,
      numHeads: 12,
      intermediateSize: 1536,
      maxPositionEmbeddings: 514,
      classifier: { kind: 'roberta-head', numLabels: 1, activation: 'sigmoid' },
    },
    sentence: null,
    tokenizer: 'unigram',
    activationFn: null,
  },
  /** cross-encoder/ms-marco-MiniLM-L6-v2: BertForSequenceClassification, hidden 384, 12 heads, MLP 1536, 512 positions, one label. Two layers (6). */
  'bert-rerank': {
    config: {
      architecture: 'BertForSequenceClassification',
      modelType: 'bert',
      hiddenSize: 384,
      numLayers: 2,
      numHeads: 12,
      intermediateSize: 1536,
      layerNormEps: 1e-12,
      maxPositionEmbeddings: 512,
      typeVocabSize: 2,
      vocabSize: ENCODER_VOCAB_SIZE,
      hiddenAct: 'gelu',
      positionPaddingIdx: null,
      classifier: { kind: 'bert-pooler', numLabels: 1, activation: 'sigmoid' },
    },
    sentence: null,
    tokenizer: 'wordpiece',
    activationFn: 'torch.nn.modules.activation.Sigmoid',
  },
};

/** Qwen3-Embedding's tokenizer: no BOS; the post-processor appends <|endoftext|> to every text. */
export const QWEN3_EMBED_TOKENS: DecoderTokens = {
  specials: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'],
  bos: '<|endoftext|>',
  eos: '<|im_end|>',
  endOfTurn: '<|im_end|>',
  pad: '<|endoftext|>',
  addBos: false,
  chatTemplate: '',
};

/** The instruction Qwen3-Embedding's model card puts before a query (documents go in as they are). */
export const QWEN3_EMBED_QUERY_PROMPT = 'Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:';

/**
 * Qwen/Qwen3-Embedding-0.6B: a Qwen3 body (GQA 16:8, head_dim 128, q/k norms, θ 1e6,
 * 32768 positions, tied embeddings), last-token pooling, normalised. Hidden 256 (1024),
 * MLP 768 (3072), two layers (28).
 */
export const QWEN3_EMBED: { config: DecoderConfig; sentence: SentenceTransformerConfig } = {
  config: {
    architecture: 'Qwen3ForCausalLM',
    modelType: 'qwen3',
    ...llamaBlock(2, 128),
    hiddenSize: 256,
    numLayers: 2,
    numHeads: 16,
    numKvHeads: 8,
    headDim: 128,
    intermediateSize: 768,
    rmsNormEps: 1e-6,
    ropeTheta: 1000000,
    ropeScaling: null,
    maxPositionEmbeddings: 32768,
    tieWordEmbeddings: true,
    vocabSize: XLMR_VOCAB,
    attentionBias: false,
    qkNorm: true,
    // <|endoftext|> and <|im_end|> in the generated vocabulary (256 bytes, then the specials), as Qwen3 configs name them.
    bosTokenId: 256,
    eosTokenIds: [258],
  },
  sentence: { pooling: 'lasttoken', normalize: true, maxSeqLength: 32768 },
};
