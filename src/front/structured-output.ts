// Turns a chat request's response_format and tool_choice into what the engine
// enforces (a grammar) and what the front parses (tool calls). Schemas with
// keywords the grammar cannot enforce are refused here with a 400 naming them.

import type { Grammar } from '../structured/grammar.js';
import { ApiError } from '../protocol/errors.js';
import type { ValidatedChatRequest } from '../protocol/requests.js';
import { jsonObjectGrammar, jsonSchemaGrammar, UnsupportedSchemaError } from '../structured/schema-grammar.js';
import type { ToolCallFormat } from '../structured/tool-call-format.js';
import { toolCallGrammar } from '../structured/tool-call-grammar.js';
import { unionGrammar } from '../structured/grammar-union.js';
import { estimateCompileMs, MAX_COMPILE_MS } from '../structured/grammar-cost.js';

export interface OutputPlan {
  /** Grammar the output must follow, or null for free text. */
  grammar: Grammar | null;
  /** Parse tool calls out of the output in this format; null when no tools may be called. */
  toolFormat: ToolCallFormat | null;
}

let jsonObject: Promise<Grammar> | null = null;

export async function planOutput(req: ValidatedChatRequest, toolFormat: ToolCallFormat, vocabSize: number): Promise<OutputPlan> {
  const tools = req.tools && req.toolChoice !== 'none' ? req.tools : null;
  const format = req.sampling.responseFormat;
  const forced = tools !== null && (req.toolChoice === 'required' || typeof req.toolChoice === 'object');
  // A forced call leaves no text answer for response_format to shape (OpenAI accepts both together).
  if (forced) {
    const choice = req.toolChoice;
    const named = typeof choice === 'object';
    const chosen = named ? tools.filter((tool) => tool.function.name === choice.name) : tools;
    // A named function is one call of it (as OpenAI and vLLM do); "required" allows several unless parallel_tool_calls is false.
    const parallel = named ? false : req.parallelToolCalls;
    const grammar = await checkedGrammar(() => toolCallGrammar(chosen, toolFormat, { parallel }), 'tools', vocabSize);
    return { grammar, toolFormat };
  }
  if (tools !== null && format) {
    // tool_choice "auto": either calls to the tools or an answer in the format.
    const calls = await checkedGrammar(() => toolCallGrammar(tools, toolFormat, { parallel: req.parallelToolCalls }), 'tools', vocabSize);
    const answer = format.type === 'json_object' ? await jsonObjectGrammar() : await checkedGrammar(() => jsonSchemaGrammar(format.schema), 'response_format.json_schema.schema', vocabSize);
    return { grammar: withinCost(unionGrammar([calls, answer]), 'response_format', vocabSize), toolFormat };
  }
  if (format?.type === 'json_object') {
    jsonObject ??= jsonObjectGrammar();
    return { grammar: await jsonObject, toolFormat: null };
  }
  if (format?.type === 'json_schema') {
    const grammar = await checkedGrammar(() => jsonSchemaGrammar(format.schema), 'response_format.json_schema.schema', vocabSize);
    return { grammar, toolFormat: null };
  }
  return { grammar: null, toolFormat: tools ? toolFormat : null };
}

/** The grammar `build` makes, or a 400 naming `param`: a schema keyword it cannot enforce, or a compile too costly for the device. */
async function checkedGrammar(build: () => Promise<Grammar>, param: string, vocabSize: number): Promise<Grammar> {
  let grammar: Grammar;
  try {
    grammar = await build();
  } catch (error) {
    if (!(error instanceof UnsupportedSchemaError)) throw error;
    const { keyword, path, reason } = error.unsupported;
    throw ApiError.invalidRequest(`Unsupported JSON Schema keyword '${keyword}' at ${path}: ${reason}`, param, 'unsupported_schema');
  }
  return withinCost(grammar, param, vocabSize);
}

function withinCost(grammar: Grammar, param: string, vocabSize: number): Grammar {
  const estimate = estimateCompileMs(grammar.ebnf, vocabSize);
  if (estimate > MAX_COMPILE_MS) {
    throw ApiError.invalidRequest(
      `The schema is too complex for constrained decoding: compiling its grammar would take about ${(estimate / 1000).toFixed(1)} s ` +
        `(limit ${MAX_COMPILE_MS / 1000} s), stalling every request on the device meanwhile. Use fewer properties or shorter string length bounds.`,
      param,
      'unsupported_schema',
    );
  }
  return grammar;
}
