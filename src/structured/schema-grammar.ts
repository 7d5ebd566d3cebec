// JSON schema → grammar. xgrammar converts the structure (objects, arrays,
// anyOf, $ref, enum/const); the leaves it gets wrong (json-leaves.ts) are
// swapped out first for unique string constants, which come back in its EBNF
// as recognisable literals that we replace by our own rules.

import { FORMAT_RULES, integerRule, numberRule, stringRule, type NumericBounds } from './json-leaves.js';
import { ENFORCED_FORMATS } from './schema-keywords.js';
import { findUnsupportedKeyword, type UnsupportedKeyword } from './schema-support.js';
import type { Grammar } from './grammar.js';
import { automatonRules } from './string-automaton.js';
import { needsAutomaton, stringLeafAutomaton } from './string-leaf.js';
import { jsonSchemaToEbnf } from './xgrammar.js';

/** A request's schema uses something we cannot enforce; answer 400 naming `keyword`. */
export class UnsupportedSchemaError extends Error {
  constructor(readonly unsupported: UnsupportedKeyword) {
    super(`response schema keyword "${unsupported.keyword}" at ${unsupported.path} is not supported: ${unsupported.reason}`);
    this.name = 'UnsupportedSchemaError';
  }
}

export interface JsonGrammarOptions {
  /**
   * Item and key separators. The grammar allows no other whitespace, which
   * keeps small or random models from wandering in blank space.
   * Default `[', ', ': ']` (Python json.dumps), what models most often write.
   */
  separators?: readonly [string, string];
}

const DEFAULT_SEPARATORS: readonly [string, string] = [', ', ': '];

/** Grammar for `response_format: json_schema`. Throws UnsupportedSchemaError. */
export async function jsonSchemaGrammar(schema: unknown, options: JsonGrammarOptions = {}): Promise<Grammar> {
  const unsupported = findUnsupportedKeyword(schema);
  if (unsupported !== null) throw new UnsupportedSchemaError(unsupported);
  const leaves = new LeafTable(JSON.stringify(schema));
  const rewritten = rewrite(schema, leaves, '#');
  const ebnf = await jsonSchemaToEbnf(rewritten, options.separators ?? DEFAULT_SEPARATORS);
  return { ebnf: leaves.substitute(ebnf), root: 'root' };
}

/** Grammar for `response_format: json_object`: any JSON object, no free whitespace. */
export function jsonObjectGrammar(options: JsonGrammarOptions = {}): Promise<Grammar> {
  return jsonSchemaGrammar({ type: 'object' }, options);
}

// ---- leaf substitution ----------------------------------------------------------

class LeafTable {
  private readonly nonce: string;
  private readonly bodies: string[] = [];
  private readonly helpers: string[] = [];

  constructor(schemaText: string) {
    // A marker must not occur in the user's schema, or we would rewrite their constants.
    let n = 0;
    while (schemaText.includes(`SRVLEAF${n}X`)) n++;
    this.nonce = `SRVLEAF${n}X`;
  }

  /** Name the next leaf's rule will get (for its helper rules). */
  nextName(): string {
    return `serval_leaf_${this.bodies.length}`;
  }

  /** Registers a rule body (and helper rules); returns the stand-in schema xgrammar will see. */
  add(body: string, helpers: readonly string[] = []): { const: string } {
    const index = this.bodies.length;
    this.bodies.push(body);
    this.helpers.push(...helpers);
    return { const: `${this.nonce}${index}` };
  }

  substitute(ebnf: string): string {
    let out = ebnf;
    for (let i = 0; i < this.bodies.length; i++) {
      // xgrammar writes a string constant as the literal "\"<text>\"".
      out = out.replaceAll(`"\\"${this.nonce}${i}\\""`, `serval_leaf_${i}`);
    }
    const extra = [...this.bodies.map((body, i) => `serval_leaf_${i} ::= ${body}`), ...this.helpers];
    return extra.length === 0 ? out : `${out.trimEnd()}\n${extra.join('\n')}\n`;
  }
}

type Schema = Record<string, unknown>;

const NUMERIC_KEYS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'] as const;

/**
 * Copies `schema` with owned leaves replaced by stand-ins, `type` lists and
 * `nullable` turned into anyOf (so each branch can be a leaf), and
 * annotations dropped. Assumes findUnsupportedKeyword passed.
 */
function rewrite(schema: unknown, leaves: LeafTable, path: string): unknown {
  if (schema === true) return {};
  if (typeof schema === 'boolean' || schema === null || typeof schema !== 'object') return schema;
  const s = schema as Schema;
  if ('enum' in s || 'const' in s) return 'enum' in s ? { enum: s.enum } : { const: s.const };
  if ('$ref' in s) return withDefs({ $ref: s.$ref }, s, leaves, path);

  const types = 'type' in s ? (Array.isArray(s.type) ? (s.type as string[]) : [s.type as string]) : null;
  if (types !== null) {
    const all = s.nullable === true && !types.includes('null') ? [...types, 'null'] : types;
    if (all.length > 1) {
      const branches = all.map((t) => rewriteTyped(s, t, leaves, path));
      return withDefs({ anyOf: branches }, s, leaves, path);
    }
    return withDefs(rewriteTyped(s, all[0], leaves, path) as Schema, s, leaves, path);
  }
  const out: Schema = {};
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[key])) {
      // oneOf passed the disjointness check, so anyOf generates the same set.
      out.anyOf = (s[key] as unknown[]).map((b, i) => rewrite(b, leaves, `${path}/${key}/${i}`));
    }
  }
  if (Object.keys(out).length === 0 && !hasStructure(s)) return withDefs({}, s, leaves, path);
  // Keywords of several types with no `type`: findUnsupportedKeyword refuses those.
  return withDefs(out, s, leaves, path);
}

function hasStructure(s: Schema): boolean {
  return ['properties', 'items', 'prefixItems', 'additionalProperties'].some((k) => k in s);
}

/** One branch of a (possibly multi-) typed schema, keeping only that type's keywords. */
function rewriteTyped(s: Schema, type: string, leaves: LeafTable, path: string): unknown {
  switch (type) {
    case 'integer':
    case 'number': {
      const bounds: NumericBounds = {};
      for (const k of NUMERIC_KEYS) if (typeof s[k] === 'number') bounds[k] = s[k] as number;
      const body = type === 'integer' ? integerRule(bounds) : numberRule(bounds);
      if (body === null) {
        throw new UnsupportedSchemaError({
          keyword: NUMERIC_KEYS.find((k) => k in s) ?? 'minimum',
          path,
          reason: type === 'integer' ? 'no integer lies in the range' : 'the range is too narrow to generate (it holds no integer and no whole unit interval)',
        });
      }
      return leaves.add(body);
    }
    case 'string': {
      if (needsAutomaton(s)) {
        const rules = automatonRules(leaves.nextName(), stringLeafAutomaton(s));
        return leaves.add(rules.body, rules.rules);
      }
      const format = typeof s.format === 'string' && ENFORCED_FORMATS.has(s.format) ? s.format : null;
      if (format !== null) return leaves.add(FORMAT_RULES[format]);
      if ('minLength' in s || 'maxLength' in s) {
        const min = typeof s.minLength === 'number' ? s.minLength : 0;
        const max = typeof s.maxLength === 'number' ? s.maxLength : null;
        const rule = stringRule(leaves.nextName(), min, max);
        return leaves.add(rule.body, rule.rules);
      }
      return { type: 'string' };
    }
    case 'object': {
      const out: Schema = { type: 'object' };
      if (s.properties !== undefined) {
        const props: Schema = {};
        for (const [name, sub] of Object.entries(s.properties as Schema)) {
          props[name] = rewrite(sub, leaves, `${path}/properties/${name}`);
        }
        out.properties = props;
      }
      if (s.required !== undefined) out.required = s.required;
      const hasProps = s.properties !== undefined && Object.keys(s.properties as Schema).length > 0;
      if (hasProps) {
        // Declared properties only: a free key could repeat a declared one and
        // override it. `additionalProperties: true` is narrowed to this too.
        out.additionalProperties = false;
      } else if (s.additionalProperties === false) {
        out.additionalProperties = false;
      } else if (s.additionalProperties !== undefined && s.additionalProperties !== true) {
        out.additionalProperties = rewrite(s.additionalProperties, leaves, `${path}/additionalProperties`);
      } else {
        out.additionalProperties = true;
      }
      return out;
    }
    case 'array': {
      const out: Schema = { type: 'array' };
      if (s.prefixItems !== undefined) out.prefixItems = (s.prefixItems as unknown[]).map((b, i) => rewrite(b, leaves, `${path}/prefixItems/${i}`));
      if (s.items !== undefined) out.items = rewrite(s.items, leaves, `${path}/items`);
      if (s.minItems !== undefined) out.minItems = s.minItems;
      if (s.maxItems !== undefined) out.maxItems = s.maxItems;
      return out;
    }
    default:
      return { type };
  }
}

/** Re-attaches rewritten `$defs`/`definitions` so `$ref`s still resolve. */
function withDefs(out: Schema, s: Schema, leaves: LeafTable, path: string): Schema {
  for (const key of ['$defs', 'definitions'] as const) {
    const defs = s[key];
    if (defs === null || typeof defs !== 'object') continue;
    const rewritten: Schema = {};
    for (const [name, def] of Object.entries(defs as Schema)) rewritten[name] = rewrite(def, leaves, `${path}/${key}/${name}`);
    out[key] = rewritten;
  }
  return out;
}
