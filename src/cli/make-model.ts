// `serval make-model --preset NAME --out DIR`: writes a generated test model
// in Hugging Face layout.

import path from 'node:path';
import { parseArgs } from 'node:util';
import { PRESET_NAMES, type PresetName } from '../model/testmodels/presets.js';
import { GGUF_WRITE_TYPES, writeGgufFromFolder, type GgufWriteType } from '../model/testmodels/write-gguf.js';
import { DEFAULT_SEED, writeTestModel } from '../model/testmodels/write-model.js';
import type { WeightDType } from '../model/types.js';

export const MAKE_MODEL_USAGE = `Usage: serval make-model --preset NAME --out DIR [options]

Options:
  --preset NAME        tiny (~0.1M params), small (~4M), bench (~56M), bench-1b (~1.04B,
                       memory benches), encoder (tiny BERT);
                       smollm3, granite3, phi4-mini, gemma3: those families' published shapes,
                       fewer layers (see src/model/testmodels/family-presets.ts);
                       xlmr-embed (bge-m3), xlmr-rerank (bge-reranker-base), bert-rerank
                       (ms-marco-MiniLM-L6), qwen3-embed (Qwen3-Embedding-0.6B): embedding and
                       rerank models (see src/model/testmodels/encoder-presets.ts)
  --out DIR            output folder (created if missing)
  --seed N             weight seed (default ${DEFAULT_SEED})
  --dtype T            F32 (default), F16 or BF16
  --shard-bytes N      split weights into safetensors shards of at most N bytes
  --gguf TYPE          also write DIR/PRESET-TYPE.gguf as llama.cpp would convert it
                       (F32, F16, Q8_0, Q4_0 or Q4_K; tiny, small and bench presets)
`;

export async function runMakeModel(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      preset: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      dtype: { type: 'string' },
      'shard-bytes': { type: 'string' },
      gguf: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(MAKE_MODEL_USAGE);
    return;
  }
  const preset = values.preset;
  if (preset === undefined || !(PRESET_NAMES as readonly string[]).includes(preset)) {
    throw new Error(`make-model: --preset must be one of ${PRESET_NAMES.join(', ')}\n\n${MAKE_MODEL_USAGE}`);
  }
  if (values.out === undefined) throw new Error(`make-model: --out DIR is required\n\n${MAKE_MODEL_USAGE}`);
  const dtype = values.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new Error(`make-model: --dtype must be F32, F16 or BF16, got ${dtype}`);
  const seed = values.seed === undefined ? DEFAULT_SEED : parseInteger('--seed', values.seed, 0);
  const shardBytes = values['shard-bytes'] === undefined ? undefined : parseInteger('--shard-bytes', values['shard-bytes'], 1);
  const gguf = values.gguf;
  if (gguf !== undefined && !(GGUF_WRITE_TYPES as readonly string[]).includes(gguf)) throw new Error(`make-model: --gguf must be one of ${GGUF_WRITE_TYPES.join(', ')}, got ${gguf}`);

  const started = Date.now();
  const written = await writeTestModel(preset as PresetName, path.resolve(values.out), {
    seed,
    dtype: dtype as WeightDType,
    shardBytes,
  });
  if (gguf !== undefined) {
    const file = `${preset}-${gguf}.gguf`;
    await writeGgufFromFolder(written.dir, path.join(written.dir, file), gguf as GgufWriteType);
    written.files.push(file);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `Wrote ${preset} model (${(written.paramCount / 1e6).toFixed(2)}M params, ${dtype}, ` +
      `${(written.weightBytes / 1e6).toFixed(1)} MB of weights, seed ${seed}) to ${written.dir} in ${seconds}s:\n` +
      written.files.map((f) => `  ${f}\n`).join(''),
  );
}

function parseInteger(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`make-model: ${flag} must be an integer ≥ ${min}, got ${text}`);
  return n;
}
