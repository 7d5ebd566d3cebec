// What the front thread needs from an embedding or rerank model folder, whichever
// kind it is (BERT-style encoder, cross-encoder, or decoder-based embedding
// model): the tokenizer files and the limits requests are checked against.

import { isDecoderEmbeddingFolder, loadDecoderEmbeddingFolder } from './decoder-embedding-folder.js';
import { loadEncoderFolder } from './folder.js';

export interface EmbeddingFolderInfo {
  tokenizerJsonPath: string;
  tokenizerConfig: Record<string, unknown> | null;
  /** The embedding table's size bounds valid ids, whatever the tokenizer knows. */
  vocabSize: number;
  /** Longest input (special tokens included). */
  maxSeqLength: number;
  /** The model L2-normalises its embeddings. */
  normalize: boolean;
  /** Token types the model has: 1 means the tokenizer's segment ids are not fed (XLM-R, RoBERTa). */
  typeVocabSize: number;
  /** A cross-encoder's score activation; null for an embedding model. */
  scoreActivation: 'sigmoid' | 'identity' | null;
}

export async function readEmbeddingFolderInfo(dir: string): Promise<EmbeddingFolderInfo> {
  if (isDecoderEmbeddingFolder(dir)) {
    const f = await loadDecoderEmbeddingFolder(dir);
    const { tokenizerJsonPath, tokenizerConfig } = f;
    return { tokenizerJsonPath, tokenizerConfig, vocabSize: f.config.vocabSize, maxSeqLength: f.sentence.maxSeqLength, normalize: f.sentence.normalize, typeVocabSize: 1, scoreActivation: null };
  }
  const f = await loadEncoderFolder(dir);
  const { tokenizerJsonPath, tokenizerConfig } = f;
  return {
    tokenizerJsonPath,
    tokenizerConfig,
    vocabSize: f.config.vocabSize,
    maxSeqLength: f.sentence.maxSeqLength,
    normalize: f.sentence.normalize,
    typeVocabSize: f.config.typeVocabSize,
    scoreActivation: f.config.classifier?.activation ?? null,
  };
}
