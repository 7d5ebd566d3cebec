// POST /v1/rerank (also /rerank) and /v1/score: both score (query, document)
// pairs with the rerank model and differ only in how the pairs are read and
// the answer written. `model` may be omitted when one rerank model is served
// (as llama.cpp's route allows).

import { ApiError } from '../../protocol/errors.js';
import { normalizeRerankRequest, normalizeScoreRequest, rerankPairs, rerankResponse, scoreResponse, type PairScores, type ScorePair } from '../../protocol/rerank.js';
import { nowSeconds } from '../../protocol/responses.js';
import type { Validators } from '../../protocol/validation.js';
import type { GenerationBackend, ModelEntry } from '../backend.js';
import type { Exchange } from '../exchange.js';

export interface ScoreRouteDeps {
  backend: GenerationBackend;
  validators: Validators;
  ensureReady(): void;
  findModel(id: string, kind: ModelEntry['kind']): ModelEntry;
}

type ScoreHandler = (rc: { ex: Exchange }, body: unknown) => Promise<void>;

export function scoreRoutes(deps: ScoreRouteDeps): { rerank: ScoreHandler; score: ScoreHandler } {
  const { backend } = deps;
  const route =
    <T>(parse: (body: unknown) => T, modelOf: (req: T) => string | null, pairsOf: (req: T) => ScorePair[], respond: (model: string, req: T, result: PairScores) => unknown): ScoreHandler =>
    async ({ ex }, body) => {
      deps.ensureReady();
      const req = parse(body);
      const id = modelOf(req) ?? backend.models().find((m) => m.kind === 'rerank')?.id;
      if (id === undefined) throw ApiError.invalidRequest('No rerank model is served here; start Serval with --rerank-model.', 'model', 'model_not_found');
      const model = deps.findModel(id, 'rerank');
      if (backend.scorePairs === undefined) throw ApiError.modelNotFound(id);
      const pairs = pairsOf(req);
      const result = await backend.scorePairs(model.id, pairs, ex.signal);
      if (result.scores.length !== pairs.length) throw new Error(`backend returned ${result.scores.length} scores for ${pairs.length} pairs`);
      ex.sendJson(200, JSON.stringify(respond(model.id, req, result)));
    };
  return {
    rerank: route((b) => normalizeRerankRequest(deps.validators.rerank(b)), (r) => r.model, rerankPairs, rerankResponse),
    score: route((b) => normalizeScoreRequest(deps.validators.score(b)), (r) => r.model, (r) => r.pairs, (model, _req, result) => scoreResponse(model, nowSeconds(), result)),
  };
}
