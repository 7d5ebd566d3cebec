// The string formats constrained decoding enforces, as regular expressions
// (anchored, `u` flag) so they intersect with a `pattern` and length limits
// (string-automaton.ts). Each accepts only strings ajv-formats (full mode)
// accepts; some valid values are left out, never the other way round.

// February stops at 28: the 29th would need a leap-year rule.
const DATE = '[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))';
const TIME = '(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])';
const HEX = '[0-9a-f]';
// Host labels of up to 22 characters (DNS allows 63) keep the automaton small.
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?';

export const FORMAT_REGEX: Readonly<Record<string, string>> = {
  date: DATE,
  time: TIME,
  'date-time': `${DATE}T${TIME}`,
  uuid: `${HEX}{8}-${HEX}{4}-${HEX}{4}-${HEX}{4}-${HEX}{12}`,
  // Local parts of letters, digits, _ + - with single dots between; a dotted domain.
  email: `[A-Za-z0-9_+-]+(?:\\.[A-Za-z0-9_+-]+)*@(?:${LABEL}\\.)+[a-z](?:[a-z0-9-]{0,20}[a-z0-9])?`,
  // http(s) URLs with a host name, optional port, path and query of unreserved characters.
  uri: `https?://${LABEL}(?:\\.${LABEL})*(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~-]*)*(?:\\?[A-Za-z0-9._~=&-]*)?`,
};
