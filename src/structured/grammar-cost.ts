// How long a device worker would take to compile a grammar, estimated from its
// EBNF before it is sent there. Compilation is synchronous WebAssembly on the
// device thread: while it runs, every sequence on that worker waits. So a
// grammar whose estimate exceeds MAX_COMPILE_MS is refused with a 400 instead.
//
// Two costs, fitted to xgrammar 0.1.27 compile times on this 2-core VM
// (vocabulary 3,072 and 32,000; objects of 50–200 optional properties, 100
// required integers, 10 and 40 strings of maxLength 128, a 500-value enum):
// - each position of a bounded string (a rule with a negated character class,
//   `[^…]`) is matched against every token: ~0.31 µs per (position, token);
//   10 strings of maxLength 128 took 12.7 s at 32,000 tokens, 1.0 s at 3,072;
// - the rest (the rules without such a class) grows with their text, a little faster than linearly:
//   ~0.02 ms per character plus 5e-7 ms per character squared (200 optional
//   properties, 47 kB of EBNF: 2.0 s measured, 2.0 s estimated).

/** The longest compile a request may cause. */
export const MAX_COMPILE_MS = 2000;

const MS_PER_POSITION_TOKEN = 0.31e-3;
const MS_PER_CHAR = 0.02;
const MS_PER_CHAR_SQUARED = 5e-7;

export function estimateCompileMs(ebnf: string, vocabSize: number): number {
  let boundedPositions = 0;
  let otherChars = 0;
  for (const line of ebnf.split('\n')) {
    const positions = line.split('[^').length - 1;
    boundedPositions += positions;
    if (positions === 0) {
      otherChars += line.length + 1;
      boundedPositions += automatonRuleWeight(line);
    }
  }
  return boundedPositions * vocabSize * MS_PER_POSITION_TOKEN + otherChars * MS_PER_CHAR + otherChars * otherChars * MS_PER_CHAR_SQUARED;
}

/**
 * A rule of a string automaton (string-automaton.ts: `name_k ::= [A-Za-z0-9_] name_j | …`)
 * is a position like a negated class, weighted by the share of printable ASCII its
 * classes allow (tokens pass the first byte about that often): fitted on a 32k
 * vocabulary, zod's email (115 rules of ~65 characters) compiled in 1.5 s, a uuid
 * (123 rules of 16 hex digits) in 37 ms.
 */
function automatonRuleWeight(line: string): number {
  if (!/^serval_leaf_\d+_\d+ ::=/.test(line)) return 0;
  let allowed = 0;
  for (const match of line.matchAll(/\[((?:\\u[0-9a-f]{4}|[0-9A-Za-z]|-)+)\]/g)) {
    const items = [...match[1].matchAll(/(\\u[0-9a-f]{4}|[0-9A-Za-z])(?:-(\\u[0-9a-f]{4}|[0-9A-Za-z]))?/g)];
    for (const [, lo, hi] of items) allowed += hi === undefined ? 1 : codeOf(hi) - codeOf(lo) + 1;
  }
  return Math.min(1, allowed / 95);
}

function codeOf(item: string): number {
  return item.length === 1 ? item.charCodeAt(0) : parseInt(item.slice(2), 16);
}
