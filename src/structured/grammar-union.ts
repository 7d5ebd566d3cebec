// One grammar allowing the output of any of several: for `tool_choice: "auto"`
// with `response_format`, the model either calls tools or answers in the
// format. Each part's rules are renamed with a prefix of its own, so rules of
// the same name (xgrammar's `root`, `basic_string`, ...) cannot clash.

import type { Grammar } from './grammar.js';

/** A grammar whose outputs are exactly the outputs of any one of `parts`. */
export function unionGrammar(parts: readonly Grammar[]): Grammar {
  const bodies = parts.map((part, i) => renameRules(part.ebnf, `u${i}_`));
  const root = 'serval_union';
  const alternatives = parts.map((part, i) => `u${i}_${part.root}`).join(' | ');
  return { ebnf: `${root} ::= ${alternatives}\n${bodies.map((b) => b.trimEnd()).join('\n')}\n`, root };
}

/**
 * Prefixes every rule name, at its definition and at each reference, leaving
 * string literals and character classes as they are.
 */
export function renameRules(ebnf: string, prefix: string): string {
  const names = new Set<string>();
  for (const match of ebnf.matchAll(/^([A-Za-z_][A-Za-z0-9_.-]*)\s*::=/gm)) names.add(match[1]);
  let out = '';
  let i = 0;
  while (i < ebnf.length) {
    const c = ebnf[i];
    if (c === '"' || c === '[') {
      // A literal or class: copy through its closing delimiter, skipping escaped characters.
      const close = c === '"' ? '"' : ']';
      let j = i + 1;
      while (j < ebnf.length && ebnf[j] !== close) j += ebnf[j] === '\\' ? 2 : 1;
      out += ebnf.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(ebnf.slice(i, i + 200));
    if (word !== null) {
      out += names.has(word[0]) ? prefix + word[0] : word[0];
      i += word[0].length;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}
