// POST /v1/rerank and POST /v1/score: wire shapes, normalisation into scored
// pairs, and the response bodies. Rerank follows vLLM / llama.cpp / Jina /
// Cohere ({query, documents, top_n, return_documents} → results sorted by
// relevance_score, best first); score follows vLLM ({text_1, text_2} → data[]).

import { randomBytes } from 'node:crypto';
import { ApiError } from './errors.js';

/** Most documents in one rerank request (and text_2 items in one score request); the schemas say the same. */
export const MAX_RERANK_DOCUMENTS = 1000;

export interface WireRerankRequest {
  model?: string | null;
  query: string;
  documents: string[];
  top_n?: number | null;
  return_documents?: boolean | null;
}

export interface WireScoreRequest {
  model?: string | null;
  text_1: string | string[];
  text_2: string | string[];
}

/** One (first, second) text pair for a cross-encoder; `param` names the second text in errors. */
export interface ScorePair {
  first: string;
  second: string;
  param: string;
}

export interface ValidatedRerankRequest {
  /** null: the served rerank model. */
  model: string | null;
  query: string;
  documents: string[];
  topN: number | null;
  returnDocuments: boolean;
}

export interface ValidatedScoreRequest {
  model: string | null;
  pairs: ScorePair[];
}

/** What a backend returns for scored pairs: one score per pair, in order. */
export interface PairScores {
  scores: number[];
  promptTokens: number;
}

export function normalizeRerankRequest(body: WireRerankRequest): ValidatedRerankRequest {
  return { model: body.model ?? null, query: body.query, documents: body.documents, topN: body.top_n ?? null, returnDocuments: body.return_documents ?? false };
}

export function rerankPairs(req: ValidatedRerankRequest): ScorePair[] {
  return req.documents.map((second, i) => ({ first: req.query, second, param: `documents[${i}]` }));
}

/** One text_1 against every text_2, or text_1[i] against text_2[i]. */
export function normalizeScoreRequest(body: WireScoreRequest): ValidatedScoreRequest {
  const first = typeof body.text_1 === 'string' ? [body.text_1] : body.text_1;
  const second = typeof body.text_2 === 'string' ? [body.text_2] : body.text_2;
  if (first.length !== 1 && first.length !== second.length) {
    throw ApiError.invalidRequest(
      `text_1 has ${first.length} texts and text_2 has ${second.length}: give one text_1 (scored against every text_2) or as many as text_2 (scored pairwise).`,
      'text_1',
      'invalid_value',
    );
  }
  return {
    model: body.model ?? null,
    pairs: second.map((text, i) => ({ first: first.length === 1 ? first[0] : first[i], second: text, param: typeof body.text_2 === 'string' ? 'text_2' : `text_2[${i}]` })),
  };
}

export interface WireRerankResult {
  index: number;
  relevance_score: number;
  document?: { text: string };
}

export interface WireRerankResponse {
  id: string;
  model: string;
  results: WireRerankResult[];
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface WireScoreResponse {
  id: string;
  object: 'list';
  created: number;
  model: string;
  data: { index: number; object: 'score'; score: number }[];
  usage: { prompt_tokens: number; total_tokens: number };
}

/** Results sorted by score, best first (ties keep document order), cut to top_n. */
export function rerankResponse(model: string, req: ValidatedRerankRequest, result: PairScores): WireRerankResponse {
  const order = result.scores.map((score, index) => ({ score, index })).sort((a, b) => b.score - a.score || a.index - b.index);
  const kept = req.topN === null ? order : order.slice(0, req.topN);
  return {
    id: `rerank-${randomBytes(12).toString('hex')}`,
    model,
    results: kept.map(({ score, index }) => ({ index, relevance_score: score, ...(req.returnDocuments ? { document: { text: req.documents[index] } } : {}) })),
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
}

export function scoreResponse(model: string, created: number, result: PairScores): WireScoreResponse {
  return {
    id: `score-${randomBytes(12).toString('hex')}`,
    object: 'list',
    created,
    model,
    data: result.scores.map((score, index) => ({ index, object: 'score', score })),
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
}
