// The one place that loads xgrammar's WebAssembly build (@mlc-ai/web-xgrammar)
// and the typed faces the rest of Serval uses: per-model tokenizer info, a
// compiler with an LRU cache of compiled grammars, and per-sequence matchers.
//
// Why we do not `import` the package: its lib/index.js is a UMD bundle inside
// a "type": "module" package, so Node loads it as ESM and its Node branch then
// fails on `require`/`__filename`. Defining those as globals (the usual
// workaround) leaks them to every other module. Instead we compile
// the bundle ourselves as a CommonJS function with its own require, module,
// __filename and __dirname, so nothing global changes.
//
// Why we reach past the public classes: the public `getNextTokenBitmask()` is
// async and returns a fresh copy each step, and `createGrammarMatcher()` leaks
// one TokenizerInfo handle per matcher. The emscripten `binding` object gives
// synchronous, copy-into-caller access. It is exposed by appending one line
// after the bundle's `let binding = null;`; if a future version drops that
// line, loading fails loudly here instead of misbehaving later.
//
// Everything in this module is synchronous after `loadXgrammar()` resolves,
// except compilation, which is CPU-bound anyway (tens to hundreds of ms).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import { neverValidUtf8, Utf8Masks } from './utf8-validity.js';
import type { Grammar } from './grammar.js';

// ---- the parts of the emscripten binding we use ---------------------------

interface Deletable {
  delete(): void;
}
interface VectorInt extends Deletable {
  size(): number;
}
interface TokenizerInfoHandle extends Deletable {
  GetVocabSize(): number;
}
interface CompiledGrammarHandle extends Deletable {
  readonly __compiledGrammarBrand?: never;
}
interface CompilerHandle extends Deletable {
  CompileGrammar(grammar: Deletable): CompiledGrammarHandle;
}
interface MatcherHandle extends Deletable {
  AcceptToken(id: number, verbose: boolean): boolean;
  GetNextTokenBitmask(vocabSize: number): VectorInt;
  IsTerminated(): boolean;
  Reset(): void;
  Rollback(n: number): void;
  FindJumpForwardString(): string;
}
interface Binding {
  vecStringFromJSArray(a: string[]): Deletable;
  vecIntFromJSArray(a: number[]): Deletable;
  vecIntToView(v: VectorInt): Int32Array;
  TokenizerInfo: new (
    vocab: Deletable,
    vocabType: string,
    vocabSize: number | undefined,
    stopTokenIds: Deletable | undefined,
    addPrefixSpace: boolean,
  ) => TokenizerInfoHandle;
  GrammarCompiler: new (info: TokenizerInfoHandle, maxThreads: number, cacheEnabled: boolean) => CompilerHandle;
  GrammarMatcher: new (
    compiled: CompiledGrammarHandle,
    overrideStopTokens: Deletable | undefined,
    terminateWithoutStopToken: boolean,
    maxRollbackTokens: number,
  ) => MatcherHandle;
  Grammar: {
    FromEBNF: new (ebnf: string, rootRule: string) => Deletable;
  };
  _JSONSchemaToEBNF(
    schema: string,
    anyWhitespace: boolean,
    indent: number | undefined,
    separators: { first: string; second: string } | undefined,
    strictMode: boolean,
    maxWhitespaceCnt: number | undefined,
    format: unknown,
  ): string;
  JSONFormat: { kJSON: unknown };
}

interface BundleExports {
  __servalBinding(): Promise<Binding>;
}

/** Raised when xgrammar cannot be loaded or rejects a grammar. */
export class XgrammarError extends Error {
  constructor(
    message: string,
    /** The WebAssembly module trapped: objects made from it must not be used again. */
    readonly trapped = false,
  ) {
    super(message);
    this.name = 'XgrammarError';
  }
}

const BINDING_ANCHOR = 'let binding = null;';
const EXPOSE_BINDING = ' exports.__servalBinding = async () => { await asyncInitBinding(); return binding; };';

let loading: Promise<Binding> | null = null;

/** Loads the WebAssembly module once per thread (each worker_thread has its own). */
export function loadXgrammar(): Promise<Binding> {
  loading ??= loadBinding().catch((err: unknown) => {
    loading = null;
    throw err;
  });
  return loading;
}

async function loadBinding(): Promise<Binding> {
  const requireHere = createRequire(import.meta.url);
  const file = requireHere.resolve('@mlc-ai/web-xgrammar');
  const source = readFileSync(file, 'utf8');
  const at = source.indexOf(BINDING_ANCHOR);
  if (at < 0 || source.indexOf(BINDING_ANCHOR, at + 1) >= 0) {
    throw new XgrammarError(`unexpected @mlc-ai/web-xgrammar bundle layout in ${file} (this wrapper was written for 0.1.27)`);
  }
  const patched = source.slice(0, at + BINDING_ANCHOR.length) + EXPOSE_BINDING + source.slice(at + BINDING_ANCHOR.length);
  const module = { exports: {} as Record<string, unknown> };
  // A CommonJS wrapper, as Node's own loader would build; sourceURL keeps stack traces readable.
  const factory = new Function('exports', 'require', 'module', '__filename', '__dirname', `${patched}\n//# sourceURL=${file}`) as (
    exports: Record<string, unknown>,
    require: NodeRequire,
    module: { exports: Record<string, unknown> },
    filename: string,
    dirname: string,
  ) => void;
  factory(module.exports, createRequire(file), module, file, path.dirname(file));
  return (module.exports as unknown as BundleExports).__servalBinding();
}

/**
 * Runs one call into the WebAssembly module. xgrammar's C++ checks abort the
 * module (a RuntimeError, plus a [FATAL] line on stderr) instead of throwing a
 * typed error; schema-support.ts exists so that user input never gets here
 * in a shape that trips them.
 */
function call<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    // A trap may leave the module's memory inconsistent: the next loadXgrammar()
    // instantiates a fresh module (objects made from this one must be dropped too).
    const trapped = err instanceof Error && err.name === 'RuntimeError'; // WebAssembly.RuntimeError
    if (trapped) loading = null;
    throw new XgrammarError(`xgrammar ${what} failed: ${err instanceof Error ? err.message : String(err)}`, trapped);
  }
}

// ---- tokenizer info ---------------------------------------------------------

export interface GrammarVocabOptions {
  /** Ids that end generation (the model's eos list from config/generation_config). */
  stopTokenIds: readonly number[];
  /** Logits width when the model pads its vocabulary beyond the tokenizer (default: tokenizer size). */
  logitsVocabSize?: number;
  /**
   * Special tokens that may appear as text under a grammar, e.g. `<tool_call>`
   * when the tool-call format uses it. Every other special token is hidden
   * from the grammar (never allowed), so `<|im_start|>` cannot appear inside a
   * JSON string and then vanish when the front skips special tokens.
   */
  textSpecialTokens?: readonly string[];
  /**
   * The bytes each token adds to the text (null: a special token, not text),
   * for ids below the tokenizer's size. With it every constrained step keeps
   * the output valid UTF-8 across token boundaries (utf8-validity.ts).
   */
  tokenBytes?: { size: number; of(id: number): Uint8Array | null };
}

/** xgrammar's view of one model's vocabulary. Create once per model and thread; reuse. */
export class GrammarVocab {
  readonly vocabSize: number;
  /** Int32 words per mask row: ceil(vocabSize / 32). */
  readonly maskWords: number;
  readonly stopTokenIds: readonly number[];
  /** Which tokens keep the bytes valid UTF-8 after which; null when built without token bytes. */
  readonly utf8: Utf8Masks | null;

  private constructor(
    readonly binding: Binding,
    readonly handle: TokenizerInfoHandle,
    stopTokenIds: readonly number[],
    tokenBytes: GrammarVocabOptions['tokenBytes'],
  ) {
    this.vocabSize = handle.GetVocabSize();
    this.maskWords = Math.ceil(this.vocabSize / 32);
    this.stopTokenIds = stopTokenIds;
    this.utf8 = tokenBytes === undefined ? null : new Utf8Masks(this.vocabSize, tokenBytes.size, (id) => tokenBytes.of(id));
  }

  static async fromTokenizer(tokenizer: TextTokenizer, options: GrammarVocabOptions): Promise<GrammarVocab> {
    const tokenBytes = { size: tokenizer.vocabSize, of: (id: number) => (tokenizer.isSpecial(id) ? null : tokenizer.tokenBytes(id)) };
    return GrammarVocab.fromStrings(GrammarVocab.vocabStrings(tokenizer, options.textSpecialTokens ?? []), tokenizer.vocabType, { tokenBytes, ...options });
  }

  /**
   * The token strings fromStrings() wants, with hidden special tokens and
   * tokens that can never be valid UTF-8 (see utf8-validity.ts) blanked.
   * Compute on the thread that has the tokenizer; send to the device worker
   * (with tokenizer.vocabType) when that thread has none.
   */
  static vocabStrings(tokenizer: TextTokenizer, textSpecialTokens: readonly string[]): string[] {
    const keep = new Set(textSpecialTokens);
    return tokenizer.rawVocab().map((token, id) => {
      if (tokenizer.isSpecial(id)) return keep.has(token) ? token : '';
      return neverValidUtf8(tokenizer.tokenBytes(id)) ? '' : token;
    });
  }

  /**
   * From raw token strings in id order ('' = never allowed). `vocabType` is
   * how token strings map to bytes, as TextTokenizer.vocabType reports it.
   */
  static async fromStrings(
    vocab: readonly string[],
    vocabType: 'byte_level' | 'byte_fallback' | 'raw',
    options: GrammarVocabOptions,
  ): Promise<GrammarVocab> {
    const binding = await loadXgrammar();
    const size = options.logitsVocabSize ?? vocab.length;
    if (size < vocab.length) throw new XgrammarError(`logitsVocabSize ${size} is smaller than the vocabulary (${vocab.length})`);
    for (const id of options.stopTokenIds) {
      if (!Number.isInteger(id) || id < 0 || id >= size) throw new XgrammarError(`stop token id ${id} is outside the vocabulary`);
    }
    const strings = binding.vecStringFromJSArray([...vocab]);
    const stops = binding.vecIntFromJSArray([...options.stopTokenIds]);
    try {
      // Upper-case names are what the binding's enum parser expects.
      const handle = call('TokenizerInfo', () => new binding.TokenizerInfo(strings, vocabType.toUpperCase(), size, stops, false));
      return new GrammarVocab(binding, handle, [...options.stopTokenIds], options.tokenBytes);
    } finally {
      strings.delete();
      stops.delete();
    }
  }

  dispose(): void {
    this.handle.delete();
  }
}

// ---- grammars and the compiler cache ------------------------------------------


/**
 * A compiled grammar; share between sequences. Matchers keep the C++ grammar
 * alive themselves, so the cache may evict (and free) this object while they
 * run; create matchers right away, or use GrammarCompiler.matcherFor().
 */
export class CompiledGrammar {
  /** Set when the cache evicted and freed it; no new matchers then. */
  disposed = false;

  constructor(
    readonly vocab: GrammarVocab,
    readonly handle: CompiledGrammarHandle,
    /** Cache key, for logs. */
    readonly key: string,
  ) {}

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.handle.delete();
  }
}

export interface CompilerCacheStats {
  size: number;
  hits: number;
  misses: number;
}

/**
 * Compiles grammar specs for one vocabulary, caching the results (LRU).
 * Concurrent requests for the same grammar share one compilation.
 */
export class GrammarCompiler {
  private readonly handle: CompilerHandle;
  private readonly cache = new Map<string, Promise<CompiledGrammar>>();
  private hits = 0;
  private misses = 0;

  constructor(
    readonly vocab: GrammarVocab,
    readonly capacity = 128,
  ) {
    // max_threads=1: the WebAssembly build is single-threaded. xgrammar's own
    // cache is off; ours is keyed by canonical grammar and bounded.
    this.handle = call('GrammarCompiler', () => new vocab.binding.GrammarCompiler(vocab.handle, 1, false));
  }

  compile(grammar: Grammar): Promise<CompiledGrammar> {
    const key = canonicalJson(grammar);
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.hits++;
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    this.misses++;
    const compiled = Promise.resolve().then(() => new CompiledGrammar(this.vocab, this.compileNow(grammar), key));
    // A failed compilation is not cached: the next request gets a fresh error.
    compiled.catch(() => this.cache.delete(key));
    this.cache.set(key, compiled);
    while (this.cache.size > this.capacity) {
      const oldest = this.cache.keys().next().value as string;
      const evicted = this.cache.get(oldest)!;
      this.cache.delete(oldest);
      // Matchers hold their own reference to the C++ grammar, so this is safe.
      evicted.then((g) => g.dispose(), () => undefined);
    }
    return compiled;
  }

  /** Compiles (or finds) the grammar and starts a matcher on it at once. */
  async matcherFor(grammar: Grammar): Promise<GrammarMatcher> {
    for (;;) {
      const compiled = await this.compile(grammar);
      // Evicted between compilation and now (a burst of other schemas): compile again.
      if (!compiled.disposed) return new GrammarMatcher(compiled);
    }
  }

  stats(): CompilerCacheStats {
    return { size: this.cache.size, hits: this.hits, misses: this.misses };
  }

  dispose(): void {
    for (const entry of this.cache.values()) entry.then((g) => g.dispose(), () => undefined);
    this.cache.clear();
    this.handle.delete();
  }

  private compileNow(grammar: Grammar): CompiledGrammarHandle {
    const parsed = call('parse EBNF', () => new this.vocab.binding.Grammar.FromEBNF(grammar.ebnf, grammar.root));
    try {
      return call('compile EBNF', () => this.handle.CompileGrammar(parsed));
    } finally {
      parsed.delete();
    }
  }
}

/**
 * xgrammar's own JSON-schema → EBNF conversion (no tokenizer needed). Used by
 * schema-grammar.ts, which substitutes its own rules for the leaves where
 * xgrammar 0.1.27's output is unsound. The schema must already have passed
 * schema-support.ts: malformed input aborts inside the module.
 */
export async function jsonSchemaToEbnf(schema: unknown, separators: readonly [string, string]): Promise<string> {
  const binding = await loadXgrammar();
  return call('JSON schema conversion', () =>
    binding._JSONSchemaToEBNF(
      JSON.stringify(schema),
      false,
      undefined,
      { first: separators[0], second: separators[1] },
      true,
      undefined,
      binding.JSONFormat.kJSON,
    ),
  );
}

// ---- per-sequence matcher -------------------------------------------------------

/**
 * Grammar state of one sequence. Not thread-safe; lives on the thread that
 * samples the sequence. Call `dispose()` when the sequence ends.
 */
export class GrammarMatcher {
  private readonly handle: MatcherHandle;
  private readonly binding: Binding;
  private accepted = 0;

  constructor(readonly grammar: CompiledGrammar) {
    if (grammar.disposed) throw new XgrammarError(`compiled grammar ${grammar.key.slice(0, 60)}… was evicted; compile it again`);
    const vocab = grammar.vocab;
    this.binding = vocab.binding;
    const stops = this.binding.vecIntFromJSArray([...vocab.stopTokenIds]);
    try {
      this.handle = call('GrammarMatcher', () => new this.binding.GrammarMatcher(grammar.handle, stops, false, -1));
    } finally {
      stops.delete();
    }
  }

  get vocabSize(): number {
    return this.grammar.vocab.vocabSize;
  }

  /**
   * Writes the allowed-token bitmask for the next step into `into` (at least
   * ceil(vocab/32) words; bit i of word i>>5 set = token i allowed). Depends
   * only on tokens accepted so far, so it can run while the forward pass runs.
   */
  fillNextTokenBitmask(into: Int32Array): void {
    const words = this.grammar.vocab.maskWords;
    if (into.length < words) throw new RangeError(`mask has ${into.length} words, needs ${words}`);
    const vector = this.handle.GetNextTokenBitmask(this.vocabSize);
    try {
      into.set(this.binding.vecIntToView(vector).subarray(0, words));
    } finally {
      vector.delete();
    }
  }

  /** Advances by one sampled token; false (state unchanged) when the grammar forbids it. */
  acceptToken(id: number): boolean {
    const ok = this.handle.AcceptToken(id, false);
    if (ok) this.accepted++;
    return ok;
  }

  /** True once a stop token has been accepted at a point where the grammar may end. */
  isTerminated(): boolean {
    return this.handle.IsTerminated();
  }

  /** Undo the last `n` accepted tokens (speculative decoding, stop-string trims). */
  rollback(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.accepted) throw new RangeError(`cannot roll back ${n} of ${this.accepted} tokens`);
    if (n === 0) return;
    this.handle.Rollback(n);
    this.accepted -= n;
  }

  /** Text every continuation must start with (jump-forward decoding); '' when there is a choice. */
  forcedText(): string {
    return this.handle.FindJumpForwardString();
  }

  /** Tokens accepted so far (minus rollbacks). */
  get acceptedCount(): number {
    return this.accepted;
  }

  reset(): void {
    this.handle.Reset();
    this.accepted = 0;
  }

  dispose(): void {
    this.handle.delete();
  }
}

// ---- helpers ------------------------------------------------------------------

/** JSON with object keys sorted, so equal schemas share one cache entry. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** True when bit `id` of a mask row is set. */
export function maskAllows(mask: Int32Array, id: number): boolean {
  return ((mask[id >>> 5] >>> (id & 31)) & 1) === 1;
}
