// The JSON Schema vocabulary of constrained decoding: which keywords and
// formats it enforces, which it refuses and why, and the limits on their
// values. schema-support.ts applies these to a request's schema.

/** Keywords that only describe; they never constrain output. */
export const ANNOTATIONS = new Set([
  'title',
  'description',
  'default',
  'examples',
  'example',
  '$comment',
  '$schema',
  '$id',
  '$anchor',
  'deprecated',
  'readOnly',
  'writeOnly',
  'contentEncoding',
  'contentMediaType',
  'strict',
]);

/** Keywords whose value holds sub-schemas or data; schema-support.ts checks each. */
export const SUPPORTED = new Set([
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'anyOf',
  'oneOf',
  '$ref',
  '$defs',
  'definitions',
  'minLength',
  'maxLength',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'nullable',
]);

/** Why some well-known keywords are refused (shown in the 400). */
export const UNSUPPORTED_REASONS: Record<string, string> = {
  patternProperties: 'property-name patterns are not enforced',
  propertyNames: 'property-name constraints are not enforced',
  additionalItems: 'use prefixItems with items instead',
  unevaluatedProperties: 'not enforced',
  unevaluatedItems: 'not enforced',
  uniqueItems: 'not enforced: duplicates could be generated',
  contains: 'not enforced',
  minContains: 'not enforced',
  maxContains: 'not enforced',
  multipleOf: 'not enforced',
  minProperties: 'not enforced: generated objects may repeat a free key',
  maxProperties: 'not enforced',
  dependentRequired: 'not enforced',
  dependentSchemas: 'not enforced',
  dependencies: 'not enforced',
  allOf: 'not enforced (merge the sub-schemas into one)',
  not: 'not enforced',
  if: 'conditional schemas are not enforced',
  then: 'conditional schemas are not enforced',
  else: 'conditional schemas are not enforced',
  $dynamicRef: 'dynamic references are not supported',
  $recursiveRef: 'dynamic references are not supported',
};

/**
 * Formats whose values the grammar spells out exactly (json-leaves.ts,
 * string-formats.ts); each may be combined with `pattern` and length limits.
 */
export const ENFORCED_FORMATS = new Set(['date', 'time', 'date-time', 'uuid', 'email', 'uri']);

/**
 * Formats that JSON Schema validators check but we cannot enforce. Other
 * format names (OpenAPI's `binary`, `byte`, `int32`, `password`, ...) are not
 * assertions in JSON Schema and are treated as annotations.
 */
export const REFUSED_FORMATS = new Set([
  'idn-email',
  'hostname',
  'idn-hostname',
  'ipv4',
  'ipv6',
  'uri-reference',
  'iri',
  'iri-reference',
  'uri-template',
  'json-pointer',
  'relative-json-pointer',
  'regex',
  'duration',
]);

export const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);

/** Largest magnitude a bound may have: beyond it, integers stop being exact doubles. */
export const MAX_BOUND = Number.MAX_SAFE_INTEGER;
/**
 * Largest minLength/maxLength: each unit is one grammar rule, compiled at
 * ~13 ms per rule on a 32k vocabulary (json-leaves.ts stringRule).
 */
export const MAX_STRING_LENGTH = 128;
/** Largest minItems/maxItems: xgrammar expands the count into rules (4000 compile in ~0.1 s). */
export const MAX_ITEMS = 4096;

/**
 * Deepest nesting of sub-schemas (the root is level 1). xgrammar's schema
 * conversion recurses per level and traps inside its WebAssembly memory at
 * about 68 nested `items`; real schemas stay far below this.
 */
export const MAX_SCHEMA_DEPTH = 48;
