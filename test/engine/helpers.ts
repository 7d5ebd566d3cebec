// Shared fixtures for engine tests: a generated model folder per preset (made
// once per process in a temp dir) and a helper that collects a request's tokens.

import '../support/thread-loaders.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeTestModel } from '../../src/model/testmodels/write-model.js';
import type { Engine } from '../../src/engine/client/engine.js';
import type { FinishedMessage, StatsMessage } from '../../src/engine/channel/messages.js';
import type { SamplingParams } from '../../src/sampling/params.js';
import { mulberry32 } from '../support/random.js';

export async function makeModelDir(preset: 'tiny' | 'small'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), `serval-${preset}-`));
  const dir = path.join(root, preset);
  await writeTestModel(preset, dir);
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface Collected {
  tokens: number[];
  finish: FinishedMessage[];
}

export async function collect(engine: Engine, prompt: number[], params: Partial<SamplingParams>, signal?: AbortSignal): Promise<Collected> {
  const tokens: number[] = [];
  const finish: FinishedMessage[] = [];
  for await (const event of engine.generate(prompt, params, signal)) {
    if (event.type === 'tokens') tokens.push(...event.tokenIds);
    else finish.push(event);
  }
  return { tokens, finish };
}

/** Deterministic pseudo-random prompts of the given lengths over [low, high). */
export function makePrompts(lengths: number[], low: number, high: number, seed = 7): number[][] {
  const next = mulberry32(seed);
  return lengths.map((length) => Array.from({ length }, () => low + Math.floor(next() * (high - low))));
}

/**
 * The first stats snapshot the actor took after `since` (ms since epoch, default now): counts in it
 * include everything that finished before. Snapshots come every 200 ms; waits 5 s at most.
 */
export async function freshStats(engine: Engine, since = Date.now()): Promise<StatsMessage> {
  for (let i = 0; i < 500; i++) {
    const stats = engine.stats();
    if (stats !== null && stats.time > since) return stats;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no stats snapshot within 5 s');
}
