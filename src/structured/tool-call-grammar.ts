// The grammar that forces tool calls, for tool_choice "required" or a named
// function: every complete output is one or more calls, in the model's
// format, to the offered tools, with arguments valid against each tool's
// parameters schema.

import type { ToolDefinition } from '../protocol/requests.js';
import type { Grammar } from './grammar.js';
import { jsonSchemaGrammar, UnsupportedSchemaError, type JsonGrammarOptions } from './schema-grammar.js';
import { definitionRef, escapePointer } from './schema-refs.js';
import { findUnsupportedKeyword } from './schema-support.js';
import { CALL_START, HERMES_CALL_END, type ToolCallFormat } from './tool-call-format.js';

export interface ToolGrammarOptions extends JsonGrammarOptions {
  /** Allow several calls in one turn (OpenAI parallel_tool_calls, default true). */
  parallel?: boolean;
}

/**
 * Grammar whose every complete output is one or more calls (in the model's
 * format) to the given tools, with arguments valid against each tool's
 * parameters schema. Pass only the named tool for `tool_choice: {function}`.
 * Throws UnsupportedSchemaError; its path starts with `#/tools/<i>/function/parameters`.
 */
export async function toolCallGrammar(tools: readonly ToolDefinition[], format: ToolCallFormat, options: ToolGrammarOptions = {}): Promise<Grammar> {
  if (tools.length === 0) throw new Error('toolCallGrammar needs at least one tool');
  const argsKey = format === 'llama3' ? 'parameters' : 'arguments';
  const defs: Record<string, unknown> = {};
  const branches = tools.map((tool, i) => {
    const params = tool.function.parameters ?? { type: 'object', properties: {} };
    // Check each tool on its own, so paths and $refs are relative to its parameters.
    const unsupported = findUnsupportedKeyword(params);
    if (unsupported !== null) {
      throw new UnsupportedSchemaError({ ...unsupported, path: `#/tools/${i}/function/parameters${unsupported.path.slice(1)}` });
    }
    return {
      type: 'object',
      properties: { name: { const: tool.function.name }, [argsKey]: hoistDefinitions(params, i, defs) },
      required: ['name', argsKey],
      additionalProperties: false,
    };
  });
  const schema: Record<string, unknown> = branches.length === 1 ? { ...branches[0] } : { anyOf: branches };
  if (Object.keys(defs).length > 0) schema.$defs = defs;
  let call: Grammar;
  try {
    call = await jsonSchemaGrammar(schema, options);
  } catch (err) {
    if (!(err instanceof UnsupportedSchemaError)) throw err;
    throw new UnsupportedSchemaError({ ...err.unsupported, path: toolPath(err.unsupported.path, branches.length > 1) });
  }
  const parallel = options.parallel ?? true;
  const repeat = (item: string, separator: string): string => (parallel ? `${item} (${separator} ${item})*` : item);
  let top: string;
  switch (format) {
    case 'hermes':
      top = repeat(`${literal(CALL_START.hermes)} root ${literal(HERMES_CALL_END)}`, '"\\n"');
      break;
    case 'llama3':
      top = repeat('root', '"; "');
      break;
    case 'mistral':
      top = `${literal(CALL_START.mistral)} "[" ${repeat('root', '", "')} "]"`;
      break;
  }
  return { ebnf: `${call.ebnf.trimEnd()}\nserval_tool_calls ::= ${top}\n`, root: 'serval_tool_calls' };
}

/**
 * Tool parameters may carry `$defs` and refer to them (or to themselves, `#`).
 * In the combined schema `#` is no longer their root, so their definitions
 * move to the combined root's `$defs` under `t<i>_<name>` (their root as
 * `t<i>__root`) and their references are rewritten. Returns what stands in
 * for the parameters.
 */
function hoistDefinitions(params: Record<string, unknown>, tool: number, defs: Record<string, unknown>): unknown {
  const own = { ...(params.$defs as Record<string, unknown> | undefined), ...(params.definitions as Record<string, unknown> | undefined) };
  const text = JSON.stringify(params);
  const usesRefs = text.includes('"$ref"');
  if (!usesRefs) return params;
  const rootKey = `t${tool}__root`;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' && typeof v === 'string') out.$ref = rewriteRef(v, tool, rootKey);
      else out[key] = rewrite(v);
    }
    return out;
  };
  for (const [name, def] of Object.entries(own)) defs[`t${tool}_${name}`] = rewrite(def);
  const { $defs: _d, definitions: _e, ...body } = params;
  defs[rootKey] = rewrite(body);
  return { $ref: `#/$defs/${rootKey}` };
}

function rewriteRef(ref: string, tool: number, rootKey: string): string {
  if (ref === '#') return `#/$defs/${rootKey}`;
  const target = definitionRef(ref);
  if (target === null) return ref;
  return `#/$defs/${escapePointer(`t${tool}_${target.name}`)}`;
}

/** Maps a path inside the combined call schema back to the request's tools[]. */
function toolPath(path: string, multiple: boolean): string {
  const m = multiple ? /^#\/anyOf\/(\d+)\/properties\/(?:arguments|parameters)(.*)$/.exec(path) : /^#()\/properties\/(?:arguments|parameters)(.*)$/.exec(path);
  if (m === null) return path;
  return `#/tools/${multiple ? m[1] : '0'}/function/parameters${m[2]}`;
}

/** An EBNF string literal (the markers hold no quote or backslash). */
function literal(text: string): string {
  return `"${text}"`;
}
