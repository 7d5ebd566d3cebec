// Builds the tokenizer files of generated models in the Hugging Face
// `tokenizers` JSON format, so they load in the Rust binding, in the pure-JS
// port and in Python `transformers` alike.

import { trainByteLevelBpe, bytesToUnicode } from './bpe-trainer.js';
import { ENCODER_EXTRA_WORDS, TRAINING_CORPUS } from './corpus.js';
import { ENCODER_SPECIAL_TOKENS, GENERIC_TOKENS, firstMergeId, specialTokenId, type DecoderTokens } from './special-tokens.js';

type JsonObject = Record<string, unknown>;

function addedToken(id: number, content: string): JsonObject {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** Byte-level BPE tokenizer.json with exactly `vocabSize` ids (bytes, specials, merges). */
export function buildDecoderTokenizerJson(vocabSize: number, tokens: DecoderTokens = GENERIC_TOKENS): JsonObject {
  const firstMerge = firstMergeId(tokens);
  const numNewTokens = vocabSize - firstMerge;
  if (numNewTokens < 0) throw new Error(`vocab size ${vocabSize} is smaller than the ${firstMerge} byte and special tokens`);
  const byteChars = bytesToUnicode();
  const vocab: Record<string, number> = {};
  byteChars.forEach((ch, b) => (vocab[ch] = b));
  tokens.specials.forEach((tok) => (vocab[tok] = specialTokenId(tokens, tok)));
  const { merges, newTokens } = trainByteLevelBpe(TRAINING_CORPUS, numNewTokens, tokens.specials);
  newTokens.forEach((tok, i) => (vocab[tok] = firstMerge + i));
  if (Object.keys(vocab).length !== vocabSize) throw new Error(`internal: built ${Object.keys(vocab).length} tokens, wanted ${vocabSize}`);

  const bos = tokens.bos;
  const bosId = specialTokenId(tokens, bos);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: tokens.specials.map((tok) => addedToken(specialTokenId(tokens, tok), tok)),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: tokens.addBos
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: bos, type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: bos, type_id: 1 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
        }
      : null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

export function buildDecoderTokenizerConfig(modelMaxLength: number, tokens: DecoderTokens = GENERIC_TOKENS): JsonObject {
  const decoder: Record<string, JsonObject> = {};
  for (const tok of tokens.specials) {
    const { id, ...rest } = addedToken(specialTokenId(tokens, tok), tok);
    decoder[String(id)] = rest;
  }
  return {
    added_tokens_decoder: decoder,
    // The chat template starts with bos_token, so chat prompts must be encoded
    // without adding special tokens (as transformers' apply_chat_template does).
    add_bos_token: tokens.addBos,
    add_eos_token: false,
    bos_token: tokens.bos,
    eos_token: tokens.eos,
    pad_token: tokens.pad,
    unk_token: null,
    clean_up_tokenization_spaces: false,
    model_max_length: modelMaxLength,
    tokenizer_class: 'PreTrainedTokenizerFast',
    chat_template: tokens.chatTemplate,
  };
}

// ---------------------------------------------------------------- WordPiece

/** What BertNormalizer(lowercase) + BertPreTokenizer would produce for ASCII text. */
function bertWords(text: string): string[] {
  return text
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{Mn}/gu, '')
    .match(/[a-z0-9]+|[^\sa-z0-9]/g) ?? [];
}

/** Deterministic WordPiece vocabulary of exactly `size` entries. */
export function buildWordPieceVocab(size: number): string[] {
  const vocab: string[] = [...ENCODER_SPECIAL_TOKENS];
  const seen = new Set(vocab);
  const push = (tok: string): void => {
    if (vocab.length < size && !seen.has(tok)) {
      seen.add(tok);
      vocab.push(tok);
    }
  };
  // Every printable ASCII character except capitals (the normalizer lowercases), and
  // every letter/digit as a continuation, so any ASCII word can be spelled without [UNK].
  for (let c = 0x21; c <= 0x7e; c++) {
    const ch = String.fromCharCode(c);
    if (ch < 'A' || ch > 'Z') push(ch);
  }
  for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789') push('##' + ch);
  const counts = new Map<string, number>();
  for (const w of bertWords(TRAINING_CORPUS + ENCODER_EXTRA_WORDS)) {
    if (/^[a-z0-9]{2,}$/.test(w)) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  const byCount = (m: Map<string, number>): string[] =>
    [...m.entries()].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)).map(([w]) => w);
  const words = byCount(counts);
  // Common word endings become continuation pieces, so unseen words split into a stem and a suffix.
  const suffixCounts = new Map<string, number>();
  for (const [w, n] of counts) {
    for (const len of [2, 3, 4]) if (w.length > len + 1) suffixCounts.set('##' + w.slice(-len), (suffixCounts.get('##' + w.slice(-len)) ?? 0) + n);
  }
  const suffixes = byCount(suffixCounts);
  // Interleave: whole words first get most of the room, then suffixes fill the rest.
  const wordBudget = Math.floor((size - vocab.length) * 0.75);
  for (const w of words.slice(0, wordBudget)) push(w);
  for (const s of suffixes) push(s);
  for (const w of words) push(w);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (const a of letters) for (const b of letters) push('##' + a + b);
  if (vocab.length !== size) throw new Error(`could not build a WordPiece vocabulary of ${size} tokens`);
  return vocab;
}

export function buildEncoderTokenizerJson(vocabSize: number, maxLength: number): JsonObject {
  const vocabList = buildWordPieceVocab(vocabSize);
  const vocab: Record<string, number> = {};
  vocabList.forEach((tok, i) => (vocab[tok] = i));
  const cls = vocab['[CLS]'];
  const sep = vocab['[SEP]'];
  return {
    version: '1.0',
    truncation: { direction: 'Right', max_length: maxLength, strategy: 'LongestFirst', stride: 0 },
    padding: null,
    added_tokens: ENCODER_SPECIAL_TOKENS.map((tok) => addedToken(vocab[tok], tok)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [cls], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [sep], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

export function buildEncoderTokenizerConfig(maxLength: number): JsonObject {
  const decoder: Record<string, JsonObject> = {};
  ENCODER_SPECIAL_TOKENS.forEach((tok, id) => {
    const { id: _id, ...rest } = addedToken(id, tok);
    void _id;
    decoder[String(id)] = rest;
  });
  return {
    added_tokens_decoder: decoder,
    clean_up_tokenization_spaces: true,
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    mask_token: '[MASK]',
    do_lower_case: true,
    strip_accents: null,
    tokenize_chinese_chars: true,
    model_max_length: maxLength,
    tokenizer_class: 'BertTokenizer',
  };
}
