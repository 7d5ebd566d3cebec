// Sets of Unicode code points as sorted, disjoint, inclusive ranges: the
// alphabet of string patterns (regex-parse.ts, string-automaton.ts).

export type CharSet = ReadonlyArray<readonly [number, number]>;

export const MAX_CODE_POINT = 0x10ffff;
export const EMPTY: CharSet = [];
export const ANY: CharSet = [[0, MAX_CODE_POINT]];

export function charRange(lo: number, hi: number): CharSet {
  return lo <= hi ? [[lo, hi]] : EMPTY;
}

export function chars(...codes: number[]): CharSet {
  return union(...codes.map((c) => charRange(c, c)));
}

export function union(...sets: CharSet[]): CharSet {
  const all = sets.flat().slice().sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of all) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export function complement(set: CharSet): CharSet {
  const out: Array<[number, number]> = [];
  let next = 0;
  for (const [lo, hi] of set) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

export function intersect(a: CharSet, b: CharSet): CharSet {
  const out: Array<[number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i][0], b[j][0]);
    const hi = Math.min(a[i][1], b[j][1]);
    if (lo <= hi) out.push([lo, hi]);
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return out;
}

export function minus(a: CharSet, b: CharSet): CharSet {
  return intersect(a, complement(b));
}

export function isEmpty(set: CharSet): boolean {
  return set.length === 0;
}

export function sameSet(a: CharSet, b: CharSet): boolean {
  return a.length === b.length && a.every(([lo, hi], i) => lo === b[i][0] && hi === b[i][1]);
}

/** Surrogate code points: never characters, and not valid in UTF-8. */
export const SURROGATES: CharSet = [[0xd800, 0xdfff]];
