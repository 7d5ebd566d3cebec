// The one shape of a grammar, from the request to the device worker: plain
// data (it crosses both thread boundaries), compiled only on the device.

/** An EBNF grammar (xgrammar dialect) and the name of its start rule. Built by schema-grammar.ts and tool-call-grammar.ts. */
export interface Grammar {
  ebnf: string;
  root: string;
}
