// A GGUF file carries its tokenizer as metadata (`tokenizer.ggml.*`) instead
// of a tokenizer.json. This rebuilds the tokenizer.json the model's own Hub
// repository would have, so the same libraries (Rust `tokenizers`, or
// `@huggingface/tokenizers`) tokenize it and no separate file is needed.
// Two vocabularies are supported, the ones llama.cpp calls SPM (`llama`:
// SentencePiece BPE with byte fallback) and BPE (`gpt2`: byte-level BPE).

import { TokenizerLoadError } from '../tokenizer.js';
import { byteLevelPreTokenizer, SUPPORTED_PRE_TOKENIZERS } from './pre-tokenizers.js';
import { mergesFromScores } from './spm-merges.js';

type JsonObject = Record<string, unknown>;

export interface GgufTokenizer {
  /** tokenizer.json text for `TextTokenizer.fromFiles({ tokenizerJsonText })`. */
  tokenizerJson: string;
  /** What tokenizer_config.json would say: special tokens, add_bos/eos, chat template. */
  tokenizerConfig: JsonObject;
  chatTemplate: string | null;
  /** EOS plus end-of-turn / end-of-message tokens: where generation stops. */
  stopTokenIds: number[];
}

/** llama.cpp's token types (`tokenizer.ggml.token_type`). */
const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

const SOURCE = 'GGUF metadata';

function fail(problem: string): never {
  throw new TokenizerLoadError(SOURCE, problem);
}

function stringArray(metadata: JsonObject, key: string): string[] {
  const value = metadata[key];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) fail(`${key} is missing or not a list of strings`);
  return value as string[];
}

function numberArray(metadata: JsonObject, key: string, length: number): number[] | null {
  const value = metadata[key];
  if (value === undefined) return null;
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'number')) {
    fail(`${key} must be a list of ${length} numbers`);
  }
  return value as number[];
}

function optionalId(metadata: JsonObject, key: string, vocabSize: number): number | null {
  const value = metadata[key];
  if (value === undefined) return null;
  if (typeof value !== 'number' || !Number.isInteger(value)) fail(`${key} is not an integer`);
  // Some converters write -1 or an out-of-range id for "none".
  return value >= 0 && value < vocabSize ? value : null;
}

function optionalBool(metadata: JsonObject, key: string): boolean | null {
  const value = metadata[key];
  return typeof value === 'boolean' ? value : null;
}

function addedToken(id: number, content: string, special: boolean, normalized: boolean): JsonObject {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized, special };
}

function templateProcessing(bos: string | null, eos: string | null, ids: Map<string, number>): JsonObject | null {
  if (bos === null && eos === null) return null;
  const single: JsonObject[] = [];
  const specialTokens: JsonObject = {};
  if (bos !== null) {
    single.push({ SpecialToken: { id: bos, type_id: 0 } });
    specialTokens[bos] = { id: bos, ids: [ids.get(bos)], tokens: [bos] };
  }
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (eos !== null) {
    single.push({ SpecialToken: { id: eos, type_id: 0 } });
    specialTokens[eos] = { id: eos, ids: [ids.get(eos)], tokens: [eos] };
  }
  const pair = [...single, ...single.map((piece) => ('Sequence' in piece ? { Sequence: { id: 'B', type_id: 1 } } : piece))];
  return { type: 'TemplateProcessing', single, pair, special_tokens: specialTokens };
}

/** The tokenizer.json and tokenizer_config.json equivalent of a GGUF file's `tokenizer.*` metadata. */
export function tokenizerFromGguf(metadata: JsonObject): GgufTokenizer {
  const model = metadata['tokenizer.ggml.model'];
  if (model !== 'llama' && model !== 'gpt2') {
    fail(
      model === undefined
        ? 'no tokenizer.ggml.model: the file has no vocabulary'
        : `vocabulary type ${JSON.stringify(model)} is not supported (supported: "llama" SentencePiece, "gpt2" byte-level BPE)`,
    );
  }
  const tokens = stringArray(metadata, 'tokenizer.ggml.tokens');
  const types = numberArray(metadata, 'tokenizer.ggml.token_type', tokens.length);
  const typeOf = (id: number): number => types?.[id] ?? TokenType.normal;

  const vocab: Record<string, number> = {};
  const ids = new Map<string, number>();
  const added: JsonObject[] = [];
  tokens.forEach((token, id) => {
    // A duplicate string keeps its first id, as a tokenizer.json vocabulary must.
    if (!ids.has(token)) {
      ids.set(token, id);
      vocab[token] = id;
    }
    const type = typeOf(id);
    if (type === TokenType.control || type === TokenType.unknown) added.push(addedToken(id, token, true, false));
    else if (type === TokenType.userDefined) added.push(addedToken(id, token, false, model === 'llama'));
  });

  const nameOf = (id: number | null): string | null => (id === null ? null : tokens[id]);
  const bosId = optionalId(metadata, 'tokenizer.ggml.bos_token_id', tokens.length);
  const eosId = optionalId(metadata, 'tokenizer.ggml.eos_token_id', tokens.length);
  const unkId = optionalId(metadata, 'tokenizer.ggml.unknown_token_id', tokens.length);
  const padId = optionalId(metadata, 'tokenizer.ggml.padding_token_id', tokens.length);
  // llama.cpp's defaults: SentencePiece vocabularies add BOS, byte-level BPE ones do not.
  const addBos = (optionalBool(metadata, 'tokenizer.ggml.add_bos_token') ?? model === 'llama') && bosId !== null;
  const addEos = (optionalBool(metadata, 'tokenizer.ggml.add_eos_token') ?? false) && eosId !== null;

  let json: JsonObject;
  if (model === 'llama') {
    const scores = numberArray(metadata, 'tokenizer.ggml.scores', tokens.length) ?? fail('tokenizer.ggml.scores is missing');
    const addSpacePrefix = optionalBool(metadata, 'tokenizer.ggml.add_space_prefix') ?? true;
    const replaceSpaces = { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' };
    const replaceBack = { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' };
    json = {
      normalizer: addSpacePrefix
        ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, replaceSpaces] }
        : replaceSpaces,
      pre_tokenizer: null,
      decoder: {
        type: 'Sequence',
        decoders: [
          replaceBack,
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
        ],
      },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: nameOf(unkId),
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: true,
        ignore_merges: false,
        vocab,
        merges: mergesFromScores(tokens, scores),
      },
    };
  } else {
    const pre = metadata['tokenizer.ggml.pre'];
    const preTokenizer = byteLevelPreTokenizer(typeof pre === 'string' ? pre : null);
    if (preTokenizer === null) {
      fail(`pre-tokenizer ${JSON.stringify(pre)} is not supported (supported: ${SUPPORTED_PRE_TOKENIZERS.join(', ')})`);
    }
    const merges = stringArray(metadata, 'tokenizer.ggml.merges').map((merge) => {
      const space = merge.indexOf(' ');
      if (space <= 0) fail(`merge ${JSON.stringify(merge)} is not "left right"`);
      return [merge.slice(0, space), merge.slice(space + 1)];
    });
    json = {
      normalizer: null,
      pre_tokenizer: preTokenizer,
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

  const bos = nameOf(bosId);
  const eos = nameOf(eosId);
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    ...json,
    post_processor: templateProcessing(addBos ? bos : null, addEos ? eos : null, ids),
  };

  const chatTemplate = typeof metadata['tokenizer.chat_template'] === 'string' ? (metadata['tokenizer.chat_template'] as string) : null;
  const tokenizerConfig: JsonObject = {
    bos_token: bos,
    eos_token: eos,
    unk_token: nameOf(unkId),
    pad_token: nameOf(padId),
    add_bos_token: addBos,
    add_eos_token: addEos,
    clean_up_tokenization_spaces: false,
    chat_template: chatTemplate,
  };
  const stopTokenIds = [eosId, optionalId(metadata, 'tokenizer.ggml.eot_token_id', tokens.length), optionalId(metadata, 'tokenizer.ggml.eom_token_id', tokens.length)]
    .filter((id): id is number => id !== null)
    .filter((id, i, all) => all.indexOf(id) === i);
  return { tokenizerJson: JSON.stringify(tokenizerJson), tokenizerConfig, chatTemplate, stopTokenIds };
}
