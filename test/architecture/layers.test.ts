// The layering of src/, checked from the source text: every relative import
// (static `import ... from`, `export ... from`, `import type`, side-effect
// and literal dynamic imports) goes to the importer's own layer or a lower
// one, and no file under src/ is over MAX_LINES lines.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

/** dist/test/architecture → repo root. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const srcRoot = path.join(repoRoot, 'src');

/**
 * Each top folder of src/ and its layer, higher first; a file may import from
 * its own layer (other folders of it included) or lower ones. Every top folder
 * must be listed, and no file may sit directly in src/: a new folder needs a
 * place here before it can hold code.
 */
const LAYERS: string[][] = [
  ['cli'],
  ['front'],
  ['engine'],
  ['worker', 'scheduler'],
  ['sampling', 'structured'],
  ['model', 'ipc', 'tokenizer', 'protocol', 'metrics'],
];

const MAX_LINES = 500;

const rank = new Map<string, number>(LAYERS.flatMap((folders, i) => folders.map((folder): [string, number] => [folder, LAYERS.length - i])));

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative specifiers of a file's imports and re-exports (type-only ones included). */
export function relativeImports(source: string): string[] {
  const patterns = [
    // import x from, import { a, b } from, import type { T } from, export { a } from, export * from (multi-line too)
    /(?:^|[\n;])\s*(?:import|export)\s[^;'"`()=]*?\bfrom\s*['"]([^'"\n]+)['"]/g,
    // import './side-effect.js'
    /(?:^|[\n;])\s*import\s*['"]([^'"\n]+)['"]/g,
    // await import('./lazy.js')
    /\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g,
  ];
  const found = patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1]));
  return [...new Set(found)].filter((specifier) => specifier.startsWith('.'));
}

/** The top folder of a path under src/, or null outside src/. */
function topFolder(file: string): string | null {
  const relative = path.relative(srcRoot, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return null;
  const parts = relative.split(path.sep);
  return parts.length > 1 ? parts[0] : '';
}

const key = (file: string): string => path.relative(srcRoot, file).split(path.sep).join('/');

interface Findings {
  violations: string[];
  unplaced: string[];
  importsSeen: number;
}

function check(files: Array<{ file: string; source: string }>): Findings {
  const violations: string[] = [];
  const unplaced: string[] = [];
  let importsSeen = 0;
  for (const { file, source } of files) {
    const from = topFolder(file)!;
    const fromRank = rank.get(from);
    if (fromRank === undefined) {
      unplaced.push(key(file));
      continue;
    }
    const lines = source.endsWith('\n') ? source.split('\n').length - 1 : source.split('\n').length;
    if (lines > MAX_LINES) violations.push(`${key(file)}: over ${MAX_LINES} lines`);
    for (const specifier of relativeImports(source)) {
      importsSeen++;
      const target = path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts');
      const to = topFolder(target);
      if (to === null) continue; // outside src/ (schemas, package.json)
      const toRank = rank.get(to);
      if (toRank === undefined || toRank > fromRank) violations.push(`${key(file)} -> ${key(target)}`);
    }
  }
  return { violations, unplaced, importsSeen };
}

const sources = tsFiles(srcRoot).map((file) => ({ file, source: readFileSync(file, 'utf8') }));

t.test('every file under src/ belongs to a layer', async (t) => {
  t.ok(sources.length > 50, `read ${sources.length} files`);
  t.same(check(sources).unplaced, [], 'files outside the layered folders (add the folder to LAYERS)');
});

t.test('no file imports from a layer above it, and none is over the size limit', async (t) => {
  const { violations, importsSeen } = check(sources);
  t.ok(importsSeen > 200, `saw ${importsSeen} relative imports`);
  t.same(violations, [], 'upward imports or oversize files');
});

t.test('the import scanner and the layer check catch what they should', async (t) => {
  const source = [
    "import a from './a.js';",
    "import type { B } from '../engine/b.js';",
    'import {',
    '  c,',
    '  type D,',
    "} from '../front/c.js';",
    "export { e } from './e.js';",
    "export * from '../cli/f.js';",
    "import './side.js';",
    "const g = await import('../front/g.js');",
    "import os from 'node:os';",
    "const text = 'not an import from here';",
  ].join('\n');
  t.same(relativeImports(source).sort(), ['../cli/f.js', '../engine/b.js', '../front/c.js', '../front/g.js', './a.js', './e.js', './side.js'].sort());
  const at = (relative: string): string => path.join(srcRoot, relative);
  const { violations } = check([
    { file: at('scheduler/x.ts'), source: "import { y } from '../worker/y.js';\nimport type { Z } from '../sampling/z.js';" },
    { file: at('tokenizer/x.ts'), source: "import type { Y } from '../front/y.js';" },
    { file: at('engine/x.ts'), source: "export { y } from '../cli/y.js';\nimport { w } from '../worker/w.js';" },
    { file: at('model/big.ts'), source: 'x\n'.repeat(MAX_LINES + 1) },
    { file: at('model/fits.ts'), source: 'x\n'.repeat(MAX_LINES) },
  ]);
  t.same(violations, ['tokenizer/x.ts -> front/y.ts', 'engine/x.ts -> cli/y.ts', `model/big.ts: over ${MAX_LINES} lines`]);
  t.same(check([{ file: at('newfolder/x.ts'), source: '' }, { file: at('x.ts'), source: '' }]).unplaced, ['newfolder/x.ts', 'x.ts']);
});
