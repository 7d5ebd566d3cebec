// PromptBounds only refuses what cannot fit: whenever it refuses a text, the
// tokenizer would have produced at least max-model-len tokens.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { PromptBounds } from '../../src/front/prompt-bounds.js';
import { ApiError } from '../../src/protocol/errors.js';
import type { ChatMessage } from '../../src/protocol/requests.js';
import { buildDecoderTokenizerJson } from '../../src/model/testmodels/tokenizer-files.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { mulberry32 } from '../support/random.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'serval-bounds-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'tokenizer.json');
writeFileSync(file, JSON.stringify(buildDecoderTokenizerJson(3072)));
const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath: file });

const refused = (fn: () => void): ApiError | null => {
  try {
    fn();
    return null;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
};

t.test('a refused text always has at least max-model-len tokens', async (t) => {
  const next = mulberry32(11);
  const pieces = ['the ', 'serval ', '你好', '🙂', '  ', '\n', 'x', 'éé', 'aaaaaaaa'];
  let longest = 1;
  for (let id = 0; id < tokenizer.vocabSize; id++) longest = Math.max(longest, tokenizer.tokenBytes(id).length);
  let refusals = 0;
  for (const maxModelLen of [4, 16, 64]) {
    const bounds = new PromptBounds(tokenizer, maxModelLen);
    for (let trial = 0; trial < 60; trial++) {
      let text = '';
      // Up to 1.5× the bound (2 × max-model-len × the longest token), so about a third are refused.
      const length = Math.floor(next() * 3 * maxModelLen * longest);
      while (text.length < length) text += pieces[Math.floor(next() * pieces.length)];
      const error = refused(() => bounds.checkText(text, 'prompt'));
      if (error === null) continue;
      refusals++;
      const tokens = (await tokenizer.encode(text, { addSpecialTokens: false })).length;
      if (tokens < maxModelLen) t.fail(`refused ${text.length} characters that are only ${tokens} tokens (max ${maxModelLen})`);
      t.equal(error.status, 400);
      t.equal(error.code, 'context_length_exceeded');
    }
  }
  t.ok(refusals > 10, `${refusals} refusals checked against the tokenizer`);
});

t.test('messages: as many as the context, or content beyond the bound, are refused', async (t) => {
  const bounds = new PromptBounds(tokenizer, 32);
  const message = (content: string): ChatMessage => ({ role: 'user', content });
  t.equal(refused(() => bounds.checkMessages(Array.from({ length: 31 }, () => message('hi')))), null, '31 short messages may fit');
  t.match(refused(() => bounds.checkMessages(Array.from({ length: 32 }, () => message('hi')))), { param: 'messages', code: 'context_length_exceeded' });
  t.match(refused(() => bounds.checkMessages([message('x'.repeat(1_000_000))])), { param: 'messages' });
});
