// JSON Schema `pattern` → a small regular-expression tree. Patterns are
// ECMAScript regular expressions, which validators (ajv) run with the `u`
// flag, unanchored (a match anywhere in the string). Supported: literals and
// escapes, `.`, classes and negated classes, \d \D \w \W \s \S, groups
// (capturing, non-capturing, named), alternation, quantifiers (greedy or
// lazy: same language), and anchors ^ $. Refused: lookarounds, backreferences,
// word boundaries and Unicode property escapes — none is a regular language
// we can spell as grammar rules cheaply.

import { ANY, charRange, chars, complement, EMPTY, union, type CharSet } from './char-set.js';

export type RegexNode =
  | { kind: 'set'; set: CharSet }
  | { kind: 'seq'; items: RegexNode[] }
  | { kind: 'alt'; options: RegexNode[] }
  | { kind: 'repeat'; node: RegexNode; min: number; max: number | null }
  | { kind: 'start' }
  | { kind: 'end' };

/** The pattern is not a regular expression, or uses a feature we do not enforce. */
export class RegexUnsupportedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RegexUnsupportedError';
  }
}

/** Largest count in `{n,m}`: each unit becomes automaton states. */
export const MAX_REPEAT = 256;

const DIGIT = charRange(0x30, 0x39);
const WORD = union(DIGIT, charRange(0x41, 0x5a), charRange(0x61, 0x7a), chars(0x5f));
// ECMAScript WhiteSpace and LineTerminator.
const SPACE = union(
  chars(0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff),
  charRange(0x2000, 0x200a),
);
const DOT = complement(chars(0x0a, 0x0d, 0x2028, 0x2029));

export function parseRegex(pattern: string): RegexNode {
  try {
    new RegExp(pattern, 'u');
  } catch (error) {
    throw new RegexUnsupportedError(`not a valid regular expression: ${(error as Error).message}`);
  }
  const parser = new Parser(pattern);
  const node = parser.alternation();
  if (!parser.done()) throw new RegexUnsupportedError(`unexpected ${JSON.stringify(parser.peek())}`);
  return node;
}

class Parser {
  private at = 0;

  constructor(private readonly text: string) {}

  done(): boolean {
    return this.at >= this.text.length;
  }

  peek(): string {
    return String.fromCodePoint(this.text.codePointAt(this.at)!);
  }

  private take(): string {
    const c = this.peek();
    this.at += c.length;
    return c;
  }

  private eat(prefix: string): boolean {
    if (!this.text.startsWith(prefix, this.at)) return false;
    this.at += prefix.length;
    return true;
  }

  alternation(): RegexNode {
    const options = [this.sequence()];
    while (this.eat('|')) options.push(this.sequence());
    return options.length === 1 ? options[0] : { kind: 'alt', options };
  }

  private sequence(): RegexNode {
    const items: RegexNode[] = [];
    while (!this.done() && this.peek() !== '|' && this.peek() !== ')') items.push(this.quantified(this.atom()));
    return items.length === 1 ? items[0] : { kind: 'seq', items };
  }

  private quantified(node: RegexNode): RegexNode {
    for (;;) {
      let min: number;
      let max: number | null;
      if (this.eat('*')) [min, max] = [0, null];
      else if (this.eat('+')) [min, max] = [1, null];
      else if (this.eat('?')) [min, max] = [0, 1];
      else {
        const braces = /^\{(\d+)(,(\d*))?\}/.exec(this.text.slice(this.at));
        if (braces === null) return node;
        this.at += braces[0].length;
        min = Number(braces[1]);
        max = braces[2] === undefined ? min : braces[3] === '' ? null : Number(braces[3]);
        if (min > MAX_REPEAT || (max !== null && max > MAX_REPEAT)) {
          throw new RegexUnsupportedError(`repetition counts above ${MAX_REPEAT} are not supported`);
        }
      }
      this.eat('?'); // lazy: matches the same strings
      node = { kind: 'repeat', node, min, max };
    }
  }

  private atom(): RegexNode {
    const c = this.take();
    switch (c) {
      case '^':
        return { kind: 'start' };
      case '$':
        return { kind: 'end' };
      case '.':
        return { kind: 'set', set: DOT };
      case '[':
        return { kind: 'set', set: this.characterClass() };
      case '(':
        return this.group();
      case '\\':
        return this.escape();
      default:
        return { kind: 'set', set: chars(c.codePointAt(0)!) };
    }
  }

  private group(): RegexNode {
    if (this.text.startsWith('?=', this.at) || this.text.startsWith('?!', this.at) || this.text.startsWith('?<=', this.at) || this.text.startsWith('?<!', this.at)) {
      throw new RegexUnsupportedError('lookahead and lookbehind assertions are not supported');
    }
    if (!this.eat('?:') && this.eat('?<')) {
      const close = this.text.indexOf('>', this.at);
      this.at = close + 1;
    } else if (this.peek() === '?') {
      throw new RegexUnsupportedError('inline modifiers are not supported');
    }
    const inner = this.alternation();
    if (!this.eat(')')) throw new RegexUnsupportedError('unclosed group');
    return inner;
  }

  private escape(): RegexNode {
    const c = this.peek();
    if (c === 'b' || c === 'B') throw new RegexUnsupportedError('word boundaries (\\b, \\B) are not supported');
    if (/[1-9]/.test(c) || c === 'k') throw new RegexUnsupportedError('backreferences are not supported');
    if (c === 'p' || c === 'P') throw new RegexUnsupportedError('Unicode property escapes (\\p{…}) are not supported');
    return { kind: 'set', set: this.escapedSet(false) };
  }

  /** After a backslash: the set it denotes (inside a class, \b is a backspace). */
  private escapedSet(inClass: boolean): CharSet {
    const c = this.take();
    switch (c) {
      case 'd':
        return DIGIT;
      case 'D':
        return complement(DIGIT);
      case 'w':
        return WORD;
      case 'W':
        return complement(WORD);
      case 's':
        return SPACE;
      case 'S':
        return complement(SPACE);
      case 'p':
      case 'P':
        throw new RegexUnsupportedError('Unicode property escapes (\\p{…}) are not supported');
      default:
        return chars(this.escapedChar(c, inClass));
    }
  }

  private escapedChar(c: string, inClass: boolean): number {
    const simple: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13, '0': 0 };
    if (c in simple) return simple[c];
    if (c === 'b' && inClass) return 8;
    if (c === 'c') return this.take().toUpperCase().charCodeAt(0) - 64;
    if (c === 'x') return this.hex(2);
    if (c === 'u') {
      if (this.eat('{')) {
        const close = this.text.indexOf('}', this.at);
        const code = parseInt(this.text.slice(this.at, close), 16);
        this.at = close + 1;
        return code;
      }
      const high = this.hex(4);
      // A surrogate pair written as two \u escapes is one code point under the `u` flag.
      if (high >= 0xd800 && high <= 0xdbff && /^\\u[dD][c-fC-F][0-9a-fA-F]{2}/.test(this.text.slice(this.at))) {
        this.at += 2;
        const low = this.hex(4);
        return 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
      }
      return high;
    }
    return c.codePointAt(0)!; // identity escape: \. \\ \/ \- …
  }

  private hex(digits: number): number {
    const value = parseInt(this.text.slice(this.at, this.at + digits), 16);
    this.at += digits;
    return value;
  }

  private characterClass(): CharSet {
    const negated = this.eat('^');
    const parts: CharSet[] = [];
    while (!this.eat(']')) {
      const first = this.classAtom();
      if (this.peek() === '-' && !this.text.startsWith('-]', this.at)) {
        this.take();
        const last = this.classAtom();
        // new RegExp accepted the pattern, so both ends are single characters in order.
        parts.push(charRange(single(first), single(last)));
      } else parts.push(first);
    }
    const set = parts.length === 0 ? EMPTY : union(...parts);
    return negated ? complement(set) : set;
  }

  private classAtom(): CharSet {
    const c = this.take();
    if (c !== '\\') return chars(c.codePointAt(0)!);
    if (this.peek() === 'p' || this.peek() === 'P') throw new RegexUnsupportedError('Unicode property escapes (\\p{…}) are not supported');
    return this.escapedSet(true);
  }
}

function single(set: CharSet): number {
  return set.length === 1 && set[0][0] === set[0][1] ? set[0][0] : ANY[0][0];
}
