// Per-token cost of streaming detokenization: the byte-table replay used by
// createDetokenizer vs the vLLM/TGI window method (two library decodes per token).
//
//   npx tsc -p . && node dist/bench/detokenizer.js
//
// Needs ../shared/models (real tokenizer.json files).

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { TextTokenizer } from '../src/tokenizer/tokenizer.js';
import { createDetokenizer, WindowDetokenizer, type Detokenizer } from '../src/tokenizer/detokenizer.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const models = path.resolve(repoRoot, '..', 'shared', 'models');

const SAMPLE =
  'The quick brown fox jumps over the lazy dog. ' +
  'function add(a, b) {\n  return a + b;\n}\n' +
  '中文文本和日本語のテキスト、한국어도 있습니다。 ' +
  'Emoji: 🤗🚀👨‍👩‍👧‍👦🇫🇷 and café, naïve, Ångström. ' +
  '    indented\n\n\tTabbed 12345 67890\n';

async function load(dir: string): Promise<TextTokenizer | null> {
  const file = path.join(models, dir, 'tokenizer.json');
  if (!existsSync(file)) return null;
  const configFile = path.join(models, dir, 'tokenizer_config.json');
  const config = existsSync(configFile) ? (JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>) : null;
  return TextTokenizer.fromFiles({ tokenizerJsonPath: file, tokenizerConfig: config });
}

function timePerToken(make: () => Detokenizer, ids: number[], rounds: number): { us: number; text: string } {
  let text = '';
  // Warm up the JIT and the lazily built tables.
  for (let r = 0; r < 2; r++) {
    const d = make();
    for (const id of ids) d.push(id);
    d.flush();
  }
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    const d = make();
    let out = '';
    for (const id of ids) out += d.push(id);
    out += d.flush();
    text = out;
  }
  const ns = Number(process.hrtime.bigint() - start);
  return { us: ns / 1000 / (rounds * ids.length), text };
}

async function main(): Promise<void> {
  if (!existsSync(models)) {
    console.log('skipped: ../shared/models absent');
    return;
  }
  const rows: string[] = [];
  for (const dir of ['onnx/ogenai-tiny-random-gpt2-fp16', 'tokenizers/phi-3-mini', 'tokenizers/llama2', 'tokenizers/bert-base-uncased']) {
    const tok = await load(dir);
    if (tok === null) continue;
    const ids = await tok.encode(SAMPLE.repeat(20), { addSpecialTokens: false });
    const expected = await tok.decode(ids, { skipSpecialTokens: true });
    const opts = { skipSpecialTokens: true };
    const fast = timePerToken(() => createDetokenizer(tok, opts), ids, 20);
    const window = timePerToken(() => new WindowDetokenizer(tok, opts), ids, 3);
    rows.push(
      `${dir.padEnd(36)} ${tok.backend.padEnd(4)} ${tok.decoderPlan.kind.padEnd(13)} ${String(ids.length).padStart(6)} tokens  ` +
        `createDetokenizer ${fast.us.toFixed(3).padStart(7)} µs/token${fast.text === expected ? '' : ' (MISMATCH)'}  ` +
        `window ${window.us.toFixed(3).padStart(7)} µs/token${window.text === expected ? '' : ' (MISMATCH)'}`,
    );
  }
  console.log(rows.join('\n'));
}

await main();
