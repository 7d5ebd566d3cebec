// Text ⇄ token ids for one model, from its tokenizer.json (+ tokenizer_config.json).
//
// Two libraries read tokenizer.json: the Rust binding `tokenizers` (fast, async,
// runs off the event loop) and the pure-JS `@huggingface/tokenizers` (sync, slower,
// but accepts files the binding rejects, e.g. Llama 2's legacy merges). We load
// with Rust and fall back to JS, and record which one we got.
//
// Besides encode/decode this class precomputes per-id tables (token string, bytes,
// special flag) so the streaming detokenizer can work synchronously and cheaply.

import { readFile } from 'node:fs/promises';
import rustTokenizers from 'tokenizers';
import { Tokenizer as JsTokenizer } from '@huggingface/tokenizers';
import { byteLevelTokenBytes } from './byte-level.js';
import { decodeUtf8Strict } from './utf8-stream.js';
import { detectVocabType, modelTypeOf, pairTypeIds, planDecoder, postProcessorBos, specialTokenName, type DecoderPlan, type TokenizerJson, type VocabType } from './tokenizer-json.js';

export type TokenizerBackend = 'rust' | 'js';

export class TokenizerLoadError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`cannot load tokenizer ${file}: ${problem}`);
    this.name = 'TokenizerLoadError';
  }
}

export interface TokenizerFiles {
  /** The tokenizer.json to read; with `tokenizerJsonText` it only names the source in messages. */
  tokenizerJsonPath: string;
  /** The tokenizer.json contents, when they do not come from a file (e.g. built from GGUF metadata). */
  tokenizerJsonText?: string;
  /** Parsed tokenizer_config.json, if the model has one. */
  tokenizerConfig?: Record<string, unknown> | null;
  /** Force one library (tests, debugging); default: Rust, JS when Rust rejects the file. */
  backend?: TokenizerBackend | 'auto';
}

export interface EncodeOptions {
  addSpecialTokens: boolean;
}

/** A text pair through the post-processor's pair template (cross-encoders): ids and segment ids. */
export interface EncodedPair {
  ids: number[];
  typeIds: number[];
}

export interface DecodeOptions {
  skipSpecialTokens: boolean;
}

/** What the two libraries have in common, behind one face. */
interface Backend {
  readonly kind: TokenizerBackend;
  encode(text: string, addSpecialTokens: boolean): Promise<number[]>;
  encodePair(first: string, second: string): Promise<EncodedPair>;
  /** Library decode of already-filtered ids (async for Rust: runs off the event loop). */
  decode(ids: number[], skipSpecialTokens: boolean): Promise<string>;
  /** The tokenizer.json decoder applied to token strings, synchronously. */
  decodeTokens(tokens: string[]): string;
  vocab(): Map<string, number>;
}

const encoder = new TextEncoder();
const JS_MODEL_TYPES = new Set(['BPE', 'WordPiece', 'Unigram']);
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

export class TextTokenizer {
  readonly backend: TokenizerBackend;
  /** Why the Rust binding was not used (null when it was). Worth logging. */
  readonly fallbackReason: string | null;
  readonly vocabType: VocabType;
  readonly decoderPlan: DecoderPlan;
  /** Number of ids (highest id + 1), added tokens included. */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;
  /** Whether `encode(text, { addSpecialTokens: true })` starts with BOS. */
  readonly addBosToken: boolean;
  readonly path: string;

  private readonly impl: Backend;
  private readonly tokens: (string | null)[];
  private readonly ids: Map<string, number>;
  private readonly special: Uint8Array;
  private readonly postProcessorAddsBos: boolean;
  private byteTable: Uint8Array[] | null = null;
  private byteValues: Int16Array | null = null;
  private texts: (string | null)[] | null = null;

  private constructor(
    path: string,
    impl: Backend,
    fallbackReason: string | null,
    json: TokenizerJson,
    config: Record<string, unknown> | null,
  ) {
    this.path = path;
    this.impl = impl;
    this.backend = impl.kind;
    this.fallbackReason = fallbackReason;

    this.ids = impl.vocab();
    let maxId = -1;
    for (const id of this.ids.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.tokens = new Array<string | null>(this.vocabSize).fill(null);
    for (const [token, id] of this.ids) this.tokens[id] = token;

    this.special = new Uint8Array(this.vocabSize);
    for (const added of json.added_tokens ?? []) {
      if (added.special && added.id < this.vocabSize) this.special[added.id] = 1;
    }

    this.vocabType = detectVocabType(json);
    this.decoderPlan = planDecoder(json.decoder, impl.kind === 'rust' ? 'strict' : 'lossy');

    const configToken = (key: string): number | null => {
      const name = specialTokenName(config?.[key]);
      return name === null ? null : (this.ids.get(name) ?? null);
    };
    const firstKnown = (names: string[]): number | null => {
      for (const name of names) {
        const id = this.ids.get(name);
        if (id !== undefined) return id;
      }
      return null;
    };
    const processorBos = postProcessorBos(json.post_processor, this.ids);
    const modelUnk = typeof json.model?.unk_token === 'string' ? json.model.unk_token : null;
    // tokenizer_config.json decides when it names the token (null included);
    // otherwise guess from the post-processor and the usual spellings.
    const inConfig = (key: string): boolean => config !== null && key in config;
    this.bosTokenId = inConfig('bos_token')
      ? configToken('bos_token')
      : (processorBos ?? firstKnown(['<s>', '<bos>', '<|begin_of_text|>']));
    this.eosTokenId = inConfig('eos_token')
      ? configToken('eos_token')
      : firstKnown(['</s>', '<eos>', '<|end_of_text|>', '<|endoftext|>']);
    this.padTokenId = inConfig('pad_token') ? configToken('pad_token') : null;
    this.unkTokenId = configToken('unk_token') ?? (modelUnk === null ? null : (this.ids.get(modelUnk) ?? null));

    this.postProcessorAddsBos = processorBos !== null && processorBos === this.bosTokenId;
    const configAddBos = config?.add_bos_token;
    this.addBosToken = typeof configAddBos === 'boolean' ? configAddBos && this.bosTokenId !== null : this.postProcessorAddsBos;

    // Build the per-id byte/text tables now (tens of ms for a 150k vocabulary)
    // rather than on the first streamed token of the first request.
    this.tokenText(0);
  }

  static async fromFiles(files: TokenizerFiles): Promise<TextTokenizer> {
    const path = files.tokenizerJsonPath;
    let text: string;
    try {
      text = files.tokenizerJsonText ?? (await readFile(path, 'utf8'));
    } catch (err) {
      throw new TokenizerLoadError(path, `cannot read file (${errorMessage(err)})`);
    }
    let json: TokenizerJson;
    try {
      json = JSON.parse(text) as TokenizerJson;
    } catch (err) {
      throw new TokenizerLoadError(path, `not valid JSON (${errorMessage(err)})`);
    }
    if (json === null || typeof json !== 'object' || typeof json.model !== 'object' || json.model === null) {
      throw new TokenizerLoadError(path, 'no "model" section; is this a Hugging Face tokenizer.json?');
    }
    if (json.decoder === null || json.decoder === undefined) {
      // Without a decoder both libraries join tokens with spaces, which is never
      // the model's text; refuse rather than stream garbage.
      throw new TokenizerLoadError(path, 'it has no "decoder", so ids cannot be turned back into text');
    }
    const config = files.tokenizerConfig ?? null;

    const wanted = files.backend ?? 'auto';

    let rustError = 'not tried';
    if (wanted !== 'js') {
      try {
        const rust = rustTokenizers.Tokenizer.fromString(text);
        // tokenizer.json may carry truncation/padding settings (sentence-transformers
        // exports do); the server enforces lengths itself and must see every token,
        // as the JS library (which ignores them) does.
        rust.disableTruncation();
        rust.disablePadding();
        return new TextTokenizer(path, rustBackend(rust), null, json, config);
      } catch (err) {
        rustError = errorMessage(err);
        if (wanted === 'rust') throw new TokenizerLoadError(path, `Rust tokenizers rejects it (${rustError})`);
      }
    }
    // The JS library guesses a model for unknown `type`s (e.g. WordLevel becomes
    // its "Legacy" model) instead of failing; accept only what it implements.
    const modelType = modelTypeOf(json.model);
    if (!JS_MODEL_TYPES.has(modelType)) {
      throw new TokenizerLoadError(
        path,
        `model type ${JSON.stringify(modelType)} is not supported by @huggingface/tokenizers, ` +
          `and the Rust tokenizers library rejected the file (${rustError})`,
      );
    }
    try {
      const js = new JsTokenizer(json, { ...(config ?? {}) });
      const reason =
        wanted === 'js' ? 'JS backend requested' : `Rust tokenizers rejected the file (${rustError}); using @huggingface/tokenizers`;
      return new TextTokenizer(path, jsBackend(js, json.post_processor), reason, json, config);
    } catch (err) {
      throw new TokenizerLoadError(
        path,
        `neither tokenizer library accepts it (Rust: ${rustError}; JS: ${errorMessage(err)})`,
      );
    }
  }

  async encode(text: string, options: EncodeOptions): Promise<number[]> {
    const ids = await this.impl.encode(text, options.addSpecialTokens);
    if (!options.addSpecialTokens || this.bosTokenId === null) return ids;
    // tokenizer_config's add_bos_token wins over the post-processor, as in transformers.
    if (this.addBosToken && ids[0] !== this.bosTokenId) ids.unshift(this.bosTokenId);
    else if (!this.addBosToken && this.postProcessorAddsBos && ids[0] === this.bosTokenId) ids.shift();
    return ids;
  }

  /** Both texts with the special tokens of the pair template (`[CLS] a [SEP] b [SEP]`, `<s> a </s></s> b </s>`). */
  encodePair(first: string, second: string): Promise<EncodedPair> {
    return this.impl.encodePair(first, second);
  }

  /** Full decode by the library (Rust: off the event loop). */
  async decode(ids: readonly number[], options: DecodeOptions): Promise<string> {
    return this.impl.decode(this.knownIds(ids), options.skipSpecialTokens);
  }

  /**
   * Synchronous full decode: the tokenizer.json decoder on the token strings
   * (Rust: one N-API call, ~1.5 µs for a few tokens). Fine for short windows;
   * use `decode` for long sequences, which runs off the event loop with Rust.
   */
  decodeSync(ids: readonly number[], options: DecodeOptions): string {
    const tokens: string[] = [];
    for (const id of ids) {
      const token = this.idToToken(id);
      if (token === null) continue;
      if (options.skipSpecialTokens && this.special[id] === 1) continue;
      tokens.push(token);
    }
    return this.impl.decodeTokens(tokens);
  }

  /** Token string as stored in the vocabulary (`Ġhello`, `▁hello`, `<0xE2>`), or null. */
  idToToken(id: number): string | null {
    return id >= 0 && id < this.vocabSize ? this.tokens[id] : null;
  }

  tokenToId(token: string): number | null {
    return this.ids.get(token) ?? null;
  }

  /** Special added tokens (`special: true` in tokenizer.json), skipped by skipSpecialTokens. */
  isSpecial(id: number): boolean {
    return this.special[id] === 1;
  }

  /** Token strings in id order (holes, if any, are empty strings); for grammar engines. */
  rawVocab(): string[] {
    return this.tokens.map((t) => t ?? '');
  }

  /**
   * The bytes a token contributes to the text, before decoder-wide rules
   * (SentencePiece leading-space strip, byte-run validation). Empty for unknown ids.
   */
  tokenBytes(id: number): Uint8Array {
    const table = this.byteTable ?? this.buildByteTables();
    return id >= 0 && id < table.length ? table[id] : EMPTY;
  }

  /** For `byte_fallback` vocabularies: the byte a `<0xXX>` token carries, else -1. */
  byteValue(id: number): number {
    const values = this.byteValues ?? (this.buildByteTables(), this.byteValues!);
    return id >= 0 && id < values.length ? values[id] : -1;
  }

  /**
   * `tokenBytes(id)` as a string when those bytes are complete, valid UTF-8
   * (most tokens), else null. Lets the detokenizer skip byte-wise decoding.
   */
  tokenText(id: number): string | null {
    if (this.texts === null) {
      const table = this.byteTable ?? this.buildByteTables();
      this.texts = table.map((bytes) => decodeUtf8Strict(bytes));
    }
    return id >= 0 && id < this.texts.length ? this.texts[id] : null;
  }

  private knownIds(ids: readonly number[]): number[] {
    // Both libraries treat unknown ids differently (Rust drops, JS prints <unk>); drop.
    return ids.filter((id) => this.idToToken(id) !== null);
  }

  private buildByteTables(): Uint8Array[] {
    const table = new Array<Uint8Array>(this.vocabSize);
    const values = new Int16Array(this.vocabSize).fill(-1);
    for (let id = 0; id < this.vocabSize; id++) {
      const token = this.tokens[id];
      if (token === null) {
        table[id] = EMPTY;
        continue;
      }
      table[id] = this.bytesOf(id, token, values);
    }
    this.byteValues = values;
    this.byteTable = table;
    return table;
  }

  private bytesOf(id: number, token: string, values: Int16Array): Uint8Array {
    switch (this.vocabType) {
      case 'byte_level': {
        // The JS library prints added tokens verbatim; Rust maps them like any token.
        if (this.backend === 'js' && this.special[id] === 1) return encoder.encode(token);
        return byteLevelTokenBytes(token) ?? encoder.encode(token);
      }
      case 'byte_fallback': {
        const m = BYTE_TOKEN.exec(token);
        if (m !== null) {
          const byte = parseInt(m[1], 16);
          values[id] = byte;
          return Uint8Array.of(byte);
        }
        return encoder.encode(token.replaceAll('\u2581', ' '));
      }
      case 'raw':
        return encoder.encode(token);
    }
  }
}

const EMPTY = new Uint8Array(0);

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---- backends ----------------------------------------------------------------

function rustBackend(tokenizer: rustTokenizers.Tokenizer): Backend {
  const decoder = tokenizer.getDecoder();
  return {
    kind: 'rust',
    async encode(text, addSpecialTokens) {
      const encoding = await tokenizer.encode(text, null, { addSpecialTokens });
      return encoding.getIds();
    },
    async encodePair(first, second) {
      const encoding = await tokenizer.encode(first, second, { addSpecialTokens: true });
      return { ids: encoding.getIds(), typeIds: encoding.getTypeIds() };
    },
    decode(ids, skipSpecialTokens) {
      return tokenizer.decode(ids, skipSpecialTokens);
    },
    decodeTokens(tokens) {
      return decoder === null ? tokens.join(' ') : decoder.decode(tokens);
    },
    vocab() {
      return new Map(Object.entries(tokenizer.getVocab(true)));
    },
  };
}

interface JsDecoder {
  decode(tokens: string[]): string;
}

function jsBackend(tokenizer: JsTokenizer, postProcessor: TokenizerJson['post_processor']): Backend {
  const decoder = (tokenizer as unknown as { decoder: JsDecoder | null }).decoder;
  const special = new Set<number>(tokenizer.get_added_tokens_decoder().keys());
  for (const [id, token] of tokenizer.get_added_tokens_decoder()) if (!token.special) special.delete(id);
  const decodeTokens = (tokens: string[]): string => (decoder === null ? tokens.join(' ') : decoder.decode(tokens));
  return {
    kind: 'js',
    async encode(text, addSpecialTokens) {
      return tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
    },
    async encodePair(first, second) {
      // The library returns no segment ids: rebuild them from the pair template.
      const ids = tokenizer.encode(first, { text_pair: second, add_special_tokens: true }).ids;
      const lengths = [first, second].map((text) => tokenizer.encode(text, { add_special_tokens: false }).ids.length);
      const typeIds = pairTypeIds(postProcessor, lengths[0], lengths[1]);
      if (typeIds === null || typeIds.length !== ids.length) throw new Error('this tokenizer.json post-processor needs the Rust tokenizers library to encode text pairs');
      return { ids, typeIds };
    },
    async decode(ids, skipSpecialTokens) {
      // Bypass the library's decode(): it throws on [], applies
      // clean_up_tokenization_spaces (Rust does not) and treats config tokens as special.
      const tokens: string[] = [];
      for (const id of ids) {
        if (skipSpecialTokens && special.has(id)) continue;
        const token = tokenizer.id_to_token(id);
        if (token !== undefined) tokens.push(token);
      }
      return decodeTokens(tokens);
    },
    decodeTokens,
    vocab() {
      return tokenizer.get_vocab(true);
    },
  };
}
