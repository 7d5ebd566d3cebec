// The bench-preset model (~56M params) shared by the benches: generated once
// into `${SERVAL_CACHE_DIR ?? ~/.cache/serval}/bench-models/bench` and reused.
// Written to a temporary sibling and renamed into place, so an interrupted or
// concurrent first run never leaves half a model behind.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultCacheDir } from '../src/model/testmodels/default-model.js';
import { DEFAULT_SEED, writeTestModel } from '../src/model/testmodels/write-model.js';

const MARKER = 'serval-bench-model.json';

export async function ensureBenchModel(): Promise<string> {
  const parent = path.join(defaultCacheDir(), 'bench-models');
  const dir = path.join(parent, 'bench');
  if (existsSync(path.join(dir, MARKER))) return dir;
  await mkdir(parent, { recursive: true });
  const tmp = await mkdtemp(path.join(parent, '.bench.tmp-'));
  try {
    await writeTestModel('bench', tmp, { seed: DEFAULT_SEED });
    await writeFile(path.join(tmp, MARKER), JSON.stringify({ preset: 'bench', seed: DEFAULT_SEED }) + '\n');
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
