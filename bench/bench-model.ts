// The bench-preset model (~56M params) shared by the benches (and other presets
// some benches need): generated once into
// `${SERVAL_CACHE_DIR ?? ~/.cache/serval}/bench-models/PRESET` and reused.
// Written to a temporary sibling and renamed into place, so an interrupted or
// concurrent first run never leaves half a model behind.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultCacheDir } from '../src/model/testmodels/default-model.js';
import type { DecoderPresetName } from '../src/model/testmodels/presets.js';
import { writeGgufFromFolder, type GgufWriteType } from '../src/model/testmodels/write-gguf.js';
import { DEFAULT_SEED, writeTestModel } from '../src/model/testmodels/write-model.js';

const MARKER = 'serval-bench-model.json';

export function ensureBenchModel(): Promise<string> {
  return ensureTestModel('bench');
}

/** A make-model preset in the bench cache (bench-1b is written in BF16, as such checkpoints ship). */
export async function ensureTestModel(preset: DecoderPresetName): Promise<string> {
  const parent = path.join(defaultCacheDir(), 'bench-models');
  const dir = path.join(parent, preset);
  if (existsSync(path.join(dir, MARKER))) return dir;
  await mkdir(parent, { recursive: true });
  const tmp = await mkdtemp(path.join(parent, `.${preset}.tmp-`));
  try {
    await writeTestModel(preset, tmp, { seed: DEFAULT_SEED, dtype: preset === 'bench-1b' ? 'BF16' : 'F32' });
    await writeFile(path.join(tmp, MARKER), JSON.stringify({ preset, seed: DEFAULT_SEED }) + '\n');
    await rename(tmp, dir).catch(async (error: unknown) => {
      // Another run finished first; its model is complete.
      if (!existsSync(path.join(dir, MARKER))) throw error;
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  return dir;
}

/** The bench preset written as GGUF of `type` by the test writer, cached beside the bench model. */
export async function ensureBenchGguf(type: GgufWriteType): Promise<string> {
  const folder = await ensureBenchModel();
  const dir = path.join(defaultCacheDir(), 'bench-models', 'gguf');
  const file = path.join(dir, `bench-${type}.gguf`);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeGgufFromFolder(folder, tmp, type);
  await rename(tmp, file);
  return file;
}
