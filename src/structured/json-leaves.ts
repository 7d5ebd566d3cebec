// EBNF for the JSON leaves whose xgrammar 0.1.27 rules are unsound:
//  - numbers with bounds: its range rules accept "1x5" for minimum 1.5, "100.5"
//    for maximum 100, "4" for minimum 5;
//  - strings with minLength/maxLength: its rule admits raw control characters
//    (a tab inside a string), which is not JSON;
//  - string formats: its date admits 2023-02-31.
// Every rule here accepts only text that JSON.parse accepts and that
// validates (ajv + ajv-formats, full mode). Some valid values are left out
// (see each function), never the other way round.

/** Largest magnitude written for integers: 15 digits, all exact in a double. */
const MAX_DIGITS = 15;
const MAX_MAGNITUDE = 10 ** MAX_DIGITS - 1;
/** Fraction digits allowed after the point. */
const FRACTION = '[0-9]{1,6}';

/**
 * One character of a length-limited string: anything but the quote, the
 * backslash and control characters. Escapes are left out: each would need
 * its own states, and compiling these rules is already the costly part.
 */
const PLAIN_CHAR = '[^"\\\\\\0-\\x1f]';

export interface LeafRules {
  /** The leaf's own rule body. */
  body: string;
  /** Helper rules it refers to (`name ::= ...` lines). */
  rules: string[];
}

/**
 * A string of minLength..maxLength code points, as a chain of rules with
 * the closing quote inside each link. Why not `char{m,n}`: xgrammar expands
 * that into nested rules that can each end empty, which makes most tokens
 * depend on the enclosing rules and the runtime mask slow (tens of ms per
 * step at 32k tokens); the chain keeps masks at tens of µs. Compile time
 * grows by ~13 ms per link on a 32k vocabulary, hence MAX_STRING_LENGTH.
 */
export function stringRule(name: string, minLength: number, maxLength: number | null): LeafRules {
  const last = maxLength ?? minLength;
  const rules: string[] = [];
  for (let k = 0; k <= last; k++) {
    const alternatives: string[] = [];
    if (k >= minLength) alternatives.push('"\\""');
    if (maxLength === null && k === last) alternatives.push(`${PLAIN_CHAR} ${name}_${k}`);
    else if (k < last) alternatives.push(`${PLAIN_CHAR} ${name}_${k + 1}`);
    rules.push(`${name}_${k} ::= ${alternatives.join(' | ')}`);
  }
  return { body: `"\\"" ${name}_0`, rules };
}

const D31 = '("0" [1-9] | [12] [0-9] | "3" [01])';
const D30 = '("0" [1-9] | [12] [0-9] | "30")';
// February stops at 28: the 29th would need a leap-year rule.
const D28 = '("0" [1-9] | "1" [0-9] | "2" [0-8])';
const DATE = `[0-9]{4} "-" (("0" [13578] | "1" [02]) "-" ${D31} | ("0" [469] | "11") "-" ${D30} | "02" "-" ${D28})`;
const TIME = '([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])';
const HEX = '[0-9a-f]';

/** Rule bodies for the string formats we enforce (quoted). */
export const FORMAT_RULES: Record<string, string> = {
  date: `"\\"" ${DATE} "\\""`,
  time: `"\\"" ${TIME} "\\""`,
  'date-time': `"\\"" ${DATE} "T" ${TIME} "\\""`,
  uuid: `"\\"" ${HEX}{8} "-" ${HEX}{4} "-" ${HEX}{4} "-" ${HEX}{4} "-" ${HEX}{12} "\\""`,
};

export interface NumericBounds {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

/** Inclusive integer range implied by the bounds, clamped to ±(10^15 − 1). */
function integerRange(b: NumericBounds): [number, number] {
  let lo = -MAX_MAGNITUDE;
  let hi = MAX_MAGNITUDE;
  if (b.minimum !== undefined) lo = Math.max(lo, Math.ceil(b.minimum));
  if (b.exclusiveMinimum !== undefined) lo = Math.max(lo, Math.floor(b.exclusiveMinimum) + 1);
  if (b.maximum !== undefined) hi = Math.min(hi, Math.floor(b.maximum));
  if (b.exclusiveMaximum !== undefined) hi = Math.min(hi, Math.ceil(b.exclusiveMaximum) - 1);
  return [lo, hi];
}

/** Rule body for integers within the bounds, or null when none exists. */
export function integerRule(b: NumericBounds): string | null {
  const [lo, hi] = integerRange(b);
  return signedRange(lo, hi);
}

/**
 * Rule body for numbers within the bounds, or null when the rule would be
 * empty. Allowed: the integers in range, and decimals `m.ddd` (up to 6 digits)
 * whose whole unit interval [m, m+1) lies in range. So for [1.5, 10] the output
 * may be 2.25 or 9.999 but not 1.75: sound, slightly narrower. No exponents.
 */
export function numberRule(b: NumericBounds): string | null {
  const [iLo, iHi] = integerRange(b);
  const alternatives: string[] = [];
  const ints = signedRange(iLo, iHi);
  if (ints !== null) alternatives.push(ints);

  // Non-negative m.ddd lies in [m, m+1): needs m ≥ lower bound, m + 1 ≤ upper bound.
  const lower = iLo;
  const upper = b.maximum ?? b.exclusiveMaximum;
  const posHi = Math.min(MAX_MAGNITUDE, upper === undefined ? MAX_MAGNITUDE : Math.floor(upper) - 1);
  const pos = unsignedRange(Math.max(0, lower), posHi);
  // Negative -m.ddd lies in (-(m+1), -m]: needs -(m+1) ≥ lower bound, -m within the upper bound.
  const lowBound = b.minimum ?? b.exclusiveMinimum;
  const negHi = Math.min(MAX_MAGNITUDE, lowBound === undefined ? MAX_MAGNITUDE : Math.floor(-lowBound) - 1);
  let negLo = 0;
  if (b.maximum !== undefined) negLo = Math.max(0, Math.ceil(-b.maximum));
  if (b.exclusiveMaximum !== undefined) negLo = Math.max(0, Math.floor(-b.exclusiveMaximum) + 1);
  const neg = unsignedRange(negLo, negHi);
  const whole = [neg === null ? null : `"-" ${neg}`, pos].filter((x): x is string => x !== null);
  if (whole.length > 0) alternatives.push(`(${whole.join(' | ')}) "." ${FRACTION}`);
  return alternatives.length === 0 ? null : alternatives.map((a) => `(${a})`).join(' | ');
}

/** Integers in [lo, hi] in JSON spelling (no leading zeros, no "-0"); null if empty. */
export function signedRange(lo: number, hi: number): string | null {
  if (lo > hi) return null;
  const parts: string[] = [];
  if (lo < 0) {
    const mags = unsignedRange(Math.max(1, -Math.min(hi, -1)), -lo);
    if (mags !== null) parts.push(`"-" ${mags}`);
  }
  if (hi >= 0) {
    const nonNeg = unsignedRange(Math.max(0, lo), hi);
    if (nonNeg !== null) parts.push(nonNeg);
  }
  return parts.length === 0 ? null : parts.length === 1 ? parts[0] : `(${parts.join(' | ')})`;
}

/**
 * Non-negative integers in [lo, hi] without leading zeros; null if empty.
 * Digit counts covered in full share one alternative (`[1-9] [0-9]{a,b}`):
 * xgrammar 0.1.27 mis-matches an alternation of several `[1-9] [0-9]{k}`
 * of different lengths (it accepted -999 for "at most -3000"), and this
 * shape also keeps the grammar small.
 */
export function unsignedRange(lo: number, hi: number): string | null {
  if (lo > hi || hi < 0) return null;
  lo = Math.max(lo, 0);
  const alternatives: string[] = [];
  if (lo === 0) {
    alternatives.push('"0"');
    lo = 1;
    if (hi === 0) return '"0"';
  }
  const loDigits = String(lo).length;
  const hiDigits = String(hi).length;
  if (loDigits === hiDigits) {
    alternatives.push(...sameLength(String(lo), String(hi)));
  } else {
    const loFull = lo === 10 ** (loDigits - 1);
    const hiFull = hi === 10 ** hiDigits - 1;
    if (!loFull) alternatives.push(...sameLength(String(lo), '9'.repeat(loDigits)));
    const first = loFull ? loDigits : loDigits + 1;
    const last = hiFull ? hiDigits : hiDigits - 1;
    if (first <= last) alternatives.push(`[1-9]${repeatDigits(first - 1, last - 1)}`);
    if (!hiFull) alternatives.push(...sameLength(`1${'0'.repeat(hiDigits - 1)}`, String(hi)));
  }
  return alternatives.length === 1 ? alternatives[0] : `(${alternatives.join(' | ')})`;
}

function repeatDigits(min: number, max: number): string {
  if (max === 0) return '';
  return min === max ? ` [0-9]{${min}}` : ` [0-9]{${min},${max}}`;
}

/** Alternatives matching every digit string between lo and hi (same length). */
function sameLength(lo: string, hi: string): string[] {
  if (lo === hi) return [`"${lo}"`];
  const n = lo.length - 1;
  if (n === 0) return [digitClass(lo[0], hi[0])];
  const restLoIsMin = /^0*$/.test(lo.slice(1));
  const restHiIsMax = /^9*$/.test(hi.slice(1));
  if (lo[0] === hi[0]) return sameLength(lo.slice(1), hi.slice(1)).map((tail) => `"${lo[0]}" ${tail}`);
  if (restLoIsMin && restHiIsMax) return [`${digitClass(lo[0], hi[0])} [0-9]{${n}}`];
  const out: string[] = [];
  let firstFull = lo[0];
  if (!restLoIsMin) {
    out.push(...sameLength(lo.slice(1), '9'.repeat(n)).map((tail) => `"${lo[0]}" ${tail}`));
    firstFull = String(Number(lo[0]) + 1);
  }
  let lastFull = hi[0];
  if (!restHiIsMax) lastFull = String(Number(hi[0]) - 1);
  if (Number(firstFull) <= Number(lastFull)) out.push(`${digitClass(firstFull, lastFull)} [0-9]{${n}}`);
  if (!restHiIsMax) out.push(...sameLength('0'.repeat(n), hi.slice(1)).map((tail) => `"${hi[0]}" ${tail}`));
  return out;
}

function digitClass(a: string, b: string): string {
  return a === b ? `"${a}"` : `[${a}-${b}]`;
}
