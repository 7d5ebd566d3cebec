// The Hub settings Python's huggingface_hub reads from the environment, read
// the same way so both tools share one cache, one token and one mirror.

import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HubError } from './errors.js';

export interface HubSettings {
  /** Base URL of the Hub (HF_ENDPOINT, default https://huggingface.co), no trailing slash. */
  endpoint: string;
  /** Access token (HF_TOKEN, else the file `huggingface-cli login` wrote), or null. */
  token: string | null;
  /** HF_HUB_OFFLINE: never touch the network, serve from the cache. */
  offline: boolean;
  /** The hub cache folder (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir: string;
}

const TRUE_VALUES = new Set(['1', 'on', 'yes', 'true']);

export function hubSettings(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const endpoint = (env.HF_ENDPOINT?.trim() || 'https://huggingface.co').replace(/\/+$/, '');
  const token = readToken(env);
  // Python's huggingface_hub rejects nothing here; @huggingface/hub requires the prefix, so say so at once.
  if (token !== null && !token.startsWith('hf_')) throw new HubError("the Hugging Face token (HF_TOKEN) must start with 'hf_'");
  return {
    endpoint,
    token,
    offline: TRUE_VALUES.has((env.HF_HUB_OFFLINE ?? '').trim().toLowerCase()),
    cacheDir: cacheDirFrom(env),
  };
}

function hfHome(env: NodeJS.ProcessEnv): string {
  return env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
}

/** As huggingface_hub (and @huggingface/hub's getHFHubCachePath) resolve it. */
function cacheDirFrom(env: NodeJS.ProcessEnv): string {
  return env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? path.join(hfHome(env), 'hub');
}

function readToken(env: NodeJS.ProcessEnv): string | null {
  const fromEnv = (env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN)?.trim();
  if (fromEnv) return fromEnv;
  const file = env.HF_TOKEN_PATH ?? path.join(hfHome(env), 'token');
  if (!existsSync(file)) return null;
  const stored = readFileSync(file, 'utf8').trim();
  return stored === '' ? null : stored;
}
