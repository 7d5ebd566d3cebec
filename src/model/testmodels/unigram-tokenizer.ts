// A SentencePiece-Unigram tokenizer.json in XLM-RoBERTa's layout, for the
// generated XLM-R models: <s> <pad> </s> <unk> at ids 0-3, <mask> last, the
// Metaspace (▁) pre-tokenizer and decoder, and the post-processor transformers'
// XLMRobertaConverter writes (`<s> $A </s>`, pair `<s> $A </s> </s> $B </s>`,
// every type id 0). The real normalizer is a Precompiled charsmap (NFKC-like
// from the SentencePiece model); NFKC stands in for it here.
// Pieces: whole words of the corpus by frequency (score −log rank, so common
// words win), common endings, and every printable character (score −20), so
// any ASCII text segments without <unk>.

import { ENCODER_EXTRA_WORDS, TRAINING_CORPUS } from './corpus.js';

type JsonObject = Record<string, unknown>;

export const XLMR_SPECIAL_TOKENS = ['<s>', '<pad>', '</s>', '<unk>'] as const;
export const XLMR_MASK_TOKEN = '<mask>';
const SPACE = '\u2581';

function addedToken(id: number, content: string): JsonObject {
  return { id, content, single_word: false, lstrip: content === XLMR_MASK_TOKEN, rstrip: false, normalized: false, special: true };
}

/** [piece, score] pairs, exactly `size` of them, specials included. */
export function buildUnigramVocab(size: number): [string, number][] {
  const vocab: [string, number][] = XLMR_SPECIAL_TOKENS.map((t) => [t, 0]);
  const seen = new Set<string>(XLMR_SPECIAL_TOKENS);
  const room = size - 1; // <mask> goes last
  const push = (piece: string, score: number): void => {
    if (vocab.length < room && !seen.has(piece)) {
      seen.add(piece);
      vocab.push([piece, score]);
    }
  };
  push(SPACE, -20);
  for (let c = 0x21; c <= 0x7e; c++) {
    push(String.fromCharCode(c), -20);
    push(SPACE + String.fromCharCode(c), -20);
  }
  const counts = new Map<string, number>();
  for (const w of (TRAINING_CORPUS + ENCODER_EXTRA_WORDS).match(/[A-Za-z]+|[0-9]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  const ranked = [...counts.entries()].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)).map(([w]) => w);
  ranked.slice(0, Math.floor((room - vocab.length) * 0.8)).forEach((w, rank) => push(SPACE + w, -Math.log(rank + 2)));
  const endings = new Map<string, number>();
  for (const [w, n] of counts) for (const len of [2, 3, 4]) if (w.length > len + 1) endings.set(w.slice(-len), (endings.get(w.slice(-len)) ?? 0) + n);
  [...endings.entries()].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)).forEach(([e], rank) => push(e, -8 - Math.log(rank + 2)));
  ranked.forEach((w, rank) => push(SPACE + w, -12 - Math.log(rank + 2)));
  if (vocab.length !== room) throw new Error(`could not build a Unigram vocabulary of ${size} pieces`);
  vocab.push([XLMR_MASK_TOKEN, 0]);
  return vocab;
}

export function buildUnigramTokenizerJson(vocabSize: number, maxLength: number): JsonObject {
  const vocab = buildUnigramVocab(vocabSize);
  const id = (token: string): number => vocab.findIndex(([p]) => p === token);
  const special = (token: string): JsonObject => ({ SpecialToken: { id: token, type_id: 0 } });
  const sequence = (name: 'A' | 'B'): JsonObject => ({ Sequence: { id: name, type_id: 0 } });
  const metaspace = { type: 'Metaspace', replacement: SPACE, prepend_scheme: 'always', split: true };
  return {
    version: '1.0',
    truncation: { direction: 'Right', max_length: maxLength, strategy: 'LongestFirst', stride: 0 },
    padding: null,
    added_tokens: [...XLMR_SPECIAL_TOKENS, XLMR_MASK_TOKEN].map((t) => addedToken(id(t), t)),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('<s>'), sequence('A'), special('</s>')],
      pair: [special('<s>'), sequence('A'), special('</s>'), special('</s>'), sequence('B'), special('</s>')],
      special_tokens: {
        '<s>': { id: '<s>', ids: [id('<s>')], tokens: ['<s>'] },
        '</s>': { id: '</s>', ids: [id('</s>')], tokens: ['</s>'] },
      },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: id('<unk>'), vocab, byte_fallback: false },
  };
}

export function buildUnigramTokenizerConfig(maxLength: number): JsonObject {
  const decoder: Record<string, JsonObject> = {};
  [...XLMR_SPECIAL_TOKENS].forEach((t, i) => {
    const { id: _id, ...rest } = addedToken(i, t);
    void _id;
    decoder[String(i)] = rest;
  });
  return {
    added_tokens_decoder: decoder,
    bos_token: '<s>',
    cls_token: '<s>',
    eos_token: '</s>',
    mask_token: XLMR_MASK_TOKEN,
    pad_token: '<pad>',
    sep_token: '</s>',
    unk_token: '<unk>',
    clean_up_tokenization_spaces: true,
    model_max_length: maxLength,
    tokenizer_class: 'XLMRobertaTokenizer',
  };
}
