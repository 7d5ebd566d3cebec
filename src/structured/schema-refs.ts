// The local JSON Schema references constrained decoding supports (`#`,
// `#/$defs/<name>`, `#/definitions/<name>`) and JSON-pointer escaping of the
// names in them (RFC 6901: `~` is `~0`, `/` is `~1`).

/** The definition a `$ref` names, or null when it is not `#/$defs/<name>` or `#/definitions/<name>`. */
export function definitionRef(ref: string): { section: '$defs' | 'definitions'; name: string } | null {
  const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
  if (m === null) return null;
  return { section: m[1] as '$defs' | 'definitions', name: m[2].replaceAll('~1', '/').replaceAll('~0', '~') };
}

/** `name` as one segment of a JSON pointer. */
export function escapePointer(name: string): string {
  return name.replaceAll('~', '~0').replaceAll('/', '~1');
}
