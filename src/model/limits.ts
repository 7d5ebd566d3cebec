// The few facts the scheduler needs about a model (context length, end ids),
// read from its JSON files without touching the weights.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDecoderConfig, parseGenerationConfig, parseJsonText, dedupe } from './config.js';

export interface DecoderLimits {
  maxPositionEmbeddings: number;
  vocabSize: number;
  /** From config.json and generation_config.json together. */
  eosTokenIds: number[];
}

export async function readDecoderLimits(dir: string): Promise<DecoderLimits> {
  const configFile = path.join(dir, 'config.json');
  const config = parseDecoderConfig(parseJsonText(configFile, await readFile(configFile, 'utf8')), configFile);
  let generationEos: number[] = [];
  const generationFile = path.join(dir, 'generation_config.json');
  const generationText = await readFile(generationFile, 'utf8').catch(() => null);
  if (generationText !== null) generationEos = parseGenerationConfig(parseJsonText(generationFile, generationText), generationFile).eosTokenIds;
  return {
    maxPositionEmbeddings: config.maxPositionEmbeddings,
    vocabSize: config.vocabSize,
    eosTokenIds: dedupe([...config.eosTokenIds, ...generationEos]),
  };
}
