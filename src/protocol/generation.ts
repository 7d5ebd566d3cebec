// Plain-data records of generation that the response builders render: the
// front's GenerationBackend produces them (src/front/backend.ts has the full
// event contract), protocol/responses.ts turns them into OpenAI JSON.

export type ModelKind = 'chat' | 'embedding' | 'rerank';

/** How a wrong-kind error names a model's kind and the endpoints that serve it. */
export function describeModelKind(kind: ModelKind): { article: string; endpoints: string } {
  switch (kind) {
    case 'chat':
      return { article: 'a', endpoints: '/v1/chat/completions or /v1/completions' };
    case 'embedding':
      return { article: 'an', endpoints: '/v1/embeddings' };
    case 'rerank':
      return { article: 'a', endpoints: '/v1/rerank or /v1/score' };
  }
}

export interface ModelEntry {
  /** The id clients send in `model`; may contain '/' (e.g. `org/name`). */
  id: string;
  kind: ModelKind;
  /** Unix seconds. */
  created: number;
  ownedBy: string;
  /** Context window (prompt + output tokens). */
  maxModelLen: number;
}

/** One alternative token at a position. `bytes` is the UTF-8 of the token (null if unknown). */
export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
}

/** The OpenAI logprob record of one emitted (or, with echo, prompt) token: its text, logprob and alternatives. */
export interface TextTokenLogprob {
  token: string;
  /** null only for the first prompt token under completions echo (it has no logprob). */
  logprob: number | null;
  bytes: number[] | null;
  /**
   * Where the token's text starts in the choice's text (completions
   * `text_offset`, UTF-16 units). A token holding part of a character starts
   * where that character does.
   */
  textOffset: number;
  /** The top-k alternatives (k = sampling.logprobs); may be empty. */
  top: TopLogprob[];
}

export interface UsageEvent {
  type: 'usage';
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the prefix cache, if known. */
  cachedTokens?: number;
}
