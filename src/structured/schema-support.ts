// The check that finds the first JSON Schema keyword a request uses that
// constrained decoding would not enforce (the vocabulary is schema-keywords.ts).
//
// The rule is "never silently unenforced": a keyword is supported only when
// every output the grammar allows validates against it. Each decision here
// and in schema-keywords.ts was tested against xgrammar 0.1.27 (see docs/structured-output.md and
// test/structured/schema-support.test.ts). Where xgrammar's own conversion is
// unsound (numbers with bounds, strings with length limits or formats),
// schema-grammar.ts writes those rules itself; those keywords count as
// supported here.

import { integerRule, numberRule, type NumericBounds } from './json-leaves.js';
import {
  ANNOTATIONS,
  ENFORCED_FORMATS,
  MAX_BOUND,
  MAX_ITEMS,
  MAX_SCHEMA_DEPTH,
  MAX_STRING_LENGTH,
  REFUSED_FORMATS,
  SUPPORTED,
  TYPES,
  UNSUPPORTED_REASONS,
} from './schema-keywords.js';
import { definitionRef, escapePointer } from './schema-refs.js';
import { needsAutomaton, StringConstraintError, stringLeafAutomaton } from './string-leaf.js';

export interface UnsupportedKeyword {
  /** The keyword, e.g. `patternProperties`, or `$ref` for an unresolvable reference. */
  keyword: string;
  /** JSON pointer of the schema object that uses it, e.g. `#/properties/tags/items`. */
  path: string;
  /** One sentence for the 400 message. */
  reason: string;
}

type Schema = Record<string, unknown>;

/**
 * Returns the first keyword of `schema` that constrained decoding would not
 * enforce (or that is malformed), or null when the whole schema is supported.
 * Walk order: the schema's own keywords in the order written, depth first.
 */
export function findUnsupportedKeyword(schema: unknown): UnsupportedKeyword | null {
  // Iteratively, before the recursive checks: a very deep schema must not overflow the stack.
  const tooDeep = firstTooDeep(schema);
  if (tooDeep) return tooDeep;
  const checker = new Checker(schema);
  return checker.check(schema, '#');
}

class Checker {
  constructor(private readonly root: unknown) {}

  check(schema: unknown, path: string): UnsupportedKeyword | null {
    if (schema === true) return null;
    if (schema === false) return fail('false', path, 'a `false` schema matches nothing and cannot be generated');
    if (!isObject(schema)) return fail('type', path, 'a schema must be an object or a boolean');

    for (const keyword of Object.keys(schema)) {
      if (ANNOTATIONS.has(keyword) || keyword.startsWith('x-')) continue;
      if (!SUPPORTED.has(keyword)) {
        return fail(keyword, path, UNSUPPORTED_REASONS[keyword] ?? 'unknown keyword');
      }
    }
    const types = this.typesOf(schema, path);
    if ('error' in types) return types.error;

    return (
      this.checkCombinators(schema, path) ??
      this.checkRef(schema, path) ??
      this.checkDefs(schema, path) ??
      this.checkValues(schema, types.types, path) ??
      this.checkObject(schema, types.types, path) ??
      this.checkArray(schema, types.types, path) ??
      this.checkString(schema, types.types, path) ??
      this.checkNumber(schema, types.types, path)
    );
  }

  private typesOf(schema: Schema, path: string): { types: Set<string> | null } | { error: UnsupportedKeyword } {
    if (!('type' in schema)) return { types: null };
    const raw = schema.type;
    const list = Array.isArray(raw) ? raw : [raw];
    if (list.length === 0) return { error: fail('type', path, '`type` must name at least one type') };
    for (const t of list) {
      if (typeof t !== 'string' || !TYPES.has(t)) return { error: fail('type', path, `unknown type ${JSON.stringify(t)}`) };
    }
    if ('nullable' in schema && typeof schema.nullable !== 'boolean') {
      return { error: fail('nullable', path, '`nullable` must be a boolean') };
    }
    const types = new Set(list as string[]);
    if (schema.nullable === true) types.add('null');
    return { types };
  }

  private checkRef(schema: Schema, path: string): UnsupportedKeyword | null {
    if (!('$ref' in schema)) return null;
    const ref = schema.$ref;
    for (const key of Object.keys(schema)) {
      if (key !== '$ref' && key !== '$defs' && key !== 'definitions' && !ANNOTATIONS.has(key) && !key.startsWith('x-')) {
        return fail(key, path, 'keywords beside `$ref` are not enforced; move them into the referenced schema');
      }
    }
    if (typeof ref !== 'string' || resolveRef(this.root, ref) === undefined) {
      return fail('$ref', path, `reference ${JSON.stringify(ref)} does not resolve (supported: "#", "#/$defs/<name>", "#/definitions/<name>")`);
    }
    return null;
  }

  private checkDefs(schema: Schema, path: string): UnsupportedKeyword | null {
    for (const key of ['$defs', 'definitions'] as const) {
      if (!(key in schema)) continue;
      const defs = schema[key];
      if (!isObject(defs)) return fail(key, path, `\`${key}\` must be an object of schemas`);
      for (const [name, def] of Object.entries(defs)) {
        const found = this.check(def, `${path}/${key}/${escapePointer(name)}`);
        if (found) return found;
      }
    }
    return null;
  }

  private checkValues(schema: Schema, types: Set<string> | null, path: string): UnsupportedKeyword | null {
    const hasEnum = 'enum' in schema;
    if (!hasEnum && !('const' in schema)) return null;
    if (hasEnum && (!Array.isArray(schema.enum) || schema.enum.length === 0)) {
      return fail('enum', path, '`enum` must be a non-empty array');
    }
    // The grammar emits the listed values verbatim and ignores other constraints,
    // so each value must already satisfy them; we accept only `type` beside it.
    for (const key of Object.keys(schema)) {
      if (key === 'enum' || key === 'const' || key === 'type' || key === 'nullable' || ANNOTATIONS.has(key) || key.startsWith('x-')) continue;
      return fail(key, path, `\`${key}\` beside \`${hasEnum ? 'enum' : 'const'}\` is not enforced`);
    }
    const values: unknown[] = hasEnum ? (schema.enum as unknown[]) : [schema.const];
    for (const value of values) {
      if (types !== null && !types.has(jsonTypeOf(value)) && !(jsonTypeOf(value) === 'integer' && types.has('number'))) {
        return fail(hasEnum ? 'enum' : 'const', path, `value ${JSON.stringify(value)} does not match \`type\``);
      }
    }
    return null;
  }

  private checkObject(schema: Schema, types: Set<string> | null, path: string): UnsupportedKeyword | null {
    const props = schema.properties;
    if ('properties' in schema) {
      if (!isObject(props)) return fail('properties', path, '`properties` must be an object of schemas');
      for (const [name, sub] of Object.entries(props)) {
        const found = this.check(sub, `${path}/properties/${escapePointer(name)}`);
        if (found) return found;
      }
    }
    if ('required' in schema) {
      const required = schema.required;
      if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) {
        return fail('required', path, '`required` must be an array of property names');
      }
      for (const name of required as string[]) {
        if (!isObject(props) || !(name in props)) {
          return fail('required', path, `required property ${JSON.stringify(name)} is not listed in \`properties\``);
        }
      }
    }
    if ('additionalProperties' in schema) {
      const extra = schema.additionalProperties;
      if (typeof extra !== 'boolean') {
        if (isObject(props) && Object.keys(props).length > 0) {
          return fail(
            'additionalProperties',
            path,
            'a schema for additional properties beside `properties` is not enforced (a free key could repeat a declared one)',
          );
        }
        const found = this.check(extra, `${path}/additionalProperties`);
        if (found) return found;
      }
    }
    return needsType(schema, types, ['properties', 'required', 'additionalProperties'], 'object', path);
  }

  private checkArray(schema: Schema, types: Set<string> | null, path: string): UnsupportedKeyword | null {
    if ('items' in schema && schema.items !== false) {
      const found = this.check(schema.items, `${path}/items`);
      if (found) return found;
    }
    if ('prefixItems' in schema) {
      if (!Array.isArray(schema.prefixItems)) return fail('prefixItems', path, '`prefixItems` must be an array of schemas');
      for (let i = 0; i < schema.prefixItems.length; i++) {
        const found = this.check(schema.prefixItems[i], `${path}/prefixItems/${i}`);
        if (found) return found;
      }
    }
    const bad = checkCount(schema, 'minItems', 'maxItems', MAX_ITEMS, path);
    if (bad) return bad;
    return needsType(schema, types, ['items', 'prefixItems', 'minItems', 'maxItems'], 'array', path);
  }

  private checkString(schema: Schema, types: Set<string> | null, path: string): UnsupportedKeyword | null {
    const bad = checkCount(schema, 'minLength', 'maxLength', MAX_STRING_LENGTH, path, ' (each unit is a grammar rule; longer limits take seconds to compile)');
    if (bad) return bad;
    if ('format' in schema) {
      const format = schema.format;
      if (typeof format !== 'string') return fail('format', path, '`format` must be a string');
      if (REFUSED_FORMATS.has(format)) return fail('format', path, `format ${JSON.stringify(format)} is not enforced`);
    }
    if ('pattern' in schema && typeof schema.pattern !== 'string') return fail('pattern', path, '`pattern` must be a string');
    const keywords = ['minLength', 'maxLength', 'pattern'];
    if (typeof schema.format === 'string' && ENFORCED_FORMATS.has(schema.format)) keywords.push('format');
    const untyped = needsType(schema, types, keywords, 'string', path);
    if (untyped) return untyped;
    if (types !== null && types.has('string') && needsAutomaton(schema)) {
      try {
        stringLeafAutomaton(schema);
      } catch (error) {
        if (error instanceof StringConstraintError) return fail(error.keyword, path, error.message);
        throw error;
      }
    }
    return null;
  }

  private checkNumber(schema: Schema, types: Set<string> | null, path: string): UnsupportedKeyword | null {
    const keywords = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'];
    for (const key of keywords) {
      if (!(key in schema)) continue;
      const v = schema[key];
      if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > MAX_BOUND) {
        return fail(key, path, `\`${key}\` must be a number of magnitude at most ${MAX_BOUND}`);
      }
    }
    if ('minimum' in schema && 'exclusiveMinimum' in schema) return fail('exclusiveMinimum', path, 'use either minimum or exclusiveMinimum');
    if ('maximum' in schema && 'exclusiveMaximum' in schema) return fail('exclusiveMaximum', path, 'use either maximum or exclusiveMaximum');
    const found = needsType(schema, types, keywords, 'number', path);
    if (found) return found;
    if (types !== null && (types.has('number') || types.has('integer')) && keywords.some((k) => k in schema)) {
      const lo = (schema.minimum ?? schema.exclusiveMinimum) as number | undefined;
      const hi = (schema.maximum ?? schema.exclusiveMaximum) as number | undefined;
      if (lo !== undefined && hi !== undefined && (lo > hi || (lo === hi && ('exclusiveMinimum' in schema || 'exclusiveMaximum' in schema)))) {
        return fail('minimum' in schema ? 'minimum' : 'exclusiveMinimum', path, 'the range is empty');
      }
      // The grammar writes integers exactly but numbers only as integers and
      // whole unit intervals (json-leaves.ts): a narrow range may hold none.
      const bounds: NumericBounds = {};
      for (const key of keywords) if (key in schema) bounds[key as keyof NumericBounds] = schema[key] as number;
      const keyword = keywords.find((k) => k in schema)!;
      if (types.has('integer') && integerRule(bounds) === null) return fail(keyword, path, 'no integer lies in the range');
      if (types.has('number') && numberRule(bounds) === null) {
        return fail(keyword, path, 'the range is too narrow to generate (it holds no integer and no whole unit interval)');
      }
    }
    return null;
  }

  private checkCombinators(schema: Schema, path: string): UnsupportedKeyword | null {
    const structural = Object.keys(schema).filter((k) => SUPPORTED.has(k) && k !== '$defs' && k !== 'definitions');
    if ((schema.anyOf !== undefined || schema.oneOf !== undefined) && structural.length > 1) {
      // Also catches anyOf beside oneOf: each would be enforced alone.
      const extra = structural.find((k) => k !== 'anyOf' && k !== 'oneOf') ?? 'oneOf';
      return fail(extra, path, `\`${extra}\` beside \`anyOf\`/\`oneOf\` is not enforced; move it into each branch`);
    }
    for (const key of ['anyOf', 'oneOf'] as const) {
      if (!(key in schema)) continue;
      const branches = schema[key];
      if (!Array.isArray(branches) || branches.length === 0) return fail(key, path, `\`${key}\` must be a non-empty array of schemas`);
      for (let i = 0; i < branches.length; i++) {
        const found = this.check(branches[i], `${path}/${key}/${i}`);
        if (found) return found;
      }
      if (key === 'oneOf' && !this.branchesDisjoint(branches)) {
        return fail('oneOf', path, 'branches may overlap, and an output matching two of them would violate oneOf; use anyOf');
      }
    }
    return null;
  }

  /**
   * A cheap, sound test that no JSON value matches two branches: the branches
   * produce different JSON types, or distinct constants, or are objects told
   * apart by a required property with a different constant in each.
   */
  private branchesDisjoint(branches: unknown[]): boolean {
    const resolved = branches.map((b) => this.deref(b));
    const kinds = resolved.map(kindsOf);
    if (kinds.every((k) => k !== null)) {
      const seen = new Set<string>();
      let overlap = false;
      for (const k of kinds as Set<string>[]) {
        for (const t of k) {
          const clash = seen.has(t) || (t === 'integer' && seen.has('number')) || (t === 'number' && seen.has('integer'));
          if (clash) overlap = true;
        }
        for (const t of k) seen.add(t);
      }
      if (!overlap) return true;
    }
    const constants = resolved.map(constantsOf);
    if (constants.every((c) => c !== null)) {
      const all = (constants as string[][]).flat();
      if (new Set(all).size === all.length) return true;
    }
    return this.discriminated(resolved);
  }

  private discriminated(branches: unknown[]): boolean {
    if (!branches.every(isObject)) return false;
    const objects = branches as Schema[];
    const first = objects[0];
    if (!isObject(first.properties)) return false;
    for (const name of Object.keys(first.properties)) {
      const values: string[] = [];
      for (const b of objects) {
        const required = Array.isArray(b.required) && (b.required as unknown[]).includes(name);
        const prop = isObject(b.properties) ? this.deref(b.properties[name]) : undefined;
        const c = required ? constantsOf(prop) : null;
        if (c === null || c.length !== 1) break;
        values.push(c[0]);
      }
      if (values.length === objects.length && new Set(values).size === values.length) return true;
    }
    return false;
  }

  private deref(schema: unknown): unknown {
    let current = schema;
    for (let hops = 0; hops < 16 && isObject(current) && typeof current.$ref === 'string'; hops++) {
      current = resolveRef(this.root, current.$ref);
    }
    return current;
  }
}

/** The JSON types a schema can produce, when its `type` (or values) say so; null = unknown. */
function kindsOf(schema: unknown): Set<string> | null {
  if (!isObject(schema)) return null;
  if ('type' in schema) {
    const list = Array.isArray(schema.type) ? schema.type : [schema.type];
    const set = new Set(list as string[]);
    if (schema.nullable === true) set.add('null');
    return set;
  }
  const values = 'enum' in schema && Array.isArray(schema.enum) ? schema.enum : 'const' in schema ? [schema.const] : null;
  return values === null ? null : new Set(values.map(jsonTypeOf));
}

/** Canonical JSON texts of the values a const/enum schema allows; null when not one. */
function constantsOf(schema: unknown): string[] | null {
  if (!isObject(schema)) return null;
  if ('const' in schema) return [JSON.stringify(schema.const)];
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v));
  return null;
}

function needsType(schema: Schema, types: Set<string> | null, keywords: string[], type: string, path: string): UnsupportedKeyword | null {
  const used = keywords.find((k) => k in schema);
  if (used === undefined) return null;
  const matches = types !== null && (types.has(type) || (type === 'number' && types.has('integer')));
  if (matches) return null;
  return fail(used, path, `\`${used}\` is enforced only with \`"type": "${type}"\` in the same schema`);
}

function checkCount(schema: Schema, minKey: string, maxKey: string, limit: number, path: string, why = ''): UnsupportedKeyword | null {
  for (const key of [minKey, maxKey]) {
    if (!(key in schema)) continue;
    const v = schema[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > limit) {
      return fail(key, path, `\`${key}\` must be an integer between 0 and ${limit}${why}`);
    }
  }
  if (minKey in schema && maxKey in schema && (schema[minKey] as number) > (schema[maxKey] as number)) {
    return fail(minKey, path, `\`${minKey}\` is larger than \`${maxKey}\``);
  }
  return null;
}

/** Resolves the local references we support: `#`, `#/$defs/x`, `#/definitions/x`. */
export function resolveRef(root: unknown, ref: string): unknown {
  if (ref === '#') return root;
  const target = definitionRef(ref);
  if (target === null || !isObject(root)) return undefined;
  const defs = root[target.section];
  if (!isObject(defs)) return undefined;
  return Object.hasOwn(defs, target.name) ? defs[target.name] : undefined;
}

export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Keywords whose value is a map of names to sub-schemas: the map is no level of its own. */
const SCHEMA_MAPS = new Set(['properties', '$defs', 'definitions', 'patternProperties', 'dependentSchemas']);

/**
 * The first sub-schema nested deeper than MAX_SCHEMA_DEPTH schema levels (the
 * root is level 1; `properties: {a: …}` and `anyOf: […]` add one level, not
 * two), reported with the keyword that holds it. Data under `enum`/`const`
 * only counts as the level it sits in.
 */
function firstTooDeep(schema: unknown): UnsupportedKeyword | null {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: schema, path: '#', depth: 1 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (!isObject(value)) continue;
    for (const [key, child] of Object.entries(value)) {
      if (key === 'enum' || key === 'const' || child === null || typeof child !== 'object') continue;
      const at = `${path}/${escapePointer(key)}`;
      const children: Array<[string, unknown]> = Array.isArray(child)
        ? child.map((c, i) => [`${at}/${i}`, c])
        : SCHEMA_MAPS.has(key) && isObject(child)
          ? Object.entries(child).map(([name, c]) => [`${at}/${escapePointer(name)}`, c])
          : [[at, child]];
      for (const [childPath, c] of children) {
        if (!isObject(c)) continue;
        if (depth + 1 > MAX_SCHEMA_DEPTH) {
          return fail(key, path, `sub-schemas nest deeper than ${MAX_SCHEMA_DEPTH} levels (each object, array or combinator schema inside another is one level)`);
        }
        stack.push({ value: c, path: childPath, depth: depth + 1 });
      }
    }
  }
  return null;
}

function isObject(value: unknown): value is Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function fail(keyword: string, path: string, reason: string): UnsupportedKeyword {
  return { keyword, path, reason };
}
