// Decoder-based embeddings (the Qwen3-Embedding preset: a causal Qwen3 body,
// last-token pooling, Normalize, <|endoftext|> appended by the tokenizer)
// against the float64 reference decoder's final hidden states, on batches of
// mixed lengths (right-padded: the last *real* token is pooled, not the last
// column) and end to end through the real server with the openai client.

import t from 'tap';
import ort from 'onnxruntime-node';
import { loadDecoderEmbeddingFolder } from '../../src/model/decoder-embedding-folder.js';
import { buildDecoderGraph } from '../../src/model/graph/decoder-graph.js';
import { l2Normalize } from '../../src/model/reference/bert-reference.js';
import { ReferenceDecoder } from '../../src/model/reference/llama-reference.js';
import { QWEN3_EMBED, QWEN3_EMBED_QUERY_PROMPT } from '../../src/model/testmodels/encoder-presets.js';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { DecoderEmbeddingRunner } from '../../src/worker/encoder/decoder-embedding-runner.js';
import { maxAbsDiff, startEmbeddingServer, tempDir } from './helpers.js';

const TOLERANCE = 1e-5;
const EOT = 256; // <|endoftext|> in the generated vocabulary

t.test('Qwen3-Embedding: graph, reference and server agree', async (t) => {
  const tmp = await tempDir('serval-qwen3-embed-');
  t.teardown(tmp.remove);
  await writeTestModel('qwen3-embed', tmp.dir);
  const folder = await loadDecoderEmbeddingFolder(tmp.dir);
  t.equal(folder.weights.has('lm_head.weight'), false, 'a base-model checkpoint: no lm_head');
  t.same(folder.sentence, QWEN3_EMBED.sentence, 'last-token pooling and Normalize from the sentence-transformers files');
  const reference = new ReferenceDecoder(folder.config, folder.weights);
  const expected = (ids: number[]): Float32Array => l2Normalize(reference.hiddenStates(reference.newState(), ids).at(-1)!);
  const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath: folder.tokenizerJsonPath, tokenizerConfig: folder.tokenizerConfig });

  await t.test('in-graph last-token pooling on a right-padded batch', async (t) => {
    const graph = buildDecoderGraph(folder.config, folder.weights, { output: 'hidden', maxPositions: 64 });
    const runner = new DecoderEmbeddingRunner(await ort.InferenceSession.create(graph, { intraOpNumThreads: 1 }), folder.config, true);
    const rows = [
      [17, 300, 45, EOT],
      [900, 12, 13, 14, 15, 16, 400, 401, 402, EOT],
      [EOT],
      [77, 78, EOT],
    ];
    const offsets = Int32Array.from([0, ...rows.map((_, i) => rows.slice(0, i + 1).flat().length)]);
    const result = await runner.run({ ids: Int32Array.from(rows.flat()), offsets });
    const H = folder.config.hiddenSize;
    t.equal(result.dimensions, H);
    rows.forEach((ids, b) => {
      const d = maxAbsDiff(result.embeddings.subarray(b * H, (b + 1) * H), expected(ids));
      t.ok(d < TOLERANCE, `row ${b} (${ids.length} tokens, padded to 10): max |Δ| = ${d.toExponential(2)}`);
    });
    // Pooling the padded row's last column would be wrong: it is another vector.
    const padded = [...rows[0], 0, 0];
    t.ok(maxAbsDiff(expected(padded), expected(rows[0])) > 1e-3, 'the last padding column differs from the last real token (the check can fail)');
  });

  await t.test('served on /v1/embeddings (openai client)', async (t) => {
    const srv = await startEmbeddingServer(tmp.dir, { servedName: 'qwen3-embed-test' });
    t.teardown(srv.close);
    t.equal(srv.model.info.source, 'built-decoder-graph');
    const query = `${QWEN3_EMBED_QUERY_PROMPT}What do bees make?`;
    const input = [query, 'The bees made a pale and sweet honey in the spring.', 'dog'];
    const r = await srv.client.embeddings.create({ model: 'qwen3-embed-test', input, encoding_format: 'float' });
    let tokens = 0;
    for (let i = 0; i < input.length; i++) {
      const ids = await tokenizer.encode(input[i], { addSpecialTokens: true });
      t.equal(ids.at(-1), EOT, `input ${i}: the tokenizer appends <|endoftext|>`);
      tokens += ids.length;
      const d = maxAbsDiff(r.data[i].embedding, expected(ids));
      t.ok(d < TOLERANCE, `input ${i} vs reference: ${d.toExponential(2)}`);
    }
    t.equal(r.usage.prompt_tokens, tokens);
  });
});
