// unionGrammar (tool_choice auto + response_format): the outputs of either part, and
// rule renaming that leaves literals and classes alone.

import t from 'tap';
import { renameRules, unionGrammar } from '../../src/structured/grammar-union.js';
import { jsonSchemaGrammar } from '../../src/structured/schema-grammar.js';
import { toolCallGrammar } from '../../src/structured/tool-call-grammar.js';
import { GrammarCompiler } from '../../src/structured/xgrammar.js';
import { acceptsText, smallVocab } from './helpers.js';

t.test('renaming touches rule names only', async (t) => {
  const ebnf = 'root ::= "root" item [root]\nitem ::= "\\"item\\"" | root\n';
  t.equal(renameRules(ebnf, 'p_'), 'p_root ::= "root" p_item [root]\np_item ::= "\\"item\\"" | p_root\n');
});

t.test('the union accepts a call or an answer in the format, nothing else', async (t) => {
  const { tokenizer, vocab } = await smallVocab();
  const compiler = new GrammarCompiler(vocab);
  const tool = { type: 'function' as const, function: { name: 'f', parameters: { type: 'object', properties: { x: { type: 'integer' } }, required: ['x'] } } };
  const calls = await toolCallGrammar([tool], 'hermes');
  const answer = await jsonSchemaGrammar({ type: 'object', properties: { s: { type: 'string', pattern: '^a+$' } }, required: ['s'] });
  const union = await compiler.compile(unionGrammar([calls, answer]));
  t.ok(await acceptsText(union, tokenizer, '<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call>'), 'a call');
  t.ok(await acceptsText(union, tokenizer, '{"s": "aaa"}'), 'an answer in the format');
  t.notOk(await acceptsText(union, tokenizer, '{"s": "b"}'), 'not an answer outside the format');
  t.notOk(await acceptsText(union, tokenizer, '<tool_call>{"name": "g", "arguments": {}}</tool_call>'), 'not a call to another function');
  t.notOk(await acceptsText(union, tokenizer, 'hello'), 'not free text');
  compiler.dispose();
});
