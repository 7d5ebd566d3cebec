// What a --model argument names: a local folder or .gguf file, or a Hugging
// Face Hub repo id `ORG/NAME[@REVISION][:QUANT]` (the llama.cpp `-hf` form for
// a GGUF quantisation). A path that exists wins, so a local `models/qwen`
// folder is never mistaken for a repo.

import { existsSync } from 'node:fs';

export interface HubSpec {
  /** `ORG/NAME`. */
  repo: string;
  /** Branch, tag or commit sha (default `main`). */
  revision: string;
  /** GGUF quantisation label from `:QUANT` (e.g. `Q4_K_M`), or null. */
  quant: string | null;
  /** The argument as the user wrote it: the model id Serval reports. */
  given: string;
}

// Hub names: letters, digits, '-', '_', '.'; neither part may start with '.' or '-' or hold '..'.
const NAME = '[A-Za-z0-9_][A-Za-z0-9_.-]*';
const SPEC_RE = new RegExp(`^(${NAME}/${NAME})(?:@([^:@\\s]+))?(?::([A-Za-z0-9_-]+))?$`);

/** The hub spec `arg` names, or null when it is not of the `ORG/NAME[@REV][:QUANT]` shape. */
export function parseHubSpec(arg: string): HubSpec | null {
  const m = SPEC_RE.exec(arg);
  if (m === null || m[1].includes('..')) return null;
  return { repo: m[1], revision: m[2] ?? 'main', quant: m[3] ?? null, given: arg };
}

/** A hub spec when `arg` is not an existing local path and has the repo-id shape; else null (a local path). */
export function hubSpecOf(arg: string): HubSpec | null {
  if (existsSync(arg)) return null;
  return parseHubSpec(arg);
}
