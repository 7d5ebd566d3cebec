// Loads an encoder worker's model: Serval's own graph when the folder has
// safetensors weights (pooling + normalisation in-graph), else the folder's
// ONNX export as it is. An ONNX export is judged by its graph first, so a
// classifier export is refused for what it is before anything else is read.

import path from 'node:path';
import ort from 'onnxruntime-node';
import { loadEncoderFolder } from '../../model/folder.js';
import { buildEncoderGraph, ENCODER_ATTENTION_MASK, ENCODER_INPUT_IDS, ENCODER_TOKEN_TYPE_IDS, SENTENCE_EMBEDDING } from '../../model/graph/encoder-graph.js';
import { createStagedSession, decoderSessionOptions } from '../../model/graph/session.js';
import { EncoderRunner } from './encoder-runner.js';
import { findOnnxExport, hasSafetensors, planOnnxFeeds, type FeedPlan, type GraphValue } from './onnx-export.js';
import type { EmbeddingSource, EncoderWorkerConfig } from './types.js';

export interface LoadedEncoder {
  runner: EncoderRunner;
  source: EmbeddingSource;
  onnxPath: string | null;
}

/** The feeds of Serval's own encoder graph. */
const BUILT_GRAPH_PLAN: FeedPlan = {
  inputIds: { name: ENCODER_INPUT_IDS, type: 'int64' },
  attentionMask: { name: ENCODER_ATTENTION_MASK, type: 'int64' },
  tokenTypeIds: { name: ENCODER_TOKEN_TYPE_IDS, type: 'int64' },
  positionIds: null,
  output: { name: SENTENCE_EMBEDDING, kind: 'sentence' },
};

export async function loadEncoder(config: EncoderWorkerConfig): Promise<LoadedEncoder> {
  const dir = path.resolve(config.modelDir);
  // The session options the decoder uses (full optimisation, explicit threads, spinning switch).
  const sessionOptions = {
    intraOpThreads: config.intraOpThreads,
    spinning: config.spinning,
    executionProvider: config.executionProvider,
  };
  const onnxPath = findOnnxExport(dir);
  if (onnxPath !== null && !hasSafetensors(dir)) {
    const session = await ort.InferenceSession.create(onnxPath, decoderSessionOptions(sessionOptions));
    const plan = planOnnxFeeds(onnxPath, session.inputMetadata as readonly GraphValue[], session.outputMetadata as readonly GraphValue[]);
    const folder = await loadEncoderFolder(dir);
    // A sentence_embedding output already went through the export's own Pooling/Normalize;
    // normalising again is a no-op on unit vectors and needed when the export stopped before Normalize.
    const runner = new EncoderRunner(session, plan, { pooling: folder.sentence.pooling, normalize: folder.sentence.normalize });
    return { runner, source: plan.output.kind === 'sentence' ? 'onnx-sentence-embedding' : 'onnx-hidden-state', onnxPath };
  }
  const folder = await loadEncoderFolder(dir);
  if (folder.weights === null) throw new Error(`${dir}: no weights`); // loadEncoderFolder guarantees weights without an ONNX export
  const weights = folder.weights;
  const session = await createStagedSession((externalData) => buildEncoderGraph(folder.config, weights, folder.sentence, externalData), sessionOptions);
  // Pooling and normalisation are in the graph; the runner passes the output through.
  const runner = new EncoderRunner(session, BUILT_GRAPH_PLAN, { pooling: folder.sentence.pooling, normalize: false });
  return { runner, source: 'built-graph', onnxPath: null };
}
