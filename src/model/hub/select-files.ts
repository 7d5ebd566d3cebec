// Which files of a Hub repo Serval needs, from the repo's file list alone:
// the config, generation and tokenizer files, then one kind of weights —
// safetensors (single file, or the index whose shards are added once it is
// read), an ONNX export for encoders, or one GGUF quantisation.

import { GGMLFileQuantizationType, GGUF_QUANT_ORDER, parseGGUFQuantLabel, RE_GGUF_SHARD_FILE } from '@huggingface/gguf';
import { HubError } from './errors.js';

export type ModelRole = 'decoder' | 'encoder';

/** Which GGUF file to take: by quantisation label (`:Q4_K_M`) or by name (`--gguf-file`). */
export type GgufChoice = { quant: string } | { file: string };

export type Selection =
  /** A model folder: these files, plus the shards named by `index` once it is downloaded. */
  | { kind: 'folder'; files: string[]; index: string | null }
  /** A GGUF checkpoint: `files` (one, or every shard of a split file); `entry` is the one to load. */
  | { kind: 'gguf'; files: string[]; entry: string; quant: string | null };

const CONFIG_FILES = ['config.json', 'generation_config.json'];
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'chat_template.json'];
const SENTENCE_FILES = ['modules.json', 'sentence_bert_config.json', 'config_sentence_transformers.json'];
/** sentence-transformers module configs, e.g. `1_Pooling/config.json`. */
const MODULE_CONFIG_RE = /^\d+_[A-Za-z]+\/config\.json$/;
const SINGLE_WEIGHTS = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
const ONNX_FILES = ['onnx/model.onnx', 'model.onnx'];
/** What llama.cpp's `-hf ORG/REPO` takes when no quantisation is named. */
export const DEFAULT_GGUF_QUANT = 'Q4_K_M';
const SHOWN_FILES = 25;

/** The files to fetch for `repo` given its file list (paths relative to the repo root). */
export function selectFiles(repo: string, paths: string[], role: ModelRole, gguf: GgufChoice | null): Selection {
  const present = new Set(paths);
  if (gguf !== null) {
    if (role === 'encoder') throw new HubError(`${repo}: GGUF embedding models are not supported; give a sentence-transformers repo`);
    return selectGguf(repo, paths, gguf);
  }
  const common = [...CONFIG_FILES, ...TOKENIZER_FILES];
  if (role === 'encoder') common.push(...SENTENCE_FILES, ...paths.filter((p) => MODULE_CONFIG_RE.test(p)));
  const wanted = (extra: string[]): string[] => [...new Set([...common, ...extra])].filter((p) => present.has(p));
  if (present.has('config.json')) {
    if (present.has(INDEX)) return { kind: 'folder', files: wanted([INDEX]), index: INDEX };
    if (present.has(SINGLE_WEIGHTS)) return { kind: 'folder', files: wanted([SINGLE_WEIGHTS]), index: null };
    const onnx = ONNX_FILES.find((p) => present.has(p));
    if (role === 'encoder' && onnx !== undefined) {
      // An export over 2 GB keeps its weights beside the graph.
      return { kind: 'folder', files: wanted([onnx, `${onnx}_data`, `${onnx}.data`]), index: null };
    }
  }
  if (role === 'decoder' && ggufFiles(paths).length > 0) return selectGguf(repo, paths, { quant: DEFAULT_GGUF_QUANT }, true);
  throw new HubError(
    `${repo} has no weights Serval can load (it reads config.json with model.safetensors or model.safetensors.index.json${role === 'encoder' ? ', or an ONNX export' : ', or GGUF files'}); the repo has: ${shown(paths)}`,
  );
}

/** Shard files named by a `model.safetensors.index.json` text (its weight_map values). */
export function indexShards(indexText: string, indexPath: string): string[] {
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(indexText) as { weight_map?: unknown }).weight_map;
  } catch (error) {
    throw new HubError(`${indexPath}: malformed JSON: ${(error as Error).message}`);
  }
  if (typeof weightMap !== 'object' || weightMap === null) throw new HubError(`${indexPath}: no weight_map`);
  const shards = [...new Set(Object.values(weightMap))];
  const bad = shards.find((s) => typeof s !== 'string' || !s.endsWith('.safetensors') || s.includes('..') || s.startsWith('/'));
  if (bad !== undefined) throw new HubError(`${indexPath}: weight_map names ${JSON.stringify(bad)}, not a safetensors file in the repo`);
  return shards as string[];
}

/** GGUF weight files, without the multimodal projectors (`mmproj-*`) that ride along in llama.cpp repos. */
function ggufFiles(paths: string[]): string[] {
  return paths.filter((p) => p.toLowerCase().endsWith('.gguf') && !baseName(p).toLowerCase().startsWith('mmproj'));
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function quantOf(p: string): string | null {
  return parseGGUFQuantLabel(baseName(p)) ?? null;
}

/** The quantisations a repo offers, biggest first as GGUF_QUANT_ORDER lists them, unknown ones last. */
export function availableQuants(paths: string[]): string[] {
  const labels = [...new Set(ggufFiles(paths).map(quantOf).filter((q): q is string => q !== null))];
  const rank = (q: string): number => {
    const type = (GGMLFileQuantizationType as unknown as Record<string, number | undefined>)[q.replace(/^UD-/, '')];
    const i = type === undefined ? -1 : GGUF_QUANT_ORDER.indexOf(type);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  return labels.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function selectGguf(repo: string, paths: string[], choice: GgufChoice, fallbackToFirst = false): Selection {
  const files = ggufFiles(paths);
  if (files.length === 0) throw new HubError(`${repo} has no GGUF files; the repo has: ${shown(paths)}`);
  let matches: string[];
  if ('file' in choice) {
    matches = files.filter((p) => p === choice.file || baseName(p) === choice.file);
    if (matches.length === 0) throw new HubError(`${repo} has no GGUF file named '${choice.file}'; its GGUF files: ${shown(files)}`);
  } else {
    const wanted = choice.quant.toUpperCase();
    matches = files.filter((p) => quantOf(p) === wanted);
    if (matches.length === 0 && fallbackToFirst) matches = [[...files].sort()[0]];
    if (matches.length === 0) {
      const quants = availableQuants(paths);
      throw new HubError(`${repo} has no ${wanted} GGUF file; available quantisations: ${quants.length > 0 ? quants.join(', ') : `none recognised (files: ${shown(files)})`}`);
    }
  }
  // A split checkpoint is one choice: every shard of the first match's set, loaded from shard 1.
  const sorted = [...matches].sort();
  const shard = RE_GGUF_SHARD_FILE.exec(sorted[0])?.groups;
  const chosen = shard === undefined ? [sorted[0]] : files.filter((p) => RE_GGUF_SHARD_FILE.exec(p)?.groups?.prefix === shard.prefix).sort();
  const others = sorted.filter((p) => !chosen.includes(p));
  if (others.length > 0) {
    throw new HubError(`${repo}: several GGUF files match (${shown(sorted)}); name one with --gguf-file`);
  }
  if (shard !== undefined && chosen.length !== Number(shard.total)) {
    throw new HubError(`${repo}: ${sorted[0]} is split into ${Number(shard.total)} parts but the repo has ${chosen.length}`);
  }
  return { kind: 'gguf', files: chosen, entry: chosen[0], quant: quantOf(chosen[0]) };
}

function shown(paths: string[]): string {
  if (paths.length === 0) return '(no files)';
  const head = paths.slice(0, SHOWN_FILES).join(', ');
  return paths.length > SHOWN_FILES ? `${head} and ${paths.length - SHOWN_FILES} more` : head;
}
