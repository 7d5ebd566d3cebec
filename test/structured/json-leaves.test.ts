// Our numeric rules against plain arithmetic: an integer rule accepts exactly
// the integers in range; a number rule accepts only values in range, and at
// least the integers and the decimals of whole unit intervals in range.

import t from 'tap';
import fc from 'fast-check';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { FORMAT_RULES, integerRule, numberRule, stringRule, type NumericBounds } from '../../src/structured/json-leaves.js';
import { GrammarCompiler, type CompiledGrammar } from '../../src/structured/xgrammar.js';
import { acceptsText, smallVocab } from './helpers.js';

function inRange(x: number, b: NumericBounds): boolean {
  return (
    (b.minimum === undefined || x >= b.minimum) &&
    (b.maximum === undefined || x <= b.maximum) &&
    (b.exclusiveMinimum === undefined || x > b.exclusiveMinimum) &&
    (b.exclusiveMaximum === undefined || x < b.exclusiveMaximum)
  );
}

const bound = fc.oneof(fc.integer({ min: -3000, max: 3000 }), fc.double({ min: -3000, max: 3000, noNaN: true }).map((x) => Math.round(x * 100) / 100));
const boundsArb = fc
  .record({ lo: fc.option(bound, { nil: undefined }), hi: fc.option(bound, { nil: undefined }), loEx: fc.boolean(), hiEx: fc.boolean() })
  .map(({ lo, hi, loEx, hiEx }) => {
    const b: NumericBounds = {};
    if (lo !== undefined && hi !== undefined && lo > hi) [lo, hi] = [hi, lo];
    if (lo !== undefined) b[loEx ? 'exclusiveMinimum' : 'minimum'] = lo;
    if (hi !== undefined) b[hiEx ? 'exclusiveMaximum' : 'maximum'] = hi;
    return b;
  });

/** Probe values around the bounds and elsewhere. */
function probes(b: NumericBounds, rand: () => number): number[] {
  const edges = [b.minimum, b.maximum, b.exclusiveMinimum, b.exclusiveMaximum].filter((x): x is number => x !== undefined);
  const out = [0, -1, 1, 5000, -5000];
  for (const e of edges) out.push(Math.floor(e) - 1, Math.floor(e), Math.ceil(e), Math.ceil(e) + 1, e, e - 0.5, e + 0.5, e + 0.25);
  for (let i = 0; i < 6; i++) out.push(Math.round((rand() * 8000 - 4000) * 1000) / 1000);
  return out;
}

async function compileRule(compiler: GrammarCompiler, body: string): Promise<CompiledGrammar> {
  return compiler.compile({ ebnf: `root ::= ${body}\n`, root: 'root' });
}

t.test('integer and number rules agree with arithmetic', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab, 8);
  const samples = fc.sample(boundsArb, { numRuns: 40, seed: 7 });
  let rng = 1;
  const rand = (): number => ((rng = (rng * 16807) % 2147483647) / 2147483647);
  for (const b of samples) {
    const intBody = integerRule(b);
    const numBody = numberRule(b);
    const intGrammar = intBody === null ? null : await compileRule(compiler, intBody);
    const numGrammar = numBody === null ? null : await compileRule(compiler, numBody);
    for (const x of probes(b, rand)) {
      if (Number.isInteger(x)) {
        const want = inRange(x, b);
        const got = intGrammar !== null && (await acceptsText(intGrammar, tokenizer, String(x)));
        if (got !== want) t.fail(`integer ${x} with ${JSON.stringify(b)}: grammar ${got}, arithmetic ${want}`);
        const numGot = numGrammar !== null && (await acceptsText(numGrammar, tokenizer, String(x)));
        if (numGot !== want) t.fail(`number ${x} (an integer) with ${JSON.stringify(b)}: grammar ${numGot}, arithmetic ${want}`);
      } else {
        const text = x.toFixed(3);
        const accepted = numGrammar !== null && (await acceptsText(numGrammar, tokenizer, text));
        if (accepted && !inRange(Number(text), b)) t.fail(`number ${text} accepted outside ${JSON.stringify(b)}`);
        // The unit interval the grammar reasons about: [m, m+1) above zero, (-(m+1), -m] below.
        const v = Number(text);
        const m = Math.floor(Math.abs(v));
        const [near, far] = v >= 0 ? [m, m + 1] : [-m, -(m + 1)];
        const farOk = inRange(far, b) || far === b.exclusiveMaximum || far === b.exclusiveMinimum;
        if (inRange(near, b) && farOk && !accepted) t.fail(`number ${text} in a whole unit interval of ${JSON.stringify(b)} rejected`);
      }
    }
  }
  t.pass(`checked ${samples.length} random ranges`);
  for (const text of ['01', '-0', '1.', '.5', '1e3', '1.0000001', '+1']) {
    const g = await compileRule(compiler, numberRule({})!);
    t.notOk(await acceptsText(g, tokenizer, text), `not JSON or not allowed: ${text}`);
  }
  compiler.dispose();
});

t.test('format rules accept only what ajv-formats (full mode) accepts', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab, 8);
  const ajv = new Ajv2020({ strict: false });
  (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
  const pad = (n: number, w: number): string => String(n).padStart(w, '0');
  const gen: Record<string, (r: () => number) => string> = {
    date: (r) => `${pad(Math.floor(r() * 10000), 4)}-${pad(Math.floor(r() * 14), 2)}-${pad(Math.floor(r() * 33), 2)}`,
    time: (r) => `${pad(Math.floor(r() * 26), 2)}:${pad(Math.floor(r() * 62), 2)}:${pad(Math.floor(r() * 62), 2)}${r() < 0.5 ? 'Z' : '+' + pad(Math.floor(r() * 25), 2) + ':' + pad(Math.floor(r() * 61), 2)}`,
    uuid: (r) => [8, 4, 4, 4, 12].map((n) => Array.from({ length: n }, () => '0123456789abcdefg'[Math.floor(r() * 17)]).join('')).join('-'),
  };
  gen['date-time'] = (r) => `${gen.date(r)}T${gen.time(r)}`;
  let rng = 3;
  const rand = (): number => ((rng = (rng * 16807) % 2147483647) / 2147483647);
  for (const [format, make] of Object.entries(gen)) {
    const grammar = await compiler.compile({ ebnf: `root ::= ${FORMAT_RULES[format]}\n`, root: 'root' });
    const validate = ajv.compile({ type: 'string', format });
    let accepted = 0;
    for (let i = 0; i < 150; i++) {
      const value = make(rand);
      const ok = await acceptsText(grammar, tokenizer, JSON.stringify(value));
      if (ok) accepted++;
      if (ok && !validate(value)) t.fail(`${format}: grammar accepts ${value}, ajv-formats does not`);
    }
    t.ok(accepted > 0, `${format}: ${accepted}/150 random candidates accepted, all valid`);
  }
  compiler.dispose();
});

t.test('length-limited string rules count code points', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab, 8);
  for (const [min, max] of [[0, 0], [0, 3], [2, 2], [3, null]] as [number, number | null][]) {
    const rule = stringRule('s', min, max);
    const grammar = await compiler.compile({ ebnf: `root ::= ${rule.body}\n${rule.rules.join('\n')}\n`, root: 'root' });
    for (let n = 0; n <= 5; n++) {
      const text = JSON.stringify([...'é€a😀b'].slice(0, n).join(''));
      const want = n >= min && (max === null || n <= max);
      t.equal(await acceptsText(grammar, tokenizer, text), want, `[${min}, ${max ?? '∞'}] ${text}`);
    }
  }
  compiler.dispose();
});
