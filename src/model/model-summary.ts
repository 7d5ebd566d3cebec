// What the startup log says about a loaded decoder: architecture, size and the
// weight type of each tensor group, whatever the checkpoint format.

import { decoderTensorSpecs } from './tensor-names.js';
import type { DecoderConfig } from './types.js';

export interface ModelSummary {
  format: 'safetensors' | 'gguf';
  /** e.g. `LlamaForCausalLM`, or `llama (LlamaForCausalLM)` for GGUF. */
  architecture: string;
  parameters: number;
  /** Tensor group → its weight types, e.g. { attention: 'Q4_K', mlp: 'Q4_K ×6, Q6_K ×2' }. */
  weightTypes: Record<string, string>;
  contextLength: number;
}

function group(name: string): string {
  if (name === 'model.embed_tokens.weight') return 'embedding';
  if (name === 'lm_head.weight') return 'output';
  if (/norm\.weight$/.test(name)) return 'norms';
  if (name.includes('.self_attn.')) return 'attention';
  if (name.includes('.mlp.')) return 'mlp';
  return 'other';
}

/** `typeOf` gives each tensor's stored type (safetensors dtype or ggml type). */
export function summarizeModel(format: ModelSummary['format'], architecture: string, config: DecoderConfig, typeOf: (name: string) => string): ModelSummary {
  const counts = new Map<string, Map<string, number>>();
  let parameters = 0;
  for (const spec of decoderTensorSpecs(config)) {
    parameters += spec.shape.reduce((a, b) => a * b, 1);
    const g = group(spec.name);
    const byType = counts.get(g) ?? new Map<string, number>();
    const type = typeOf(spec.name);
    byType.set(type, (byType.get(type) ?? 0) + 1);
    counts.set(g, byType);
  }
  const weightTypes: Record<string, string> = {};
  for (const [g, byType] of counts) {
    weightTypes[g] = byType.size === 1 ? [...byType.keys()][0] : [...byType].map(([type, n]) => `${type} ×${n}`).join(', ');
  }
  return { format, architecture, parameters, weightTypes, contextLength: config.maxPositionEmbeddings };
}
