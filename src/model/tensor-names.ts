// The Hugging Face tensor names and shapes a config implies. Used both to
// generate random weights and to validate a downloaded checkpoint, so the two
// can never disagree about what a model contains.

import type { DecoderConfig, EncoderConfig } from './types.js';

/** `normOffset`: a Gemma RMSNorm weight, which scales by (1 + w), so it sits near 0 rather than 1. */
export type TensorRole = 'embedding' | 'linear' | 'bias' | 'norm' | 'normOffset' | 'normBias';

export interface TensorSpec {
  name: string;
  shape: number[];
  role: TensorRole;
}

export function decoderTensorSpecs(c: DecoderConfig): TensorSpec[] {
  const h = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const specs: TensorSpec[] = [
    { name: 'model.embed_tokens.weight', shape: [c.vocabSize, h], role: 'embedding' },
  ];
  const norm = c.normUnitOffset ? 'normOffset' : 'norm';
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    specs.push({ name: `${p}.input_layernorm.weight`, shape: [h], role: norm });
    if (c.fusedProjections) {
      specs.push({ name: `${p}.self_attn.qkv_proj.weight`, shape: [q + 2 * kv, h], role: 'linear' });
    } else {
      specs.push({ name: `${p}.self_attn.q_proj.weight`, shape: [q, h], role: 'linear' });
      specs.push({ name: `${p}.self_attn.k_proj.weight`, shape: [kv, h], role: 'linear' });
      specs.push({ name: `${p}.self_attn.v_proj.weight`, shape: [kv, h], role: 'linear' });
    }
    if (c.attentionBias) {
      specs.push({ name: `${p}.self_attn.q_proj.bias`, shape: [q], role: 'bias' });
      specs.push({ name: `${p}.self_attn.k_proj.bias`, shape: [kv], role: 'bias' });
      specs.push({ name: `${p}.self_attn.v_proj.bias`, shape: [kv], role: 'bias' });
    }
    if (c.qkNorm) {
      specs.push({ name: `${p}.self_attn.q_norm.weight`, shape: [c.headDim], role: norm });
      specs.push({ name: `${p}.self_attn.k_norm.weight`, shape: [c.headDim], role: norm });
    }
    specs.push({ name: `${p}.self_attn.o_proj.weight`, shape: [h, q], role: 'linear' });
    specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [h], role: norm });
    if (c.sandwichNorms) {
      specs.push({ name: `${p}.pre_feedforward_layernorm.weight`, shape: [h], role: norm });
      specs.push({ name: `${p}.post_feedforward_layernorm.weight`, shape: [h], role: norm });
    }
    if (c.fusedProjections) {
      specs.push({ name: `${p}.mlp.gate_up_proj.weight`, shape: [2 * c.intermediateSize, h], role: 'linear' });
    } else {
      specs.push({ name: `${p}.mlp.gate_proj.weight`, shape: [c.intermediateSize, h], role: 'linear' });
      specs.push({ name: `${p}.mlp.up_proj.weight`, shape: [c.intermediateSize, h], role: 'linear' });
    }
    specs.push({ name: `${p}.mlp.down_proj.weight`, shape: [h, c.intermediateSize], role: 'linear' });
  }
  specs.push({ name: 'model.norm.weight', shape: [h], role: norm });
  if (!c.tieWordEmbeddings) {
    // Role 'linear' would make logits tiny; it is an output embedding, sized separately.
    specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, h], role: 'embedding' });
  }
  return specs;
}

export function encoderTensorSpecs(c: EncoderConfig): TensorSpec[] {
  const h = c.hiddenSize;
  const specs: TensorSpec[] = [
    { name: 'embeddings.word_embeddings.weight', shape: [c.vocabSize, h], role: 'embedding' },
    { name: 'embeddings.position_embeddings.weight', shape: [c.maxPositionEmbeddings, h], role: 'embedding' },
    { name: 'embeddings.token_type_embeddings.weight', shape: [c.typeVocabSize, h], role: 'embedding' },
    { name: 'embeddings.LayerNorm.weight', shape: [h], role: 'norm' },
    { name: 'embeddings.LayerNorm.bias', shape: [h], role: 'normBias' },
  ];
  const linear = (name: string, out: number, inp: number): void => {
    specs.push({ name: `${name}.weight`, shape: [out, inp], role: 'linear' });
    specs.push({ name: `${name}.bias`, shape: [out], role: 'bias' });
  };
  const layerNorm = (name: string): void => {
    specs.push({ name: `${name}.weight`, shape: [h], role: 'norm' });
    specs.push({ name: `${name}.bias`, shape: [h], role: 'normBias' });
  };
  for (let i = 0; i < c.numLayers; i++) {
    const p = `encoder.layer.${i}`;
    linear(`${p}.attention.self.query`, h, h);
    linear(`${p}.attention.self.key`, h, h);
    linear(`${p}.attention.self.value`, h, h);
    linear(`${p}.attention.output.dense`, h, h);
    layerNorm(`${p}.attention.output.LayerNorm`);
    linear(`${p}.intermediate.dense`, c.intermediateSize, h);
    linear(`${p}.output.dense`, h, c.intermediateSize);
    layerNorm(`${p}.output.LayerNorm`);
  }
  return specs;
}

/**
 * The classification head's tensors, named as the graph and reference read them
 * (the loader resolves `pooler.dense` under the checkpoint's `bert.` prefix;
 * `classifier.*` sits outside it).
 */
export function classifierTensorSpecs(c: EncoderConfig): TensorSpec[] {
  if (c.classifier === null) return [];
  const h = c.hiddenSize;
  const labels = c.classifier.numLabels;
  const linear = (name: string, out: number): TensorSpec[] => [
    { name: `${name}.weight`, shape: [out, h], role: 'linear' },
    { name: `${name}.bias`, shape: [out], role: 'bias' },
  ];
  return c.classifier.kind === 'bert-pooler'
    ? [...linear('pooler.dense', h), ...linear('classifier', labels)]
    : [...linear('classifier.dense', h), ...linear('classifier.out_proj', labels)];
}

/** The prefix *For{MaskedLM,SequenceClassification} checkpoints put on encoder tensors ('' for base models). */
export function encoderWeightPrefix(c: EncoderConfig): string {
  if (c.architecture.endsWith('Model')) return '';
  return c.modelType === 'bert' ? 'bert.' : 'roberta.';
}
