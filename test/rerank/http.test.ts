// /v1/rerank, /rerank and /v1/score end to end over real HTTP: a reranker (the
// bge-reranker XLM-R preset, then the ms-marco BERT preset) served beside an
// embedding model; scores equal the reference cross-encoder's sigmoid(logit),
// results sorted, top_n and return_documents honoured, bad input → 400.

import '../support/thread-loaders.js';
import t from 'tap';
import { startServer, type RunningServer } from '../../src/front/start-server.js';
import { loadEncoderFolder } from '../../src/model/folder.js';
import { ReferenceCrossEncoder } from '../../src/model/reference/cross-encoder-reference.js';
import { MAX_RERANK_DOCUMENTS } from '../../src/protocol/rerank.js';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { tempDir } from '../embeddings/helpers.js';
import { testTransport } from '../support/transport.js';

const TOLERANCE = 1e-5;
const QUERY = 'what do bees make?';
const DOCUMENTS = [
  'In the spring the meadows were full of clover and the honey was pale and sweet.',
  'The quick brown fox jumps over the lazy dog.',
  'Every morning she walked to the hives and listened to the humming of thousands of wings.',
  'Order #48213 shipped on 11/02 via express.',
  'bees',
];

interface Reply {
  status: number;
  json: Record<string, unknown> & { error?: { param: string | null; code: string | null; type: string } };
}

async function post(base: string, route: string, body: unknown): Promise<Reply> {
  const res = await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Reply['json'] };
}

/** The oracle: the tokenizer's pair encoding through the reference cross-encoder. */
async function referenceScorer(dir: string): Promise<(query: string, doc: string) => Promise<{ score: number; tokens: number }>> {
  const folder = await loadEncoderFolder(dir);
  const reference = new ReferenceCrossEncoder(folder.config, folder.weights!);
  const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath: folder.tokenizerJsonPath, tokenizerConfig: folder.tokenizerConfig });
  return async (query, doc) => {
    const { ids, typeIds } = await tokenizer.encodePair(query, doc);
    const types = folder.config.typeVocabSize > 1 ? typeIds : typeIds.map(() => 0);
    return { score: reference.score({ inputIds: ids, tokenTypeIds: types }), tokens: ids.length };
  };
}

for (const preset of ['xlmr-rerank', 'bert-rerank'] as const) {
  t.test(`${preset} served over HTTP`, async (t) => {
    const tmp = await tempDir(`serval-${preset}-`);
    t.teardown(tmp.remove);
    const rerankDir = `${tmp.dir}/reranker`;
    const embedDir = `${tmp.dir}/embedder`;
    await writeTestModel(preset, rerankDir);
    await writeTestModel('encoder', embedDir);
    const scorer = await referenceScorer(rerankDir);
    const options = { intraOpThreads: 1, spinning: false };
    const served: RunningServer = await startServer({
      chat: null,
      embedding: { modelDir: embedDir, servedName: 'embedder', ...options },
      // A wide batch window, so concurrent requests reliably share forward passes.
      rerank: { modelDir: rerankDir, servedName: 'reranker', batchWindowMs: 50, ...options },
      http: { host: '127.0.0.1', port: 0, transport: testTransport() },
    });
    t.teardown(() => served.close());
    const base = `http://127.0.0.1:${served.port}`;
    const expected = await Promise.all(DOCUMENTS.map((d) => scorer(QUERY, d)));

    await t.test('listed in /v1/models', async (t) => {
      const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: { id: string }[] };
      t.same(models.data.map((m) => m.id).sort(), ['embedder', 'reranker']);
    });

    await t.test('/v1/rerank: reference scores, sorted, usage', async (t) => {
      const r = await post(base, '/v1/rerank', { model: 'reranker', query: QUERY, documents: DOCUMENTS });
      t.equal(r.status, 200);
      const results = r.json.results as { index: number; relevance_score: number; document?: unknown }[];
      t.equal(results.length, DOCUMENTS.length);
      t.same([...results.map((x) => x.index)].sort(), DOCUMENTS.map((_, i) => i), 'every document once');
      for (let i = 1; i < results.length; i++) t.ok(results[i - 1].relevance_score >= results[i].relevance_score, `results[${i - 1}] ≥ results[${i}]`);
      for (const x of results) {
        const d = Math.abs(x.relevance_score - expected[x.index].score);
        t.ok(d < TOLERANCE, `document ${x.index}: ${x.relevance_score.toFixed(6)} vs reference, |Δ| = ${d.toExponential(2)}`);
        t.ok(x.relevance_score > 0 && x.relevance_score < 1, 'a sigmoid score');
        t.notOk('document' in x, 'no document unless asked');
      }
      const tokens = expected.reduce((a, e) => a + e.tokens, 0);
      t.same(r.json.usage, { prompt_tokens: tokens, total_tokens: tokens });
      t.equal(r.json.model, 'reranker');
    });

    await t.test('top_n, return_documents, /rerank without model', async (t) => {
      const r = await post(base, '/rerank', { query: QUERY, documents: DOCUMENTS, top_n: 2, return_documents: true });
      t.equal(r.status, 200);
      const results = r.json.results as { index: number; relevance_score: number; document: { text: string } }[];
      const best = expected.map((e, i) => ({ i, s: e.score })).sort((a, b) => b.s - a.s).slice(0, 2).map((x) => x.i);
      t.same(results.map((x) => x.index), best, 'the two best, best first');
      for (const x of results) t.same(x.document, { text: DOCUMENTS[x.index] });
      t.equal(r.json.model, 'reranker', 'model defaults to the served reranker');
    });

    await t.test('/v1/score: one text_1 against many, and pairwise', async (t) => {
      const many = await post(base, '/v1/score', { model: 'reranker', text_1: QUERY, text_2: DOCUMENTS.slice(0, 3) });
      t.equal(many.status, 200);
      const data = many.json.data as { index: number; object: string; score: number }[];
      t.same(data.map((x) => [x.index, x.object]), [[0, 'score'], [1, 'score'], [2, 'score']], 'in input order');
      data.forEach((x) => t.ok(Math.abs(x.score - expected[x.index].score) < TOLERANCE, `text_2[${x.index}] matches the reference`));
      const pairwise = await post(base, '/v1/score', { model: 'reranker', text_1: ['bees', QUERY], text_2: [DOCUMENTS[4], DOCUMENTS[0]] });
      const swapped = await scorer('bees', DOCUMENTS[4]);
      const scores = (pairwise.json.data as { score: number }[]).map((x) => x.score);
      t.ok(Math.abs(scores[0] - swapped.score) < TOLERANCE && Math.abs(scores[1] - expected[0].score) < TOLERANCE, 'pairwise text_1[i] × text_2[i]');
      const mismatch = await post(base, '/v1/score', { model: 'reranker', text_1: ['a', 'b'], text_2: ['c', 'd', 'e'] });
      t.equal(mismatch.status, 400);
      t.equal(mismatch.json.error?.param, 'text_1');
    });

    await t.test('concurrent requests share batches and get their own scores', async (t) => {
      const stats = served.rerank!.backend.model.batcher.stats;
      const before = { ...stats };
      const replies = await Promise.all(DOCUMENTS.map((d) => post(base, '/v1/rerank', { query: QUERY, documents: [d, DOCUMENTS[0]] })));
      replies.forEach((r, i) => {
        const scores = Object.fromEntries((r.json.results as { index: number; relevance_score: number }[]).map((x) => [x.index, x.relevance_score]));
        t.ok(Math.abs(scores[0] - expected[i].score) < TOLERANCE && Math.abs(scores[1] - expected[0].score) < TOLERANCE, `request ${i}: its own pairs' scores`);
      });
      t.equal(stats.rows - before.rows, 2 * DOCUMENTS.length, 'every pair ran once');
      t.ok(stats.batches - before.batches < DOCUMENTS.length, `${DOCUMENTS.length} requests ran in ${stats.batches - before.batches} batches`);
    });

    await t.test('bad input → 400 with the OpenAI error shape', async (t) => {
      const cases: [string, string, unknown, string][] = [
        ['empty documents', '/v1/rerank', { model: 'reranker', query: QUERY, documents: [] }, 'documents'],
        ['too many documents', '/v1/rerank', { model: 'reranker', query: QUERY, documents: new Array(MAX_RERANK_DOCUMENTS + 1).fill('x') }, 'documents'],
        ['no query', '/v1/rerank', { model: 'reranker', documents: DOCUMENTS }, 'query'],
        ['top_n 0', '/v1/rerank', { model: 'reranker', query: QUERY, documents: DOCUMENTS, top_n: 0 }, 'top_n'],
        ['rerank on an embedding model', '/v1/rerank', { model: 'embedder', query: QUERY, documents: DOCUMENTS }, 'model'],
        ['score on an embedding model', '/v1/score', { model: 'embedder', text_1: QUERY, text_2: DOCUMENTS }, 'model'],
        ['embeddings on the reranker', '/v1/embeddings', { model: 'reranker', input: 'hello' }, 'model'],
        ['a pair longer than the model', '/v1/rerank', { model: 'reranker', query: QUERY, documents: ['ok', 'word '.repeat(600)] }, 'documents'],
      ];
      for (const [what, route, body, param] of cases) {
        const r = await post(base, route, body);
        t.equal(r.status, 400, `${what}: 400`);
        t.equal(r.json.error?.type, 'invalid_request_error', `${what}: invalid_request_error`);
        t.equal(r.json.error?.param, param, `${what}: param ${param}`);
      }
      const unknown = await post(base, '/v1/rerank', { model: 'nope', query: QUERY, documents: DOCUMENTS });
      t.equal(unknown.status, 404, 'unknown model: 404');
    });
  });
}

t.test('rerank is admitted by its token cost: beyond the budget and queue, 429 + Retry-After at once', async (t) => {
  const tmp = await tempDir('serval-rerank-admission-');
  t.teardown(tmp.remove);
  const rerankDir = `${tmp.dir}/reranker`;
  await writeTestModel('bert-rerank', rerankDir);
  // A budget one request fills and no queue: concurrent requests beyond the first are refused.
  const served: RunningServer = await startServer({
    chat: null,
    embedding: null,
    rerank: { modelDir: rerankDir, servedName: 'reranker', batchWindowMs: 50, intraOpThreads: 1, spinning: false, maxTokensInFlight: 1, maxQueue: 0 },
    http: { host: '127.0.0.1', port: 0, transport: testTransport() },
  });
  t.teardown(() => served.close());
  const base = `http://127.0.0.1:${served.port}`;
  // The test takes the budget itself, so no request can finish and free it while the others arrive.
  const held = await served.rerank!.backend.model.admission.enter(1, new AbortController().signal);
  const replies = await Promise.all(
    Array.from({ length: 6 }, () =>
      fetch(`${base}/v1/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY, documents: DOCUMENTS }) }),
    ),
  );
  const refused = replies.filter((r) => r.status === 429);
  t.equal(refused.length, 6, `all refused while the budget is in use (${replies.map((r) => r.status).join(', ')})`);
  for (const r of refused) t.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After set');
  held.release();
  const after = await post(base, '/v1/rerank', { query: QUERY, documents: DOCUMENTS });
  t.equal(after.status, 200, 'once the budget is free, a request runs again');
});
