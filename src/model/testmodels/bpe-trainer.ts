// A small, deterministic byte-level BPE trainer (GPT-2 style). It only runs
// when a test model is generated, so it favours clarity: pair counts are kept
// incrementally, and the best pair is found by a linear scan.

/** GPT-2's reversible byte → printable-character map used by ByteLevel. */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + next++);
  }
  return table;
}

/** The ByteLevel pre-tokenizer's split pattern (`use_regex: true`). */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export function byteLevelWords(text: string, table: string[]): string[] {
  const encoder = new TextEncoder();
  return (text.match(GPT2_SPLIT) ?? []).map((piece) => Array.from(encoder.encode(piece), (b) => table[b]).join(''));
}

/** Token text → the string it encodes, or null when its bytes are not valid UTF-8 on their own. */
export function byteLevelDecoder(): (token: string) => string | null {
  const byteOf = new Map(bytesToUnicode().map((ch, b) => [ch, b]));
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  return (token) => {
    const bytes: number[] = [];
    for (const ch of token) {
      const b = byteOf.get(ch);
      if (b === undefined) return null;
      bytes.push(b);
    }
    try {
      return utf8.decode(new Uint8Array(bytes));
    } catch {
      return null;
    }
  };
}

export interface BpeTrainingResult {
  /** Merges in rank order. */
  merges: [string, string][];
  /** Tokens the merges create, in order of first creation (ids follow this order). */
  newTokens: string[];
  /** How many merges came from corpus statistics (the rest are filler). */
  learned: number;
}

interface Word {
  symbols: string[];
  count: number;
}

const pairKey = (a: string, b: string): string => `${a} ${b}`; // byte-level symbols never contain ' '

/**
 * Learns merges from `text` until they have created `numNewTokens` distinct
 * tokens (two merges can produce the same string, e.g. "ab"+"c" and
 * "a"+"bc"; the second adds a merge but no token). When the corpus has no
 * pairs left, the rest are filler merges (frequent word + letters), so any
 * vocabulary size can be reached deterministically. `reserved` strings
 * (special tokens) are never created by a merge.
 */
export function trainByteLevelBpe(text: string, numNewTokens: number, reserved: readonly string[] = []): BpeTrainingResult {
  const table = bytesToUnicode();
  const counts = new Map<string, number>();
  for (const w of byteLevelWords(text, table)) counts.set(w, (counts.get(w) ?? 0) + 1);
  // Sorted so the result does not depend on Map insertion details.
  const words: Word[] = [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([w, count]) => ({ symbols: Array.from(w), count }));

  const pairCounts = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1): void => {
    const { symbols, count } = words[wi];
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = pairKey(symbols[i], symbols[i + 1]);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + sign * count);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (set === undefined) pairWords.set(key, (set = new Set()));
        set.add(wi);
      }
    }
  };
  words.forEach((_, wi) => addPairs(wi, 1));

  const merges: [string, string][] = [];
  const newTokens: string[] = [];
  const known = new Set<string>(table);
  for (const r of reserved) known.add(r);
  while (newTokens.length < numNewTokens) {
    let best: string | null = null;
    let bestCount = 0;
    for (const [key, c] of pairCounts) {
      if (c > bestCount || (c === bestCount && c > 0 && best !== null && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === null || bestCount <= 0) break;
    const [a, b] = best.split(' ');
    const merged = a + b;
    merges.push([a, b]);
    if (!known.has(merged)) {
      known.add(merged);
      newTokens.push(merged);
    }
    for (const wi of pairWords.get(best) ?? []) {
      const w = words[wi];
      addPairs(wi, -1);
      const out: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === a && w.symbols[i + 1] === b) {
          out.push(merged);
          i++;
        } else out.push(w.symbols[i]);
      }
      w.symbols = out;
      addPairs(wi, 1);
    }
    pairCounts.delete(best);
    pairWords.delete(best);
  }
  const learned = merges.length;
  if (newTokens.length < numNewTokens) fillMerges(merges, newTokens, known, words, numNewTokens);
  return { merges, newTokens, learned };
}

/**
 * Filler merges: (word-start token) + (letter-only token), e.g. "Ġcat" + "s".
 * They are real, applicable merges over plausible strings, ordered by how
 * often their parts occur, so the vocabulary stays word-like.
 */
function fillMerges(
  merges: [string, string][],
  newTokens: string[],
  known: Set<string>,
  words: Word[],
  numNewTokens: number,
): void {
  const freq = new Map<string, number>();
  for (const w of words) for (const s of w.symbols) freq.set(s, (freq.get(s) ?? 0) + w.count);
  const byFreq = (list: string[]): string[] =>
    list.sort((x, y) => (freq.get(y) ?? 0) - (freq.get(x) ?? 0) || (x < y ? -1 : x > y ? 1 : 0));
  // Judge tokens by the text they stand for: byte-level characters for
  // control bytes and spaces are themselves letters (Ċ, Ġ), so test decoded text.
  const decode = byteLevelDecoder();
  const isLetters = (s: string): boolean => /^\p{L}+$/u.test(s);
  const isWordStart = (token: string): boolean => {
    const text = decode(token);
    return text !== null && text.startsWith(' ') && isLetters(text.slice(1));
  };
  const isSuffix = (token: string): boolean => {
    const text = decode(token);
    return text !== null && isLetters(text);
  };
  const all = [...known];
  const starts = byFreq(all.filter(isWordStart));
  const suffixes = byFreq(all.filter(isSuffix));
  // Rounds widen the candidate set until enough merges exist; each round uses the vocabulary as it stands.
  for (let round = 0; newTokens.length < numNewTokens; round++) {
    const before = merges.length;
    for (const suffix of suffixes) {
      for (const start of starts) {
        if (newTokens.length >= numNewTokens) return;
        const merged = start + suffix;
        if (known.has(merged)) continue;
        merges.push([start, suffix]);
        known.add(merged);
        newTokens.push(merged);
      }
    }
    if (merges.length === before) throw new Error('BPE filler ran out of candidates');
    const seen = new Set(starts);
    starts.push(...byFreq([...known].filter((s) => !seen.has(s) && isWordStart(s))));
    if (round > 8) throw new Error('BPE filler did not converge');
  }
}
