// A constrained JSON string as a finite automaton over code points, written
// out as grammar rules over JSON-escaped text.
//
// A string leaf may carry a `pattern`, a `format` (itself a regular language,
// string-formats.ts) and minLength/maxLength. Each is an automaton; their
// intersection is the product automaton, whose states are (pattern state,
// format state, characters so far). Every state becomes one right-linear
// rule — `s_3 ::= [a-z] s_4 | "\"" ` — with the closing quote inside, the
// shape json-leaves.ts found keeps xgrammar's masks fast. Characters JSON
// must escape (`"`, `\`, U+0000–U+001F) are only ever produced escaped, so
// the quote cannot end the string early and the text always parses.

import { ANY, charRange, chars, intersect, isEmpty, minus, union, SURROGATES, type CharSet } from './char-set.js';
import type { RegexNode } from './regex-parse.js';

export interface Automaton {
  /** State 0 is the start. */
  states: Array<{ accepting: boolean; edges: Array<{ set: CharSet; to: number }> }>;
}

/** The automaton is larger than a grammar we would compile in time. */
export class AutomatonTooLargeError extends Error {
  constructor(readonly states: number) {
    super(`the string constraints need more than ${states} automaton states`);
    this.name = 'AutomatonTooLargeError';
  }
}

/** Most states of one string leaf's automaton (one grammar rule each). */
export const MAX_AUTOMATON_STATES = 160;
const MAX_THOMPSON_STATES = 20_000;
/** Most states of the product before determinizing (cheap: no grammar rules yet). */
const MAX_PRODUCT_STATES = 8_000;

type Edge = { kind: 'char'; set: CharSet; to: number } | { kind: 'eps' | 'start' | 'end'; to: number };

/**
 * The strings a regex matches somewhere inside (JSON Schema patterns are
 * unanchored): prefix and suffix of any characters around it, unless `^`/`$`
 * pin it. `^` holds only before the first character, `$` only after the last.
 */
export function searchAutomaton(regex: RegexNode): Automaton {
  const edges: Edge[][] = [];
  const state = (): number => {
    if (edges.length >= MAX_THOMPSON_STATES) throw new AutomatonTooLargeError(MAX_THOMPSON_STATES);
    edges.push([]);
    return edges.length - 1;
  };
  const begin = state();
  const before = state();
  const regexStart = state();
  const regexEnd = state();
  const after = state();
  edges[begin].push({ kind: 'char', set: ANY, to: before }, { kind: 'eps', to: regexStart });
  edges[before].push({ kind: 'char', set: ANY, to: before }, { kind: 'eps', to: regexStart });
  edges[regexEnd].push({ kind: 'eps', to: after });
  edges[after].push({ kind: 'char', set: ANY, to: after });
  build(regex, regexStart, regexEnd, edges, state);
  return withoutEpsilons(edges, begin, after);
}

function build(node: RegexNode, from: number, to: number, edges: Edge[][], state: () => number): void {
  switch (node.kind) {
    case 'set':
      edges[from].push({ kind: 'char', set: node.set, to });
      return;
    case 'start':
    case 'end':
      edges[from].push({ kind: node.kind, to });
      return;
    case 'seq': {
      let at = from;
      node.items.forEach((item, i) => {
        const next = i === node.items.length - 1 ? to : state();
        build(item, at, next, edges, state);
        at = next;
      });
      if (node.items.length === 0) edges[from].push({ kind: 'eps', to });
      return;
    }
    case 'alt':
      for (const option of node.options) {
        const a = state();
        const b = state();
        edges[from].push({ kind: 'eps', to: a });
        build(option, a, b, edges, state);
        edges[b].push({ kind: 'eps', to });
      }
      return;
    case 'repeat': {
      let at = from;
      for (let i = 0; i < node.min; i++) {
        const next = state();
        build(node.node, at, next, edges, state);
        at = next;
      }
      if (node.max === null) {
        const loop = state();
        const back = state();
        edges[at].push({ kind: 'eps', to: loop });
        build(node.node, loop, back, edges, state);
        edges[back].push({ kind: 'eps', to: loop });
        edges[loop].push({ kind: 'eps', to });
        return;
      }
      for (let i = node.min; i < node.max; i++) {
        const next = state();
        edges[at].push({ kind: 'eps', to });
        build(node.node, at, next, edges, state);
        at = next;
      }
      edges[at].push({ kind: 'eps', to });
    }
  }
}

/**
 * Epsilon-free automaton. A state is a Thompson state entered by a character
 * (or the beginning) plus whether no character was read yet (so `^` may
 * pass); `$` may pass when no character follows, so it only leads to
 * accepting. Every edge is narrowed to what jsonCharExpr can write.
 */
function withoutEpsilons(edges: Edge[][], begin: number, accept: number): Automaton {
  const ids = new Map<string, number>();
  const out: Automaton = { states: [] };
  const queue: Array<[number, boolean]> = [];
  const idOf = (q: number, atStart: boolean): number => {
    const key = `${q}/${atStart ? 1 : 0}`;
    let id = ids.get(key);
    if (id === undefined) {
      id = out.states.length;
      if (id >= MAX_THOMPSON_STATES) throw new AutomatonTooLargeError(MAX_THOMPSON_STATES);
      ids.set(key, id);
      out.states.push({ accepting: false, edges: [] });
      queue.push([q, atStart]);
    }
    return id;
  };
  idOf(begin, true);
  for (let next = 0; next < queue.length; next++) {
    const [q, atStart] = queue[next];
    const self = out.states[next];
    const seen = new Set<string>();
    const stack: Array<[number, boolean]> = [[q, false]];
    while (stack.length > 0) {
      const [p, ended] = stack.pop()!;
      const key = `${p}/${ended ? 1 : 0}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (p === accept) self.accepting = true;
      for (const edge of edges[p]) {
        if (edge.kind === 'eps') stack.push([edge.to, ended]);
        else if (edge.kind === 'start') {
          if (atStart) stack.push([edge.to, ended]);
        } else if (edge.kind === 'end') stack.push([edge.to, true]);
        else if (edge.kind === 'char' && !ended) {
          const set = representable(edge.set);
          if (!isEmpty(set)) self.edges.push({ set, to: idOf(edge.to, false) });
        }
      }
    }
  }
  return out;
}

/** An automaton from a regex that must match the whole string (formats). */
export function wholeAutomaton(regex: RegexNode): Automaton {
  return searchAutomaton({ kind: 'seq', items: [{ kind: 'start' }, regex, { kind: 'end' }] });
}

/**
 * Intersection of the given automata and the length bounds (code points,
 * as JSON Schema counts them), without the states from which no string can
 * be completed. Null when no string satisfies all of them.
 */
export function intersectAll(automata: readonly Automaton[], minLength: number, maxLength: number | null): Automaton | null {
  const ids = new Map<string, number>();
  const tuples: number[][] = [];
  const out: Automaton = { states: [] };
  const idOf = (tuple: number[]): number => {
    const key = tuple.join(',');
    let id = ids.get(key);
    if (id === undefined) {
      id = tuples.length;
      if (id >= MAX_PRODUCT_STATES) throw new AutomatonTooLargeError(MAX_AUTOMATON_STATES);
      ids.set(key, id);
      tuples.push(tuple);
      out.states.push({ accepting: false, edges: [] });
    }
    return id;
  };
  idOf([...automata.map(() => 0), 0]);
  for (let next = 0; next < tuples.length; next++) {
    const tuple = tuples[next];
    const count = tuple[automata.length];
    out.states[next].accepting = count >= minLength && automata.every((a, i) => a.states[tuple[i]].accepting);
    if (maxLength !== null && count >= maxLength) continue;
    // With no maximum the count only matters up to minLength.
    const nextCount = maxLength === null ? Math.min(count + 1, minLength) : count + 1;
    let partial: Array<{ set: CharSet; targets: number[] }> = [{ set: ANY, targets: [] }];
    automata.forEach((a, i) => {
      const grown: typeof partial = [];
      for (const p of partial) {
        for (const edge of a.states[tuple[i]].edges) {
          const set = intersect(p.set, edge.set);
          if (!isEmpty(set)) grown.push({ set, targets: [...p.targets, edge.to] });
        }
      }
      partial = grown;
    });
    for (const p of partial) out.states[next].edges.push({ set: p.set, to: idOf([...p.targets, nextCount]) });
  }
  const live = pruned(out, MAX_PRODUCT_STATES);
  if (live === null) return null;
  // Determinizing splits sets ("any but é"); narrow the pieces to what the grammar can spell.
  const deterministic = determinized(live);
  for (const state of deterministic.states) {
    state.edges = state.edges.map((e) => ({ set: representable(e.set), to: e.to })).filter((e) => !isEmpty(e.set));
  }
  return pruned(deterministic, MAX_AUTOMATON_STATES);
}

/**
 * The equivalent deterministic automaton (subset construction): each rule's
 * alternatives then start with disjoint characters. xgrammar 0.1.27 accepts
 * strings outside the language of some ambiguous right-linear grammars (with
 * `any* (\\ | digit) " "` it took "x "), and a deterministic one is also
 * cheaper to match. Throws AutomatonTooLargeError past MAX_AUTOMATON_STATES.
 */
function determinized(nfa: Automaton): Automaton {
  const ids = new Map<string, number>();
  const members: number[][] = [];
  const out: Automaton = { states: [] };
  const idOf = (set: number[]): number => {
    const key = set.join(',');
    let id = ids.get(key);
    if (id === undefined) {
      id = members.length;
      if (id >= MAX_AUTOMATON_STATES) throw new AutomatonTooLargeError(MAX_AUTOMATON_STATES);
      ids.set(key, id);
      members.push(set);
      out.states.push({ accepting: set.some((q) => nfa.states[q].accepting), edges: [] });
    }
    return id;
  };
  idOf([0]);
  for (let next = 0; next < members.length; next++) {
    const edges = members[next].flatMap((q) => nfa.states[q].edges);
    // Split the alphabet at every range boundary; each piece has one set of targets.
    const cuts = [...new Set(edges.flatMap((e) => e.set.flatMap(([lo, hi]) => [lo, hi + 1])))].sort((a, b) => a - b);
    const byTargets = new Map<string, CharSet[]>();
    for (let i = 0; i + 1 < cuts.length; i++) {
      const piece = charRange(cuts[i], cuts[i + 1] - 1);
      const targets = [...new Set(edges.filter((e) => !isEmpty(intersect(e.set, piece))).map((e) => e.to))].sort((a, b) => a - b);
      if (targets.length === 0) continue;
      const key = targets.join(',');
      byTargets.set(key, [...(byTargets.get(key) ?? []), piece]);
    }
    for (const [key, pieces] of byTargets) {
      out.states[next].edges.push({ set: union(...pieces), to: idOf(key.split(',').map(Number)) });
    }
  }
  return out;
}

/** Drops states that cannot reach acceptance, merges parallel edges; null when the start is dropped. */
function pruned(automaton: Automaton, limit: number): Automaton | null {
  const n = automaton.states.length;
  const incoming: number[][] = Array.from({ length: n }, () => []);
  automaton.states.forEach((s, from) => s.edges.forEach((e) => incoming[e.to].push(from)));
  const live = new Uint8Array(n);
  const stack: number[] = [];
  automaton.states.forEach((s, i) => {
    if (s.accepting) {
      live[i] = 1;
      stack.push(i);
    }
  });
  while (stack.length > 0) {
    for (const from of incoming[stack.pop()!]) {
      if (!live[from]) {
        live[from] = 1;
        stack.push(from);
      }
    }
  }
  if (!live[0]) return null;
  const renumber = new Map<number, number>();
  automaton.states.forEach((_, i) => {
    if (live[i]) renumber.set(i, renumber.size);
  });
  if (renumber.size > limit) throw new AutomatonTooLargeError(MAX_AUTOMATON_STATES);
  const states: Automaton['states'] = [];
  automaton.states.forEach((s, i) => {
    if (!live[i]) return;
    const byTarget = new Map<number, CharSet>();
    for (const e of s.edges) {
      const to = renumber.get(e.to);
      if (to !== undefined) byTarget.set(to, union(byTarget.get(to) ?? [], e.set));
    }
    states.push({ accepting: s.accepting, edges: [...byTarget].map(([to, set]) => ({ set, to })) });
  });
  return { states };
}

/** The quoted string's rules: `body` is `"\"" <name>_0`; one rule per state. */
export function automatonRules(name: string, automaton: Automaton): { body: string; rules: string[] } {
  const rules = automaton.states.map((s, i) => {
    const alternatives = s.edges.map((e) => `${jsonCharExpr(e.set)} ${name}_${e.to}`);
    if (s.accepting) alternatives.push('"\\""');
    return `${name}_${i} ::= ${alternatives.join(' | ')}`;
  });
  return { body: `"\\"" ${name}_0`, rules };
}

/** Characters JSON writes escaped: the quote, the backslash, U+0000–U+001F. */
const MUST_ESCAPE = union(chars(0x22, 0x5c), charRange(0, 0x1f));
const CONTROLS = charRange(0, 0x1f);
const ASCII = charRange(0, 0x7f);
const NON_ASCII = minus(charRange(0x80, 0x10ffff), SURROGATES);
/** Most non-ASCII characters a set may list one by one. */
export const MAX_LISTED_CHARS = 64;

/**
 * The part of `set` the grammar can spell. xgrammar 0.1.27 mis-matches
 * character-class ranges beyond ASCII (`[è-ê]` rejects é, `[伀-俿]` accepts
 * a quote) and clamps negated classes to ASCII (`[^é]` allows é). So a set
 * keeps its non-ASCII characters only when it holds all of them (a negated
 * ASCII class) or at most MAX_LISTED_CHARS (literals); otherwise only its
 * ASCII part is generated — narrower, never wrong. Surrogates are dropped.
 */
export function representable(set: CharSet): CharSet {
  const nonAscii = intersect(set, NON_ASCII);
  if (isEmpty(minus(NON_ASCII, nonAscii)) || count(nonAscii) <= MAX_LISTED_CHARS) return minus(set, SURROGATES);
  return intersect(set, ASCII);
}

function count(set: CharSet): number {
  return set.reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
}

/** One character of `set` (already representable), as JSON text. */
export function jsonCharExpr(set: CharSet): string {
  const parts: string[] = [];
  // One spelling per character (an ambiguous grammar is what trips xgrammar): \" \\ and \u00XX.
  if (isEmpty(minus(CONTROLS, set))) parts.push('"\\\\u00" [01] [0-9a-f]');
  else for (const [lo, hi] of intersect(set, CONTROLS)) for (let c = lo; c <= hi; c++) parts.push(ebnfString(`\\u${c.toString(16).padStart(4, '0')}`));
  if (!isEmpty(intersect(set, chars(0x22)))) parts.push(ebnfString('\\"'));
  if (!isEmpty(intersect(set, chars(0x5c)))) parts.push(ebnfString('\\\\'));
  const plain = minus(set, MUST_ESCAPE);
  const ascii = intersect(plain, ASCII);
  const nonAscii = intersect(plain, NON_ASCII);
  if (!isEmpty(nonAscii) && isEmpty(minus(NON_ASCII, nonAscii))) {
    // Excluded: the ASCII characters not in the set (always some: the escaped ones).
    parts.push(`[^${classItems(minus(ASCII, ascii))}]`);
  } else {
    if (!isEmpty(ascii)) parts.push(`[${classItems(ascii)}]`);
    for (const [lo, hi] of nonAscii) for (let c = lo; c <= hi; c++) parts.push(ebnfString(String.fromCodePoint(c)));
  }
  return parts.length === 1 ? parts[0] : `(${parts.join(' | ')})`;
}

function classItems(set: CharSet): string {
  return set.map(([lo, hi]) => (lo === hi ? classChar(lo) : `${classChar(lo)}-${classChar(hi)}`)).join('');
}

function classChar(c: number): string {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return String.fromCharCode(c);
  return `\\u${c.toString(16).padStart(4, '0')}`;
}

function ebnfString(text: string): string {
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}
