// `--model file.gguf`: config from the metadata, weights from the tensor table,
// tokenizer and chat template from `tokenizer.*`. Everything the graph will
// need is checked here (presence, shape, weight type), so an unsupported file
// fails at startup naming the architecture, tensor or type.

import path from 'node:path';
import { tokenizerFromGguf } from '../../tokenizer/gguf/gguf-tokenizer.js';
import { dedupe } from '../config.js';
import { ModelLoadError } from '../errors.js';
import type { LoadedDecoderFolder } from '../folder.js';
import { summarizeModel, type ModelSummary } from '../model-summary.js';
import { decoderTensorSpecs } from '../tensor-names.js';
import type { DecoderConfig, GenerationDefaults } from '../types.js';
import { ggmlTypeName } from './ggml-types.js';
import { ggufDecoderConfig } from './gguf-config.js';
import { GgufFile, unsupportedType } from './gguf-file.js';
import { GgufWeightStore } from './gguf-weight-store.js';
import { ggufName } from './tensor-map.js';

export function isGgufPath(modelPath: string): boolean {
  return modelPath.toLowerCase().endsWith('.gguf');
}

async function openGguf(fileArg: string): Promise<{ file: GgufFile; config: DecoderConfig; generation: GenerationDefaults; architecture: string; permutedQk: boolean }> {
  const file = await GgufFile.open(path.resolve(fileArg));
  const { config, generation, ggufArchitecture, permutedQk } = ggufDecoderConfig(file);
  return { file, config, generation, architecture: `${ggufArchitecture} (${config.architecture})`, permutedQk };
}

/** Config and generation defaults only (the scheduler needs the limits, not the weights). */
export async function readGgufConfigs(fileArg: string): Promise<{ dir: string; config: DecoderConfig; generation: GenerationDefaults }> {
  const { file, config, generation } = await openGguf(fileArg);
  const stops = tokenStops(file.metadata);
  config.eosTokenIds = dedupe([...config.eosTokenIds, ...stops]);
  generation.eosTokenIds = [...config.eosTokenIds];
  return { dir: file.path, config, generation };
}

function tokenStops(metadata: Record<string, unknown>): number[] {
  return typeof metadata['tokenizer.ggml.model'] === 'string' ? tokenizerFromGguf(metadata).stopTokenIds : [];
}

function validate(store: GgufWeightStore, file: GgufFile, config: DecoderConfig): void {
  for (const spec of decoderTensorSpecs(config)) {
    const g = ggufName(spec.name) ?? spec.name;
    if (!store.has(spec.name)) throw new ModelLoadError(file.path, g, `missing tensor (expected shape [${[...spec.shape].reverse().join(', ')}] in ggml order)`);
    const shape = store.shapeOf(spec.name);
    if (shape.length !== spec.shape.length || shape.some((d, i) => d !== spec.shape[i])) {
      throw new ModelLoadError(file.path, g, `wrong shape: expected [${[...spec.shape].reverse().join(', ')}] from the metadata, found [${[...shape].reverse().join(', ')}]`);
    }
    const t = store.tensor(spec.name);
    if (t.type === null) throw unsupportedType(file.path, t);
    if (t.dims[0] % t.type.blockSize !== 0) throw new ModelLoadError(file.path, g, `row length ${t.dims[0]} is not a multiple of the ${t.type.name} block`);
  }
}

export interface LoadedGguf extends LoadedDecoderFolder {
  summary: ModelSummary;
}

export async function loadGgufModel(fileArg: string): Promise<LoadedGguf> {
  const { file, config, generation, architecture, permutedQk } = await openGguf(fileArg);
  const weights = new GgufWeightStore(file, permutedQk, config.headDim);
  validate(weights, file, config);
  const tokenizer = tokenizerFromGguf(file.metadata);
  config.eosTokenIds = dedupe([...config.eosTokenIds, ...tokenizer.stopTokenIds]);
  generation.eosTokenIds = [...config.eosTokenIds];
  return {
    dir: file.path,
    config,
    generation,
    weights,
    // Names the in-memory tokenizer.json in messages.
    tokenizerJsonPath: `${file.path} (tokenizer.ggml.*)`,
    tokenizerJsonText: tokenizer.tokenizerJson,
    tokenizerConfig: tokenizer.tokenizerConfig,
    chatTemplate: tokenizer.chatTemplate,
    summary: summarizeModel('gguf', architecture, config, (name) => weights.tensor(name).type?.name ?? ggmlTypeName(weights.tensor(name).typeId)),
  };
}
