// Shared helpers for tokenizer tests: where ../shared lives, and a seeded
// generator of awkward text (emoji with ZWJ, CJK, combining marks, whitespace).

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';

// dist/test/tokenizer/fixtures.js → repo root is three levels up.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const modelsDir = path.join(sharedDir, 'models');

/** A tap `skip` reason when a file under ../shared/models is missing, else false. */
export function skipUnlessShared(...relPaths: string[]): string | false {
  for (const rel of relPaths) {
    if (!existsSync(path.join(modelsDir, rel))) return `needs ../shared/models/${rel} (../shared absent)`;
  }
  return false;
}

export function readJson(rel: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(modelsDir, rel), 'utf8')) as Record<string, unknown>;
}

/** Loads `<dir>/tokenizer.json` with its tokenizer_config.json when present. */
export async function loadShared(dir: string): Promise<TextTokenizer> {
  const configPath = path.join(modelsDir, dir, 'tokenizer_config.json');
  return TextTokenizer.fromFiles({
    tokenizerJsonPath: path.join(modelsDir, dir, 'tokenizer.json'),
    tokenizerConfig: existsSync(configPath) ? readJson(path.join(dir, 'tokenizer_config.json')) : null,
  });
}

export { mulberry32 as seededRandom } from '../support/random.js';

const PIECES = [
  // ASCII words and punctuation
  'Hello', 'world', 'the', 'streaming', 'tokenizer', 'A', 'x', '42', '3.14', "don't", '(parens)', '"quoted"', 'a,b;c', '...', '!?',
  'function foo() { return 1; }', 'https://example.com/a?b=c', 'snake_case_name', 'CamelCase',
  // emoji: single, skin tone, ZWJ families/professions, flags, keycaps, variation selectors
  '🤗', '🚀', '😁', '🦙', '👍🏽', '👨‍👩‍👧‍👦', '👩🏾‍💻', '🏳️‍🌈', '🇫🇷', '🇯🇵', '1️⃣', '❤️', '😶‍🌫️',
  // CJK, Japanese, Korean
  '中文', '我想在apple工作', '天～', '日本語のテキスト', 'カタカナ', '한국어', '漢字',
  // combining marks, precomposed vs decomposed, other scripts
  'e\u0301', 'n\u0303o', 'Cửa Việt', 'Ångström', 'नमस्ते', 'مرحبا', 'שלום', 'Ελληνικά', 'нещо на Български', 'កាន់តែពិសេស',
  'a\u0308\u0323', 'ﬁ', 'ß', '\u00a0', '\u200b',
  // whitespace runs and newlines
  ' ', '  ', '   ', '\t', '\t\t', '\n', '\n\n', '\r\n', ' \n ', '    \n    ',
];

/** A random string of 1–12 pieces, sometimes separated by spaces. */
export function randomText(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 12);
  let text = '';
  for (let i = 0; i < n; i++) {
    if (i > 0 && rand() < 0.5) text += ' ';
    text += PIECES[Math.floor(rand() * PIECES.length)];
  }
  return text;
}
