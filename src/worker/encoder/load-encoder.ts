// Loads an encoder worker's model: Serval's own graph when the folder has
// safetensors weights (pooling + normalisation in-graph, or a cross-encoder's
// classifier head), the decoder graph for a decoder-based embedding model
// (Qwen3-Embedding), else the folder's ONNX export as it is. The worker's task
// (embedding or rerank) must match the model's kind. An ONNX export is judged by its graph first, so a
// classifier export is refused for what it is before anything else is read.

import path from 'node:path';
import ort from 'onnxruntime-node';
import { loadEncoderFolder } from '../../model/folder.js';
import { isDecoderEmbeddingFolder, loadDecoderEmbeddingFolder } from '../../model/decoder-embedding-folder.js';
import { ModelLoadError } from '../../model/errors.js';
import { buildDecoderGraph } from '../../model/graph/decoder-graph.js';
import { buildEncoderGraph, CLASSIFIER_LOGITS, ENCODER_ATTENTION_MASK, ENCODER_INPUT_IDS, ENCODER_TOKEN_TYPE_IDS, SENTENCE_EMBEDDING } from '../../model/graph/encoder-graph.js';
import { createStagedSession, decoderSessionOptions } from '../../model/graph/session.js';
import { DecoderEmbeddingRunner } from './decoder-embedding-runner.js';
import { EncoderRunner, type BatchRunner } from './encoder-runner.js';
import { findOnnxExport, hasSafetensors, planOnnxFeeds, type FeedPlan, type GraphValue } from './onnx-export.js';
import type { EmbeddingSource, EncoderWorkerConfig } from './types.js';

export interface LoadedEncoder {
  runner: BatchRunner;
  source: EmbeddingSource;
  onnxPath: string | null;
}

/** The feeds of Serval's own encoder graph; `output` is the sentence embedding or the classifier logits. */
function builtGraphPlan(output: string): FeedPlan {
  return {
    inputIds: { name: ENCODER_INPUT_IDS, type: 'int64' },
    attentionMask: { name: ENCODER_ATTENTION_MASK, type: 'int64' },
    tokenTypeIds: { name: ENCODER_TOKEN_TYPE_IDS, type: 'int64' },
    positionIds: null,
    output: { name: output, kind: 'sentence' },
  };
}

const RERANK_HINT = 'serve it with --rerank-model';
const EMBEDDING_HINT = 'serve it with --embedding-model';

export async function loadEncoder(config: EncoderWorkerConfig): Promise<LoadedEncoder> {
  const dir = path.resolve(config.modelDir);
  // The session options the decoder uses (full optimisation, explicit threads, spinning switch).
  const sessionOptions = {
    intraOpThreads: config.intraOpThreads,
    spinning: config.spinning,
    executionProvider: config.executionProvider,
  };
  if (isDecoderEmbeddingFolder(dir)) {
    if (config.task === 'rerank') throw new ModelLoadError(dir, 'architectures', `a decoder is not a cross-encoder; ${EMBEDDING_HINT}`);
    const folder = await loadDecoderEmbeddingFolder(dir);
    if (folder.sentence.pooling !== 'lasttoken') {
      throw new ModelLoadError(path.join(dir, 'modules.json'), 'pooling', `a causal decoder body needs last-token pooling, not ${folder.sentence.pooling}`);
    }
    const session = await createStagedSession(
      (externalData) => buildDecoderGraph(folder.config, folder.weights, { output: 'hidden', maxPositions: folder.sentence.maxSeqLength, externalData }),
      sessionOptions,
    );
    return { runner: new DecoderEmbeddingRunner(session, folder.config, folder.sentence.normalize), source: 'built-decoder-graph', onnxPath: null };
  }
  const onnxPath = findOnnxExport(dir);
  if (onnxPath !== null && !hasSafetensors(dir)) {
    if (config.task === 'rerank') throw new ModelLoadError(onnxPath, null, 'reranking needs the safetensors weights (ONNX exports are served for embeddings only)');
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
  const classifier = folder.config.classifier;
  const configFile = path.join(dir, 'config.json');
  if (config.task === 'embedding' && classifier !== null) {
    throw new ModelLoadError(configFile, 'architectures', `${folder.config.architecture} is a cross-encoder: it scores text pairs rather than embedding texts; ${RERANK_HINT}`);
  }
  if (config.task === 'rerank') {
    if (classifier === null) throw new ModelLoadError(configFile, 'architectures', `${folder.config.architecture} has no classification head, so it cannot score pairs; ${EMBEDDING_HINT}`);
    if (classifier.numLabels !== 1) throw new ModelLoadError(configFile, 'id2label', `a reranker has one label (a relevance logit), this classifier has ${classifier.numLabels}`);
  }
  const weights = folder.weights;
  const session = await createStagedSession((externalData) => buildEncoderGraph(folder.config, weights, folder.sentence, externalData), sessionOptions);
  // Pooling and normalisation (or the classifier) are in the graph; the runner passes the output through.
  const plan = builtGraphPlan(classifier === null ? SENTENCE_EMBEDDING : CLASSIFIER_LOGITS);
  const runner = new EncoderRunner(session, plan, { pooling: folder.sentence.pooling, normalize: false });
  return { runner, source: classifier === null ? 'built-graph' : 'built-cross-encoder', onnxPath: null };
}
