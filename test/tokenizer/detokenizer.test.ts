// Streaming detokenization must equal the library's full decode, token by token,
// for real text and for random id sequences (broken UTF-8, stray byte tokens,
// special tokens anywhere), and must never take back text it has emitted.

import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { createDetokenizer, WindowDetokenizer, type Detokenizer } from '../../src/tokenizer/detokenizer.js';
import { loadShared, randomText, seededRandom, skipUnlessShared } from './fixtures.js';

const TEXT_CASES = 1000;
const RANDOM_CASES = 1000;

interface StreamResult {
  text: string;
  /** Text emitted after each push, cumulative (for the no-retraction check). */
  prefixes: string[];
  flushed: string;
}

function stream(detok: Detokenizer, ids: number[]): StreamResult {
  let text = '';
  const prefixes: string[] = [];
  for (const id of ids) {
    text += detok.push(id);
    prefixes.push(text);
  }
  const flushed = detok.flush();
  return { text: text + flushed, prefixes, flushed };
}

interface Failure {
  ids: number[];
  skipSpecialTokens: boolean;
  streamed: string;
  decoded: string;
}

/**
 * Streams every id sequence with both skip settings; returns the sequences where
 * the stream differs from tokenizer.decode or an intermediate output is not a
 * prefix of the final text.
 */
async function checkSequences(
  tokenizer: TextTokenizer,
  sequences: number[][],
  make: (skip: boolean) => Detokenizer = (skip) => createDetokenizer(tokenizer, { skipSpecialTokens: skip }),
): Promise<{ failures: Failure[]; flushNonEmpty: number }> {
  const failures: Failure[] = [];
  let flushNonEmpty = 0;
  for (const ids of sequences) {
    for (const skipSpecialTokens of [true, false]) {
      const decoded = await tokenizer.decode(ids, { skipSpecialTokens });
      const result = stream(make(skipSpecialTokens), ids);
      if (result.flushed !== '') flushNonEmpty++;
      const retracted = result.prefixes.some((p) => !decoded.startsWith(p));
      if (result.text !== decoded || retracted) {
        failures.push({ ids, skipSpecialTokens, streamed: result.text, decoded });
      }
    }
  }
  return { failures, flushNonEmpty };
}

async function textSequences(tokenizer: TextTokenizer, seed: number): Promise<number[][]> {
  const rand = seededRandom(seed);
  const sequences: number[][] = [];
  for (let i = 0; i < TEXT_CASES; i++) {
    sequences.push(await tokenizer.encode(randomText(rand), { addSpecialTokens: i % 2 === 0 }));
  }
  return sequences;
}

/** Random ids, biased towards byte tokens and special tokens, which break UTF-8 most. */
function randomSequences(tokenizer: TextTokenizer, seed: number): number[][] {
  const rand = seededRandom(seed);
  const byteIds: number[] = [];
  const specialIds: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (tokenizer.byteValue(id) >= 0) byteIds.push(id);
    if (tokenizer.isSpecial(id)) specialIds.push(id);
  }
  const pick = (list: number[]): number => list[Math.floor(rand() * list.length)];
  const sequences: number[][] = [];
  for (let i = 0; i < RANDOM_CASES; i++) {
    const length = 1 + Math.floor(rand() * 24);
    const ids: number[] = [];
    for (let j = 0; j < length; j++) {
      const r = rand();
      if (r < 0.4 && byteIds.length > 0) ids.push(pick(byteIds));
      else if (r < 0.5 && specialIds.length > 0) ids.push(pick(specialIds));
      else ids.push(Math.floor(rand() * tokenizer.vocabSize));
    }
    sequences.push(ids);
  }
  return sequences;
}

function report(failures: Failure[]): Failure[] {
  return failures.slice(0, 3);
}

const SHARED_CASES: { name: string; dir: string; backend: 'rust' | 'js'; plan: string }[] = [
  { name: 'byte-level BPE (gpt2-fp16)', dir: 'onnx/ogenai-tiny-random-gpt2-fp16', backend: 'rust', plan: 'byte_level' },
  { name: 'SentencePiece phi-3-mini (Rust)', dir: 'tokenizers/phi-3-mini', backend: 'rust', plan: 'sentencepiece' },
  { name: 'SentencePiece llama2 (JS fallback)', dir: 'tokenizers/llama2', backend: 'js', plan: 'sentencepiece' },
];

for (const c of SHARED_CASES) {
  t.test(c.name, { skip: skipUnlessShared(`${c.dir}/tokenizer.json`) }, async (t) => {
    const tokenizer = await loadShared(c.dir);
    t.equal(tokenizer.backend, c.backend, 'expected backend');
    t.equal(tokenizer.decoderPlan.kind, c.plan, 'decoder replayed from byte tables');

    const text = await checkSequences(tokenizer, await textSequences(tokenizer, 1234));
    t.same(report(text.failures), [], `${TEXT_CASES} generated texts × 2: stream == decode`);
    if (c.plan === 'byte_level') {
      // Whole characters are emitted as soon as their last byte arrives.
      t.equal(text.flushNonEmpty, 0, 'nothing held back at the end of valid text');
    }

    const random = await checkSequences(tokenizer, randomSequences(tokenizer, 99));
    t.same(report(random.failures), [], `${RANDOM_CASES} random id sequences × 2: stream == decode, no retraction`);
  });
}

const byteRunSkip = skipUnlessShared('tokenizers/phi-3-mini/tokenizer.json', 'tokenizers/llama2/tokenizer.json');
t.test('SentencePiece byte runs: held until closed (Rust), emitted per character (JS)', { skip: byteRunSkip }, async (t) => {
  // 🤗 = F0 9F A4 97: four byte-fallback tokens in both vocabularies.
  for (const [dir, heldUntilClosed] of [
    ['tokenizers/phi-3-mini', true],
    ['tokenizers/llama2', false],
  ] as const) {
    const tokenizer = await loadShared(dir);
    const id = (token: string): number => {
      const found = tokenizer.tokenToId(token);
      if (found === null) throw new Error(`${token} missing from ${dir}`);
      return found;
    };
    const detok = createDetokenizer(tokenizer, { skipSpecialTokens: true });
    const outputs = [
      detok.push(id('▁Hi')),
      detok.push(id('▁')),
      ...['<0xF0>', '<0x9F>', '<0xA4>', '<0x97>'].map((b) => detok.push(id(b))),
      detok.push(id('▁ok')),
      detok.flush(),
    ];
    // The first token's leading space is stripped, like the Strip decoder does.
    if (heldUntilClosed) t.same(outputs, ['Hi', ' ', '', '', '', '', '🤗 ok', ''], `${dir}: run emitted when closed`);
    else t.same(outputs, ['Hi', ' ', '', '', '', '🤗', ' ok', ''], `${dir}: emoji emitted on its last byte`);

    // An invalid byte after a valid character: Rust turns the whole run into U+FFFD.
    const bad = createDetokenizer(tokenizer, { skipSpecialTokens: true });
    const text = ['<0xE2>', '<0x82>', '<0xAC>', '<0xFF>'].map((b) => bad.push(id(b))).join('') + bad.flush();
    t.equal(text, heldUntilClosed ? '\uFFFD'.repeat(4) : '€\uFFFD', `${dir}: invalid run`);
  }
});

const windowSkip = skipUnlessShared('tokenizers/bert-base-uncased/tokenizer.json', 'tokenizers/phi-3-mini/tokenizer.json');
t.test('window (vLLM-style) detokenizer: generic decoders on real text', { skip: windowSkip }, async (t) => {
  const bert = await loadShared('tokenizers/bert-base-uncased');
  t.equal(bert.decoderPlan.kind, 'generic', 'WordPiece is decoded through the library');
  const bertResult = await checkSequences(bert, (await textSequences(bert, 7)).slice(0, 300));
  t.same(report(bertResult.failures), [], 'bert: stream == decode on 300 texts');

  // The same method on a SentencePiece vocabulary, as a cross-check of the fast path.
  const phi = await loadShared('tokenizers/phi-3-mini');
  const phiResult = await checkSequences(
    phi,
    (await textSequences(phi, 8)).slice(0, 300),
    (skip) => new WindowDetokenizer(phi, { skipSpecialTokens: skip }),
  );
  t.same(report(phiResult.failures), [], 'phi-3 window method: stream == decode on 300 texts');
});

const generator = new URL('../../src/model/testmodels/write-model.js', import.meta.url);
t.test(
  'built-in test model tokenizer (byte-level BPE)',
  { skip: existsSync(generator) ? false : 'src/model/testmodels not built yet' },
  async (t) => {
  // Imported lazily: the generator belongs to src/model and may not be built yet.
  const mod = (await import(generator.href)) as { writeTestModel?: (name: string, dir: string) => Promise<unknown> };
  if (typeof mod.writeTestModel !== 'function') throw new Error('src/model/testmodels/write-model does not export writeTestModel');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'serval-detok-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mod.writeTestModel('tiny', dir);
  const tokenizerConfig = JSON.parse(await readFile(path.join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath: path.join(dir, 'tokenizer.json'), tokenizerConfig });
  t.equal(tokenizer.backend, 'rust');
  t.equal(tokenizer.vocabType, 'byte_level');
  t.equal(tokenizer.decoderPlan.kind, 'byte_level');
  const text = await checkSequences(tokenizer, await textSequences(tokenizer, 4321));
  t.same(report(text.failures), [], 'generated texts: stream == decode');
  const random = await checkSequences(tokenizer, randomSequences(tokenizer, 77));
  t.same(report(random.failures), [], 'random ids: stream == decode, no retraction');
  },
);
