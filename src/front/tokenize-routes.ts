// vLLM's POST /tokenize and POST /detokenize (vLLM serves them outside /v1,
// and so does Serval). `model` may be left out: the served chat model is used.
// Each request takes a cost permit for what it hands the tokenizer (characters
// of text, or ids), as embeddings do for their tokens: a flood of large bodies
// waits in a bounded queue or gets 429 instead of piling up in the tokenizer.

import { ApiError } from '../protocol/errors.js';
import { normalizeDetokenizeRequest, normalizeTokenizeRequest, type TokenizeRequest, type WireDetokenizeResponse, type WireTokenizeResponse } from '../protocol/tokenize.js';
import type { Validators } from '../protocol/validation.js';
import { Admission } from './admission.js';
import type { GenerationBackend, ModelEntry } from './backend.js';
import type { Exchange } from './exchange.js';

export interface TokenizeRouteDeps {
  backend: GenerationBackend;
  validators: Validators;
  ensureReady(): void;
  findModel(id: string, kind: ModelEntry['kind']): ModelEntry;
  /** Default: DEFAULT_TOKENIZE_BUDGET. */
  budget?: TokenizeBudget;
}

/** Characters (tokenize) or ids (detokenize) handed to the tokenizer at once, and requests waiting for that. */
export interface TokenizeBudget {
  maxInFlight: number;
  maxQueue: number;
}

/** 4 Mi characters at once (a few max-size bodies), 64 waiting, then 429. */
const DEFAULT_TOKENIZE_BUDGET: TokenizeBudget = { maxInFlight: 4 * 2 ** 20, maxQueue: 64 };

export interface TokenizeRoutes {
  tokenize(rc: { ex: Exchange }, body: unknown): Promise<void>;
  detokenize(rc: { ex: Exchange }, body: unknown): Promise<void>;
}

/** What a tokenize request hands the tokenizer: its text, or its messages as JSON (what the template renders from). */
function tokenizeCost(req: TokenizeRequest): number {
  return req.kind === 'prompt' ? req.text.length : JSON.stringify(req.chat.messages).length + JSON.stringify(req.chat.tools ?? []).length;
}

export function tokenizeRoutes(deps: TokenizeRouteDeps): TokenizeRoutes {
  const defaultModel = (): string => {
    const chat = deps.backend.models().find((m) => m.kind === 'chat');
    if (chat === undefined) throw ApiError.modelNotFound('(default chat model)');
    return chat.id;
  };
  const unsupported = (model: string): ApiError => ApiError.modelNotFound(model);
  const budget = deps.budget ?? DEFAULT_TOKENIZE_BUDGET;
  const admission = new Admission({ maxConcurrency: budget.maxInFlight, maxQueue: budget.maxQueue, unit: 'characters being tokenized' });

  return {
    async tokenize({ ex }, body) {
      deps.ensureReady();
      const wire = deps.validators.tokenize(body);
      const req = normalizeTokenizeRequest(wire, wire.model ?? defaultModel());
      const model = deps.findModel(req.model, 'chat');
      if (deps.backend.tokenize === undefined) throw unsupported(req.model);
      const permit = await admission.enter(tokenizeCost(req), ex.signal);
      let result: Awaited<ReturnType<NonNullable<GenerationBackend['tokenize']>>>;
      try {
        result = await deps.backend.tokenize(req);
      } finally {
        permit.release();
      }
      const { ids, tokenStrs } = result;
      const out: WireTokenizeResponse = { count: ids.length, max_model_len: model.maxModelLen, tokens: ids, token_strs: tokenStrs };
      ex.sendJson(200, JSON.stringify(out));
    },
    async detokenize({ ex }, body) {
      deps.ensureReady();
      const wire = deps.validators.detokenize(body);
      const req = normalizeDetokenizeRequest(wire, wire.model ?? defaultModel());
      deps.findModel(req.model, 'chat');
      if (deps.backend.detokenize === undefined) throw unsupported(req.model);
      const permit = await admission.enter(req.ids.length, ex.signal);
      let prompt: string;
      try {
        prompt = await deps.backend.detokenize(req);
      } finally {
        permit.release();
      }
      const out: WireDetokenizeResponse = { prompt };
      ex.sendJson(200, JSON.stringify(out));
    },
  };
}
