// Decides whether an ONNX export is an embedding model and how to feed it,
// from the graph's declared inputs and outputs alone (pure: testable without
// a session). Feeds follow what the graph declares: token_type_ids and
// position_ids only when asked for, int32 or int64 as declared.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ModelLoadError } from '../../model/errors.js';

/** The subset of ORT's ValueMetadata this module reads. */
export interface GraphValue {
  name: string;
  /** 'int64', 'int32', 'float32', … ; undefined for non-tensors. */
  type?: string;
  shape?: ReadonlyArray<number | string>;
}

export type IdType = 'int64' | 'int32';

export interface FeedPlan {
  inputIds: { name: string; type: IdType };
  attentionMask: { name: string; type: IdType } | null;
  tokenTypeIds: { name: string; type: IdType } | null;
  positionIds: { name: string; type: IdType } | null;
  /** Which output carries the embedding, and whether it still needs pooling. */
  output: { name: string; kind: 'sentence' | 'hidden' };
}

const SENTENCE_OUTPUTS = ['sentence_embedding'];
/** Token-level outputs: HF/Optimum name them last_hidden_state, sentence-transformers token_embeddings. */
const HIDDEN_OUTPUTS = ['last_hidden_state', 'token_embeddings'];

/** onnx/model.onnx, else model.onnx, else null. */
export function findOnnxExport(dir: string): string | null {
  return [path.join(dir, 'onnx', 'model.onnx'), path.join(dir, 'model.onnx')].find((p) => existsSync(p)) ?? null;
}

/** The folder ships safetensors weights (Serval then builds its own graph instead of loading the export). */
export function hasSafetensors(dir: string): boolean {
  return ['model.safetensors', 'model.safetensors.index.json'].some((f) => existsSync(path.join(dir, f)));
}

function describe(values: readonly GraphValue[]): string {
  return values.map((v) => (v.shape && v.shape.length > 0 ? `${v.name} [${v.shape.join(', ')}]` : v.name)).join(', ');
}

/** `architectures[0]` from the folder's config.json, if readable (only used to explain a rejection). */
function architectureOf(dir: string): string | null {
  try {
    const json = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { architectures?: unknown };
    return Array.isArray(json.architectures) && typeof json.architectures[0] === 'string' ? json.architectures[0] : null;
  } catch {
    return null;
  }
}

function idType(onnxPath: string, v: GraphValue): IdType {
  if (v.type === 'int64' || v.type === 'int32') return v.type;
  throw new ModelLoadError(onnxPath, v.name, `graph input has type ${v.type ?? 'unknown'}; expected int64 or int32 token ids`);
}

/**
 * Plans the feeds and the output of an ONNX encoder export, or throws a
 * ModelLoadError saying why the graph is not an embedding model.
 */
export function planOnnxFeeds(onnxPath: string, inputs: readonly GraphValue[], outputs: readonly GraphValue[]): FeedPlan {
  const dir = path.dirname(onnxPath).endsWith(`${path.sep}onnx`) ? path.dirname(path.dirname(onnxPath)) : path.dirname(onnxPath);
  const sentence = outputs.find((o) => SENTENCE_OUTPUTS.includes(o.name));
  const hidden = outputs.find((o) => HIDDEN_OUTPUTS.includes(o.name));
  if (sentence === undefined && hidden === undefined) {
    const arch = architectureOf(dir);
    const classifier = arch !== null && /For(Sequence|Token)Classification$/.test(arch);
    const why = classifier
      ? ` config.json names ${arch}: a classifier's head returns class scores, not sentence embeddings.`
      : '';
    throw new ModelLoadError(
      onnxPath,
      null,
      `not an embedding model: the graph's outputs are ${describe(outputs)}, with no ${[...SENTENCE_OUTPUTS, ...HIDDEN_OUTPUTS].join(', ')} output.${why} ` +
        'Export the base encoder instead (e.g. optimum-cli export onnx --task feature-extraction, or a sentence-transformers ONNX export).',
    );
  }
  const byName = new Map(inputs.map((v) => [v.name, v]));
  const take = (name: string): { name: string; type: IdType } | null => {
    const v = byName.get(name);
    if (v === undefined) return null;
    byName.delete(name);
    return { name, type: idType(onnxPath, v) };
  };
  const inputIds = take('input_ids');
  if (inputIds === null) throw new ModelLoadError(onnxPath, null, `the graph has no input_ids input (inputs: ${describe(inputs)})`);
  const plan: FeedPlan = {
    inputIds,
    attentionMask: take('attention_mask'),
    tokenTypeIds: take('token_type_ids'),
    positionIds: take('position_ids'),
    output: sentence !== undefined ? { name: sentence.name, kind: 'sentence' } : { name: hidden!.name, kind: 'hidden' },
  };
  if (byName.size > 0) {
    throw new ModelLoadError(
      onnxPath,
      null,
      `unsupported graph input(s) ${describe([...byName.values()])}; an encoder export may take input_ids, attention_mask, token_type_ids and position_ids`,
    );
  }
  return plan;
}
