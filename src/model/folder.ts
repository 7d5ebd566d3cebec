// Loading a model folder in the layout people download from the Hugging Face
// Hub: config + safetensors + tokenizer files. Everything is validated here,
// up front, so a bad checkpoint fails at startup with the file and tensor
// named rather than deep inside graph building.

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { dedupe, encoderMaxTokens, parseDecoderConfig, parseEncoderConfig, parseGenerationConfig, parseJsonText } from './config.js';
import { ModelLoadError } from './errors.js';
import { RenamedWeightStore } from './renamed-weight-store.js';
import { openSafetensorsDir, isSupportedDType, type SafetensorsWeightStore } from './safetensors.js';
import { classifierTensorSpecs, decoderTensorSpecs, encoderTensorSpecs, type TensorSpec } from './tensor-names.js';
import type {
  DecoderConfig,
  EncoderConfig,
  GenerationDefaults,
  PoolingMode,
  SentenceTransformerConfig,
  WeightStore,
} from './types.js';

export interface LoadedDecoderFolder {
  dir: string;
  config: DecoderConfig;
  generation: GenerationDefaults;
  weights: WeightStore;
  tokenizerJsonPath: string;
  /** The tokenizer.json itself when it is not a file (GGUF); the path then only names it. */
  tokenizerJsonText?: string;
  /** Parsed `tokenizer_config.json`, or null when the folder has none. */
  tokenizerConfig: Record<string, unknown> | null;
  chatTemplate: string | null;
}

export interface LoadedEncoderFolder {
  dir: string;
  config: EncoderConfig;
  sentence: SentenceTransformerConfig;
  /** Null only for ONNX-only exports (no safetensors, `onnxPath` set). */
  weights: WeightStore | null;
  tokenizerJsonPath: string;
  tokenizerConfig: Record<string, unknown> | null;
  /** `onnx/model.onnx` or `model.onnx` when the folder ships an ONNX export. */
  onnxPath: string | null;
}

export function readJson(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new ModelLoadError(file, null, 'file not found');
  return parseJsonText(file, readFileSync(file, 'utf8'));
}

export function readOptionalJson(file: string): Record<string, unknown> | null {
  return existsSync(file) ? readJson(file) : null;
}

export function checkDir(dir: string): string {
  const abs = path.resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new ModelLoadError(abs, null, 'model folder not found');
  return abs;
}

export function requireTokenizerJson(dir: string): string {
  const p = path.join(dir, 'tokenizer.json');
  if (!existsSync(p)) {
    throw new ModelLoadError(p, null, 'file not found (tokenizers must be in the Hugging Face tokenizer.json format)');
  }
  return p;
}

/** Checks presence, shape and dtype of every tensor the config needs. */
export function validateTensors(store: SafetensorsWeightStore, specs: TensorSpec[]): void {
  for (const spec of specs) {
    if (!store.has(spec.name)) {
      throw new ModelLoadError(store.source, spec.name, `missing tensor (expected shape [${spec.shape.join(', ')}])`);
    }
    const e = store.entry(spec.name);
    if (e.shape.length !== spec.shape.length || e.shape.some((d, i) => d !== spec.shape[i])) {
      throw new ModelLoadError(
        e.file,
        spec.name,
        `wrong shape: expected [${spec.shape.join(', ')}] from config.json, found [${e.shape.join(', ')}]`,
      );
    }
    if (!isSupportedDType(e.dtype)) {
      throw new ModelLoadError(e.file, spec.name, `unsupported dtype ${e.dtype}; only F32, F16 and BF16 weights are supported`);
    }
  }
}

/**
 * The chat template, in order of precedence: `chat_template.jinja`, then
 * `chat_template.json`, then `tokenizer_config.json` → `chat_template`
 * (a string, or a list of {name, template} where "default" wins).
 */
export function resolveChatTemplate(dir: string, tokenizerConfig: Record<string, unknown> | null): string | null {
  const jinja = path.join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return readFileSync(jinja, 'utf8');
  const jsonFile = path.join(dir, 'chat_template.json');
  const fromJson = readOptionalJson(jsonFile);
  if (fromJson !== null && fromJson.chat_template !== undefined) {
    return templateFromField(jsonFile, fromJson.chat_template);
  }
  if (tokenizerConfig === null || tokenizerConfig.chat_template === undefined || tokenizerConfig.chat_template === null) {
    return null;
  }
  return templateFromField(path.join(dir, 'tokenizer_config.json'), tokenizerConfig.chat_template);
}

function templateFromField(file: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.filter(
      (v): v is { name: string; template: string } =>
        typeof v === 'object' && v !== null && typeof v.name === 'string' && typeof v.template === 'string',
    );
    if (named.length !== value.length || named.length === 0) {
      throw new ModelLoadError(file, 'chat_template', 'expected a string or a non-empty list of {name, template}');
    }
    return (named.find((t) => t.name === 'default') ?? named[0]).template;
  }
  throw new ModelLoadError(file, 'chat_template', `expected a string or a list of {name, template}, got ${typeof value}`);
}

/**
 * config.json and generation_config.json of a decoder folder, without the
 * weights: end ids merged from both files (generation stops on any of them).
 */
export function readDecoderConfigs(dirArg: string): { dir: string; config: DecoderConfig; generation: GenerationDefaults } {
  const dir = checkDir(dirArg);
  const configFile = path.join(dir, 'config.json');
  const config = parseDecoderConfig(readJson(configFile), configFile);
  const genFile = path.join(dir, 'generation_config.json');
  const genJson = readOptionalJson(genFile);
  const generation = genJson === null ? { eosTokenIds: [] } : parseGenerationConfig(genJson, genFile);
  // Either file may list end tokens; generation stops on any of them.
  const eos = dedupe([...config.eosTokenIds, ...generation.eosTokenIds]);
  for (const id of eos) {
    if (id >= config.vocabSize) throw new ModelLoadError(genFile, 'eos_token_id', `token id ${id} is outside the vocabulary (vocab_size ${config.vocabSize})`);
  }
  config.eosTokenIds = eos;
  generation.eosTokenIds = [...eos];
  return { dir, config, generation };
}

export async function loadModelFolder(dirArg: string): Promise<LoadedDecoderFolder> {
  const { dir, config, generation } = readDecoderConfigs(dirArg);
  const weights = openSafetensorsDir(dir);
  validateTensors(weights, decoderTensorSpecs(config));

  const tokenizerJsonPath = requireTokenizerJson(dir);
  const tokenizerConfig = readOptionalJson(path.join(dir, 'tokenizer_config.json'));
  const chatTemplate = resolveChatTemplate(dir, tokenizerConfig);
  return { dir, config, generation, weights, tokenizerJsonPath, tokenizerConfig, chatTemplate };
}

// ---------------------------------------------------------------- encoders

interface ModuleEntry {
  path: string;
  type: string;
}

function readModules(dir: string): ModuleEntry[] | null {
  const file = path.join(dir, 'modules.json');
  if (!existsSync(file)) return null;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(file, null, `malformed JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(value)) throw new ModelLoadError(file, null, 'expected a list of modules');
  return value.map((m, i) => {
    if (typeof m !== 'object' || m === null || typeof m.type !== 'string' || typeof m.path !== 'string') {
      throw new ModelLoadError(file, `[${i}]`, 'expected {idx, name, path, type}');
    }
    return { path: m.path as string, type: m.type as string };
  });
}

const POOLING_FLAGS: [string, PoolingMode | null][] = [
  ['pooling_mode_mean_tokens', 'mean'],
  ['pooling_mode_cls_token', 'cls'],
  ['pooling_mode_max_tokens', 'max'],
  ['pooling_mode_lasttoken', 'lasttoken'],
  ['pooling_mode_mean_sqrt_len_tokens', null],
  ['pooling_mode_weightedmean_tokens', null],
];

function readPooling(file: string): PoolingMode {
  const json = readJson(file);
  const enabled = POOLING_FLAGS.filter(([flag]) => json[flag] === true);
  if (enabled.length !== 1) {
    throw new ModelLoadError(
      file,
      'pooling_mode_*',
      `expected exactly one pooling mode set to true, found ${enabled.length === 0 ? 'none' : enabled.map(([f]) => f).join(', ')}`,
    );
  }
  const [flag, mode] = enabled[0];
  if (mode === null) throw new ModelLoadError(file, flag, 'unsupported pooling mode (supported: mean, cls, max, lasttoken)');
  return mode;
}

/** modules.json, the Pooling config and sentence_bert_config.json; `positions` bounds max_seq_length (its default). */
export function readSentenceConfig(dir: string, positions: number): SentenceTransformerConfig {
  const modules = readModules(dir);
  let pooling: PoolingMode = 'mean';
  let normalize = false;
  if (modules !== null) {
    const poolingModule = modules.find((m) => m.type.endsWith('.Pooling'));
    if (poolingModule !== undefined) pooling = readPooling(path.join(dir, poolingModule.path, 'config.json'));
    normalize = modules.some((m) => m.type.endsWith('.Normalize'));
  }
  const stFile = path.join(dir, 'sentence_bert_config.json');
  const st = readOptionalJson(stFile);
  let maxSeqLength = positions;
  if (st !== null && st.max_seq_length !== undefined && st.max_seq_length !== null) {
    const v = st.max_seq_length;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      throw new ModelLoadError(stFile, 'max_seq_length', `expected a positive integer, got ${JSON.stringify(v)}`);
    }
    if (v > positions) {
      throw new ModelLoadError(stFile, 'max_seq_length', `${v} exceeds the ${positions} positions max_position_embeddings in config.json allows`);
    }
    maxSeqLength = v;
  }
  return { pooling, normalize, maxSeqLength };
}

/**
 * Reads encoder tensors under the prefix *For{MaskedLM,SequenceClassification}
 * checkpoints put on them (`bert.`, `roberta.`); names not found under it
 * (the `classifier.*` head) are read as they are.
 */
function prefixedStore(inner: WeightStore, prefix: string): WeightStore {
  return new RenamedWeightStore(
    inner,
    (name) => (inner.has(prefix + name) ? prefix + name : name),
    (name) => (name.startsWith(prefix) ? name.slice(prefix.length) : name),
  );
}

export async function loadEncoderFolder(dirArg: string): Promise<LoadedEncoderFolder> {
  const dir = checkDir(dirArg);
  const configFile = path.join(dir, 'config.json');
  const config = parseEncoderConfig(readJson(configFile), configFile);
  const sentence = readSentenceConfig(dir, encoderMaxTokens(config));

  const onnxCandidates = [path.join(dir, 'onnx', 'model.onnx'), path.join(dir, 'model.onnx')];
  const onnxPath = onnxCandidates.find((p) => existsSync(p)) ?? null;
  const hasSafetensors = ['model.safetensors', 'model.safetensors.index.json'].some((f) => existsSync(path.join(dir, f)));

  let weights: WeightStore | null = null;
  if (hasSafetensors || onnxPath === null) {
    const store = openSafetensorsDir(dir);
    const specs = [...encoderTensorSpecs(config), ...classifierTensorSpecs(config)];
    // Whatever the architecture says, the tensors decide: some exports drop or keep the prefix.
    const prefix = ['bert.', 'roberta.'].find((p) => !store.has(specs[0].name) && store.has(p + specs[0].name)) ?? '';
    validateTensors(store, specs.map((s) => ({ ...s, name: store.has(prefix + s.name) ? prefix + s.name : s.name })));
    weights = prefix === '' ? store : prefixedStore(store, prefix);
  }
  const tokenizerJsonPath = requireTokenizerJson(dir);
  const tokenizerConfig = readOptionalJson(path.join(dir, 'tokenizer_config.json'));
  return { dir, config, sentence, weights, tokenizerJsonPath, tokenizerConfig, onnxPath };
}
