// Cross-encoder scoring for POST /v1/rerank and /v1/score: each (query,
// document) pair is tokenised on the front thread through the tokenizer's pair
// template, checked against the model's input length, batched with the pairs
// of other requests (the embeddings batcher), and the logit the classifier
// returns becomes the score through the model's activation (sigmoid for
// bge-reranker / ms-marco, as vLLM and TEI report relevance_score).

import { ApiError } from '../../protocol/errors.js';
import type { PairScores, ScorePair } from '../../protocol/rerank.js';
import type { TextTokenizer } from '../../tokenizer/tokenizer.js';
import type { Admission } from '../admission.js';
import type { ModelEntry } from '../backend.js';
import { EmbeddingAbortedError, type EmbeddingBatcher } from '../embeddings/batcher.js';

export interface RerankModel {
  id: string;
  created: number;
  tokenizer: TextTokenizer;
  /** Longest pair (special tokens included). */
  maxSeqLength: number;
  /** 1: the model has no segment embeddings to feed (XLM-R, RoBERTa); 2: BERT's [CLS] a [SEP] b [SEP] types. */
  typeVocabSize: number;
  activation: 'sigmoid' | 'identity';
  batcher: EmbeddingBatcher;
  /** The token budget shared by pairs being tokenized or scored (`--embedding-token-budget`). */
  admission: Admission;
}

/** Pairs tokenized at once per request, so a large request neither blocks the event loop nor holds every encoding at once. */
const TOKENIZE_CHUNK = 64;

interface EncodedPair {
  ids: number[];
  typeIds: number[];
}

export class RerankBackend {
  constructor(readonly model: RerankModel) {}

  models(): ModelEntry[] {
    const m = this.model;
    return [{ id: m.id, kind: 'rerank', created: m.created, ownedBy: 'serval', maxModelLen: m.maxSeqLength }];
  }

  ready(): boolean {
    return true;
  }

  async scorePairs(pairs: readonly ScorePair[], signal: AbortSignal): Promise<PairScores> {
    const m = this.model;
    // Weighed before any work, as embeddings are: a pair costs at most the model's input length,
    // and a text no more tokens than characters (+ the template's specials).
    let estimate = 0;
    for (const pair of pairs) estimate += Math.min(m.maxSeqLength, pair.first.length + pair.second.length + 4);
    const permit = await m.admission.enter(estimate, signal);
    try {
      const encoded: EncodedPair[] = [];
      for (let start = 0; start < pairs.length; start += TOKENIZE_CHUNK) {
        if (start > 0) await new Promise((resolve) => setImmediate(resolve));
        if (signal.aborted) throw new EmbeddingAbortedError();
        encoded.push(...(await Promise.all(pairs.slice(start, start + TOKENIZE_CHUNK).map((pair) => this.encode(pair)))));
      }
      let promptTokens = 0;
      for (const e of encoded) promptTokens += e.ids.length;
      permit.shrink(promptTokens);
      const logits = await m.batcher.submit(
        encoded.map((e) => e.ids),
        signal,
        encoded.map((e) => e.typeIds),
      );
      const sigmoid = m.activation === 'sigmoid';
      return { scores: logits.map((l) => (sigmoid ? 1 / (1 + Math.exp(-l[0])) : l[0])), promptTokens };
    } finally {
      permit.release();
    }
  }

  private async encode(pair: ScorePair): Promise<EncodedPair> {
    const m = this.model;
    const { ids, typeIds } = await m.tokenizer.encodePair(pair.first, pair.second);
    if (ids.length > m.maxSeqLength) {
      throw ApiError.invalidRequest(
        `This model's maximum input length is ${m.maxSeqLength} tokens, but the query and ${pair.param} together have ${ids.length} tokens. Shorten the query or the document.`,
        pair.param.replace(/\[\d+\]$/, ''),
        'context_length_exceeded',
      );
    }
    // XLM-R / RoBERTa tokenizers may number the second segment 1, but the model has one token type (HF feeds zeros).
    return { ids, typeIds: m.typeVocabSize > 1 ? typeIds : typeIds.map(() => 0) };
  }
}
