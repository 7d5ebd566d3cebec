// Pair encoding for cross-encoders: the post-processor's pair template
// ([CLS] a [SEP] b [SEP] with segment ids 0/1 for BERT, <s> a </s></s> b </s>
// all 0 for XLM-R), the same through the Rust binding and the JS library
// (which returns no segment ids: Serval rebuilds them from the template).

import t from 'tap';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { pairTypeIds } from '../../src/tokenizer/tokenizer-json.js';
import { tempDir } from '../embeddings/helpers.js';

const PAIRS: [string, string][] = [
  ['what do bees make?', 'In the spring the honey was pale and sweet.'],
  ['x', 'The quick brown fox jumps over the lazy dog, twice.'],
];

for (const preset of ['bert-rerank', 'xlmr-rerank'] as const) {
  t.test(`${preset}: pair template, Rust = JS`, async (t) => {
    const tmp = await tempDir(`serval-pair-${preset}-`);
    t.teardown(tmp.remove);
    await writeTestModel(preset, tmp.dir);
    const files = { tokenizerJsonPath: `${tmp.dir}/tokenizer.json` };
    const rust = await TextTokenizer.fromFiles({ ...files, backend: 'rust' });
    const js = await TextTokenizer.fromFiles({ ...files, backend: 'js' });
    for (const [a, b] of PAIRS) {
      const pair = await rust.encodePair(a, b);
      const first = await rust.encode(a, { addSpecialTokens: false });
      const second = await rust.encode(b, { addSpecialTokens: false });
      const [open, sep] = preset === 'bert-rerank' ? [[2], [3]] : [[0], [2]];
      const between = preset === 'bert-rerank' ? sep : [...sep, ...sep];
      t.same(pair.ids, [...open, ...first, ...between, ...second, ...sep], `"${a}": the ${preset === 'bert-rerank' ? 'BERT' : 'XLM-R'} pair template`);
      const expectedTypes = preset === 'bert-rerank' ? pair.ids.map((_, i) => (i < first.length + 2 ? 0 : 1)) : pair.ids.map(() => 0);
      t.same(pair.typeIds, expectedTypes, 'segment ids');
      t.same(await js.encodePair(a, b), pair, 'the JS library gives the same ids and segment ids');
    }
  });
}

t.test('segment ids of the other post-processors', async (t) => {
  t.same(pairTypeIds({ type: 'BertProcessing' }, 2, 1), [0, 0, 0, 0, 1, 1]);
  t.same(pairTypeIds({ type: 'RobertaProcessing' }, 1, 1), [0, 0, 0, 0, 0, 0]);
  t.equal(pairTypeIds({ type: 'ByteLevel' }, 1, 1), null, 'unknown processors are not guessed');
});
