// Each model kind is refused, at load, by the route family it does not serve:
// a cross-encoder as --embedding-model, an embedding model as --rerank-model.

import '../support/thread-loaders.js';
import t from 'tap';
import { loadEmbeddingModel } from '../../src/front/embeddings/load-embedding-model.js';
import { loadRerankModel } from '../../src/front/rerank/load-rerank-model.js';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { tempDir } from '../embeddings/helpers.js';

t.test('wrong model kind fails at load with a message naming the right flag', async (t) => {
  const tmp = await tempDir('serval-rerank-load-');
  t.teardown(tmp.remove);
  const reranker = `${tmp.dir}/reranker`;
  const embedder = `${tmp.dir}/embedder`;
  await writeTestModel('bert-rerank', reranker);
  await writeTestModel('encoder', embedder);
  const options = { intraOpThreads: 1, spinning: false };
  await t.rejects(loadEmbeddingModel({ modelDir: reranker, ...options }), /BertForSequenceClassification is a cross-encoder.*--rerank-model/);
  await t.rejects(loadRerankModel({ modelDir: embedder, ...options }), /BertModel has no classification head.*--embedding-model/);
});
