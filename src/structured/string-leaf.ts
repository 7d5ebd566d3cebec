// A string schema with `pattern`, or a format together with length limits,
// or a format only an automaton spells (email, uri): all its constraints
// intersected into one automaton (string-automaton.ts). Both `pattern` and
// `format` are enforced when both are given: the output matches the two.

import { AutomatonTooLargeError, intersectAll, searchAutomaton, wholeAutomaton, type Automaton } from './string-automaton.js';
import { FORMAT_REGEX } from './string-formats.js';
import { parseRegex, RegexUnsupportedError } from './regex-parse.js';

/** Why a string schema cannot be generated; `keyword` is the one to name in the 400. */
export class StringConstraintError extends Error {
  constructor(
    readonly keyword: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'StringConstraintError';
  }
}

/** Formats that exist only as automata (json-leaves.ts FORMAT_RULES has the others). */
const AUTOMATON_ONLY_FORMATS = new Set(['email', 'uri']);

/** Whether the string schema `s` (already checked) is generated through an automaton. */
export function needsAutomaton(s: Record<string, unknown>): boolean {
  const format = typeof s.format === 'string' && s.format in FORMAT_REGEX ? s.format : null;
  if ('pattern' in s) return true;
  if (format === null) return false;
  return AUTOMATON_ONLY_FORMATS.has(format) || 'minLength' in s || 'maxLength' in s;
}

/** The automaton of the string schema `s`; throws StringConstraintError. */
export function stringLeafAutomaton(s: Record<string, unknown>): Automaton {
  const parts: Automaton[] = [];
  try {
    if (typeof s.pattern === 'string') parts.push(searchAutomaton(parseRegex(s.pattern)));
  } catch (error) {
    if (error instanceof RegexUnsupportedError) throw new StringConstraintError('pattern', error.message);
    if (error instanceof AutomatonTooLargeError) throw new StringConstraintError('pattern', `the pattern is too large to enforce (${error.message})`);
    throw error;
  }
  if (typeof s.format === 'string' && s.format in FORMAT_REGEX) parts.push(wholeAutomaton(parseRegex(FORMAT_REGEX[s.format])));
  const min = typeof s.minLength === 'number' ? s.minLength : 0;
  const max = typeof s.maxLength === 'number' ? s.maxLength : null;
  let result: Automaton | null;
  try {
    result = intersectAll(parts, min, max);
  } catch (error) {
    if (error instanceof AutomatonTooLargeError) {
      throw new StringConstraintError(keywordOf(s), `pattern, format and length limits together are too large to enforce (${error.message})`);
    }
    throw error;
  }
  if (result === null) throw new StringConstraintError(keywordOf(s), 'no string satisfies pattern, format and length limits together (beyond ASCII, a character class is generated only when it holds every non-ASCII character or at most 64 of them)');
  return result;
}

function keywordOf(s: Record<string, unknown>): string {
  return ['pattern', 'maxLength', 'minLength'].find((k) => k in s) ?? 'format';
}
