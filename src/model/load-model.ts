// One entry point for `--model`: a Hugging Face folder (config.json +
// safetensors + tokenizer files) or a single `.gguf` file.

import { readDecoderConfigs, loadModelFolder, type LoadedDecoderFolder } from './folder.js';
import { isGgufPath, loadGgufModel, readGgufConfigs } from './gguf/load-gguf.js';
import { summarizeModel, type ModelSummary } from './model-summary.js';
import type { DecoderConfig, GenerationDefaults } from './types.js';

export interface LoadedModel extends LoadedDecoderFolder {
  summary: ModelSummary;
}

export async function loadModel(pathArg: string): Promise<LoadedModel> {
  if (isGgufPath(pathArg)) return loadGgufModel(pathArg);
  const folder = await loadModelFolder(pathArg);
  return { ...folder, summary: summarizeModel('safetensors', folder.config.architecture, folder.config, (name) => folder.weights.dtypeOf(name)) };
}

/** Config and generation defaults without the weights. */
export async function readModelConfigs(pathArg: string): Promise<{ dir: string; config: DecoderConfig; generation: GenerationDefaults }> {
  return isGgufPath(pathArg) ? readGgufConfigs(pathArg) : readDecoderConfigs(pathArg);
}

