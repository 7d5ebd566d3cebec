// llama.cpp's own tokenizer test vectors (test-tokenizer-0: `.inp` strings and
// the ids llama.cpp produces for them, without BOS) run through the tokenizer
// Serval rebuilds from a GGUF file's metadata, with both libraries; and the
// generated models' tokenizer written to GGUF metadata and read back.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { gguf, GGUFValueType, serializeGgufMetadata } from '@huggingface/gguf';
import { ggufTokenizerMetadata } from '../../src/model/testmodels/gguf-tokenizer-metadata.js';
import { decoderSpecialId } from '../../src/model/testmodels/special-tokens.js';
import { buildDecoderTokenizerConfig, buildDecoderTokenizerJson } from '../../src/model/testmodels/tokenizer-files.js';
import { tokenizerFromGguf } from '../../src/tokenizer/gguf/gguf-tokenizer.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { modelsDir, randomText, seededRandom, skipUnlessShared } from './fixtures.js';

const SEPARATOR = '\n__ggml_vocab_test__\n';

function vectors(file: string): { text: string; ids: number[] }[] {
  const inputs = readFileSync(file + '.inp', 'utf8').split(SEPARATOR);
  const outputs = readFileSync(file + '.out', 'utf8').split('\n');
  // The .inp file ends with a separator, so its last piece is empty, as is .out's last line.
  return inputs.slice(0, -1).map((text, i) => ({
    text,
    ids: outputs[i].trim() === '' ? [] : outputs[i].trim().split(/\s+/).map(Number),
  }));
}

async function metadataOf(file: string): Promise<Record<string, unknown>> {
  const { metadata } = await gguf(file, { allowLocalFile: true });
  return metadata as Record<string, unknown>;
}

for (const name of ['ggml-vocab-llama-spm.gguf', 'ggml-vocab-gpt-2.gguf']) {
  const rel = path.join('gguf', 'llamacpp-vocab', name);
  t.test(`${name}: llama.cpp's vectors tokenize identically`, { skip: skipUnlessShared(rel, rel + '.inp') }, async (t) => {
    const file = path.join(modelsDir, rel);
    const cases = vectors(file);
    t.ok(cases.length >= 40, `${cases.length} vectors read`);
    const built = tokenizerFromGguf(await metadataOf(file));
    for (const backend of ['rust', 'js'] as const) {
      const tokenizer = await TextTokenizer.fromFiles({
        tokenizerJsonPath: file,
        tokenizerJsonText: built.tokenizerJson,
        tokenizerConfig: built.tokenizerConfig,
        backend,
      });
      let same = 0;
      const differing: string[] = [];
      for (const { text, ids } of cases) {
        const got = await tokenizer.encode(text, { addSpecialTokens: false });
        if (JSON.stringify(got) === JSON.stringify(ids)) same++;
        else differing.push(`${JSON.stringify(text).slice(0, 60)}: got ${got.slice(0, 12).join(' ')} want ${ids.slice(0, 12).join(' ')}`);
      }
      t.same(differing, [], `${backend}: ${same}/${cases.length} identical`);
      // The vectors are all text llama.cpp detokenizes back to itself.
      for (const { text, ids } of cases) {
        t.equal(await tokenizer.decode(ids, { skipSpecialTokens: false }), text, `${backend} decodes ${JSON.stringify(text).slice(0, 40)}`);
      }
    }
  });
}

t.test('ggml-vocab-llama-spm.gguf: special tokens and BOS', { skip: skipUnlessShared('gguf/llamacpp-vocab/ggml-vocab-llama-spm.gguf') }, async (t) => {
  const file = path.join(modelsDir, 'gguf', 'llamacpp-vocab', 'ggml-vocab-llama-spm.gguf');
  const built = tokenizerFromGguf(await metadataOf(file));
  const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath: file, tokenizerJsonText: built.tokenizerJson, tokenizerConfig: built.tokenizerConfig });
  t.equal(tokenizer.bosTokenId, 1);
  t.equal(tokenizer.eosTokenId, 2);
  t.equal(tokenizer.unkTokenId, 0);
  t.equal(tokenizer.vocabType, 'byte_fallback');
  t.equal(tokenizer.decoderPlan.kind, 'sentencepiece', 'the streaming detokenizer replays it token by token');
  t.same(await tokenizer.encode('Hello world', { addSpecialTokens: true }), [1, 15043, 3186], 'add_bos_token adds <s>');
  t.ok(tokenizer.isSpecial(1) && tokenizer.isSpecial(2), 'control tokens are special');
  t.same(built.stopTokenIds, [2]);
});

t.test('unsupported vocabularies are refused by name', async (t) => {
  t.throws(() => tokenizerFromGguf({}), /no tokenizer\.ggml\.model/);
  t.throws(() => tokenizerFromGguf({ 'tokenizer.ggml.model': 't5', 'tokenizer.ggml.tokens': ['a'] }), /"t5" is not supported/);
  t.throws(
    () => tokenizerFromGguf({ 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.pre': 'mystery', 'tokenizer.ggml.tokens': ['a'], 'tokenizer.ggml.merges': [] }),
    /pre-tokenizer "mystery" is not supported/,
  );
  t.throws(() => tokenizerFromGguf({ 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': ['a', 'b'] }), /scores is missing/);
  t.throws(
    () => tokenizerFromGguf({ 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': ['a', 'b'], 'tokenizer.ggml.scores': [0] }),
    /scores must be a list of 2 numbers/,
  );
});

t.test("a generated model's tokenizer survives the trip through GGUF metadata", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'serval-gguf-vocab-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const jsonPath = path.join(dir, 'tokenizer.json');
  writeFileSync(jsonPath, JSON.stringify(buildDecoderTokenizerJson(1024)));
  const config = buildDecoderTokenizerConfig(512);
  const eot = decoderSpecialId('<|im_end|>');
  const entries = ggufTokenizerMetadata(jsonPath, config, { eotTokenId: eot });
  const header = serializeGgufMetadata({
    version: { value: 3, type: GGUFValueType.UINT32 },
    tensor_count: { value: 0n, type: GGUFValueType.UINT64 },
    kv_count: { value: BigInt(Object.keys(entries).length), type: GGUFValueType.UINT64 },
    ...entries,
  });
  const file = path.join(dir, 'vocab.gguf');
  writeFileSync(file, header);

  const built = tokenizerFromGguf(await metadataOf(file));
  const original = await TextTokenizer.fromFiles({ tokenizerJsonPath: jsonPath, tokenizerConfig: config });
  const rebuilt = await TextTokenizer.fromFiles({ tokenizerJsonPath: file, tokenizerJsonText: built.tokenizerJson, tokenizerConfig: built.tokenizerConfig });
  t.equal(rebuilt.vocabSize, original.vocabSize);
  t.equal(rebuilt.bosTokenId, original.bosTokenId);
  t.equal(rebuilt.eosTokenId, original.eosTokenId);
  t.equal(rebuilt.padTokenId, original.padTokenId);
  t.equal(rebuilt.addBosToken, original.addBosToken);
  t.equal(rebuilt.vocabType, 'byte_level');
  t.equal(built.chatTemplate, config.chat_template, 'chat template carried');
  t.same(built.stopTokenIds, [original.eosTokenId, eot], 'eos and end of turn stop generation');
  for (let id = 0; id < original.vocabSize; id++) {
    if (rebuilt.idToToken(id) !== original.idToToken(id) || rebuilt.isSpecial(id) !== original.isSpecial(id)) {
      t.fail(`token ${id} differs`);
      break;
    }
  }
  const rand = seededRandom(7);
  let compared = 0;
  for (let i = 0; i < 200; i++) {
    const text = randomText(rand) + (i % 5 === 0 ? '<|im_start|>user\nhi<|im_end|>' : '');
    const want = await original.encode(text, { addSpecialTokens: true });
    const got = await rebuilt.encode(text, { addSpecialTokens: true });
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.same(got, want, `encodes ${JSON.stringify(text).slice(0, 60)}`);
      break;
    }
    compared++;
  }
  t.equal(compared, 200, '200 random texts (specials included) encode identically');
});
