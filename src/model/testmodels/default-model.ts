// The models `serval` serves when the user names none: generated once into a
// cache directory. Each is written to a temporary sibling directory and renamed
// into place, so a crash or a concurrent first run never leaves half a model.

import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PresetName } from './presets.js';
import { DEFAULT_SEED, writeTestModel } from './write-model.js';

/** Bump when generated files change, so stale caches are regenerated. */
export const GENERATOR_VERSION = 1;
const MARKER = 'serval-testmodel.json';

export const DEFAULT_CHAT_MODEL_NAME = 'serval-small-chat';
export const DEFAULT_EMBED_MODEL_NAME = 'serval-tiny-embed';

export interface DefaultModelPaths {
  chatModelDir: string;
  embedModelDir: string;
}

export function defaultCacheDir(): string {
  return process.env.SERVAL_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'serval');
}

interface Marker {
  generatorVersion: number;
  preset: PresetName;
  seed: number;
}

function isCurrent(dir: string, preset: PresetName): boolean {
  const file = path.join(dir, MARKER);
  if (!existsSync(file)) return false;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Marker;
    return m.generatorVersion === GENERATOR_VERSION && m.preset === preset && m.seed === DEFAULT_SEED;
  } catch {
    return false;
  }
}

/** Temp dirs older than this are leftovers of a crashed run, not a concurrent one still writing. */
const STALE_TEMP_MS = 60 * 60 * 1000;

async function removeStaleTemps(modelsDir: string, name: string): Promise<void> {
  for (const entry of await readdir(modelsDir)) {
    if (!entry.startsWith(`.${name}.tmp-`) && !entry.startsWith(`${name}.old-`)) continue;
    const full = path.join(modelsDir, entry);
    const info = await stat(full).catch(() => null);
    if (info !== null && Date.now() - info.mtimeMs > STALE_TEMP_MS) await rm(full, { recursive: true, force: true });
  }
}

async function ensureModel(modelsDir: string, name: string, preset: PresetName): Promise<string> {
  const finalDir = path.join(modelsDir, name);
  if (isCurrent(finalDir, preset)) return finalDir;
  await mkdir(modelsDir, { recursive: true });
  await removeStaleTemps(modelsDir, name);
  const tmp = await mkdtemp(path.join(modelsDir, `.${name}.tmp-`));
  try {
    await writeTestModel(preset, tmp, { seed: DEFAULT_SEED });
    const marker: Marker = { generatorVersion: GENERATOR_VERSION, preset, seed: DEFAULT_SEED };
    await writeFile(path.join(tmp, MARKER), JSON.stringify(marker) + '\n');
    if (existsSync(finalDir)) {
      // Stale (older generator) or incomplete from a pre-marker version: move it aside, then replace.
      const old = `${finalDir}.old-${process.pid}-${Date.now()}`;
      await rename(finalDir, old).catch(() => undefined);
      await rm(old, { recursive: true, force: true });
    }
    try {
      await rename(tmp, finalDir);
    } catch (err) {
      // Another process won the race and its model is complete; use it.
      if (isCurrent(finalDir, preset)) return finalDir;
      throw err;
    }
    return finalDir;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Generates the default chat and embedding models on first use; returns their folders. */
export async function ensureDefaultModels(cacheDir: string = defaultCacheDir()): Promise<DefaultModelPaths> {
  const modelsDir = path.join(cacheDir, 'models');
  const chatModelDir = await ensureModel(modelsDir, DEFAULT_CHAT_MODEL_NAME, 'small');
  const embedModelDir = await ensureModel(modelsDir, DEFAULT_EMBED_MODEL_NAME, 'encoder');
  return { chatModelDir, embedModelDir };
}
