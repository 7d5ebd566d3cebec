// Creates an onnxruntime-node session for a built decoder graph with the
// options measured to matter on onnxruntime-node 1.30 CPU: full graph
// optimisation (RMSNorm / SiLU / Transpose+MatMul fusions), an explicit
// intra-op thread count, and a switch for intra-op spinning (turn it off when
// one process holds several sessions, or their spinning threads steal cores).
// Spinning, when on, stops as soon as run() returns (session.force_spinning_stop):
// between two steps the device thread stores K/V and the scheduler actor and
// the front need the cores, and a pool thread spinning through that gap made
// both the gap and the next run() slower (bench:engine, 2 cores: gap before a
// decode call p50 2.2–2.4 → 1.6 ms, engine/raw 0.73 → 0.81–0.83, runs
// alternated in one sitting).

import ort from 'onnxruntime-node';
import { StagedModel, type ExternalDataWriter } from './external-data.js';

export type ExecutionProvider = 'cpu' | { name: 'cuda'; deviceId: number };

export interface DecoderSessionOptions {
  intraOpThreads: number;
  /** extra.session.intra_op.allow_spinning. Default true (ORT's default). */
  spinning?: boolean;
  executionProvider?: ExecutionProvider;
}

export function decoderSessionOptions(options: DecoderSessionOptions): ort.InferenceSession.SessionOptions {
  const ep = options.executionProvider ?? 'cpu';
  return {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: 1,
    executionProviders: ep === 'cpu' ? ['cpu'] : [{ name: 'cuda', deviceId: ep.deviceId }],
    extra: { session: { force_spinning_stop: '1', intra_op: { allow_spinning: options.spinning === false ? '0' : '1' } } },
  };
}

export function createDecoderSession(modelBytes: Uint8Array, options: DecoderSessionOptions): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelBytes, decoderSessionOptions(options));
}

/**
 * Builds a graph whose weights stream into a temporary external-data file and
 * opens it, so no complete in-process copy of the weights exists besides
 * onnxruntime's own (see external-data.ts). The files are removed once open.
 */
export async function createStagedSession(
  build: (external: ExternalDataWriter) => Uint8Array,
  options: DecoderSessionOptions,
): Promise<ort.InferenceSession> {
  const staged = StagedModel.create();
  try {
    const modelPath = staged.finish(build(staged.weights));
    return await ort.InferenceSession.create(modelPath, decoderSessionOptions(options));
  } finally {
    staged.remove();
  }
}
