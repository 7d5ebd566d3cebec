// vLLM's POST /tokenize and POST /detokenize (vLLM serves them outside /v1,
// and so does Serval). `model` may be left out: the served chat model is used.

import { ApiError } from '../protocol/errors.js';
import { normalizeDetokenizeRequest, normalizeTokenizeRequest, type WireDetokenizeResponse, type WireTokenizeResponse } from '../protocol/tokenize.js';
import type { Validators } from '../protocol/validation.js';
import type { GenerationBackend, ModelEntry } from './backend.js';
import type { Exchange } from './exchange.js';

export interface TokenizeRouteDeps {
  backend: GenerationBackend;
  validators: Validators;
  ensureReady(): void;
  findModel(id: string, kind: ModelEntry['kind']): ModelEntry;
}

export interface TokenizeRoutes {
  tokenize(rc: { ex: Exchange }, body: unknown): Promise<void>;
  detokenize(rc: { ex: Exchange }, body: unknown): Promise<void>;
}

export function tokenizeRoutes(deps: TokenizeRouteDeps): TokenizeRoutes {
  const defaultModel = (): string => {
    const chat = deps.backend.models().find((m) => m.kind === 'chat');
    if (chat === undefined) throw ApiError.modelNotFound('(default chat model)');
    return chat.id;
  };
  const unsupported = (model: string): ApiError => ApiError.modelNotFound(model);

  return {
    async tokenize({ ex }, body) {
      deps.ensureReady();
      const wire = deps.validators.tokenize(body);
      const req = normalizeTokenizeRequest(wire, wire.model ?? defaultModel());
      const model = deps.findModel(req.model, 'chat');
      if (deps.backend.tokenize === undefined) throw unsupported(req.model);
      const { ids, tokenStrs } = await deps.backend.tokenize(req);
      const out: WireTokenizeResponse = { count: ids.length, max_model_len: model.maxModelLen, tokens: ids, token_strs: tokenStrs };
      ex.sendJson(200, JSON.stringify(out));
    },
    async detokenize({ ex }, body) {
      deps.ensureReady();
      const wire = deps.validators.detokenize(body);
      const req = normalizeDetokenizeRequest(wire, wire.model ?? defaultModel());
      deps.findModel(req.model, 'chat');
      if (deps.backend.detokenize === undefined) throw unsupported(req.model);
      const out: WireDetokenizeResponse = { prompt: await deps.backend.detokenize(req) };
      ex.sendJson(200, JSON.stringify(out));
    },
  };
}
