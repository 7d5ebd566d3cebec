// A cross-encoder's score, as HF's *ForSequenceClassification computes it, on
// top of the reference encoder: the numerical oracle for the rerank graph.
// BERT: classifier(tanh(pooler.dense(h₀))); RoBERTa / XLM-R:
// out_proj(tanh(dense(h₀))) — the same arithmetic under different names.
// Float64, one pair at a time.

import type { EncoderConfig, WeightStore } from '../types.js';
import { ReferenceEncoder, type EncoderInput } from './bert-reference.js';

export class ReferenceCrossEncoder {
  private readonly encoder: ReferenceEncoder;
  private readonly dense: { weight: Float32Array; bias: Float32Array };
  private readonly out: { weight: Float32Array; bias: Float32Array };
  private readonly labels: number;

  constructor(
    readonly config: EncoderConfig,
    weights: WeightStore,
  ) {
    if (config.classifier === null) throw new Error('not a cross-encoder: the config has no classification head');
    this.encoder = new ReferenceEncoder(config, weights);
    this.labels = config.classifier.numLabels;
    // BertForSequenceClassification keeps its pooler inside `bert.`; the classifier sits outside any prefix.
    const pooler = ['bert.pooler.dense', 'pooler.dense'].find((n) => weights.has(`${n}.weight`)) ?? 'bert.pooler.dense';
    const [dense, out] = config.classifier.kind === 'bert-pooler' ? [pooler, 'classifier'] : ['classifier.dense', 'classifier.out_proj'];
    const read = (name: string): { weight: Float32Array; bias: Float32Array } => ({ weight: weights.get(`${name}.weight`).data, bias: weights.get(`${name}.bias`).data });
    this.dense = read(dense);
    this.out = read(out);
  }

  /** The raw logits (one per label) for one encoded pair. */
  logits(input: EncoderInput): Float64Array {
    const h = this.config.hiddenSize;
    const first = this.encoder.forward(input)[0];
    const pooled = new Float64Array(h);
    for (let o = 0; o < h; o++) {
      let acc = this.dense.bias[o];
      for (let i = 0; i < h; i++) acc += this.dense.weight[o * h + i] * first[i];
      pooled[o] = Math.tanh(acc);
    }
    const logits = new Float64Array(this.labels);
    for (let o = 0; o < this.labels; o++) {
      let acc = this.out.bias[o];
      for (let i = 0; i < h; i++) acc += this.out.weight[o * h + i] * pooled[i];
      logits[o] = acc;
    }
    return logits;
  }

  /** The score a reranker reports: the first logit through the model's activation. */
  score(input: EncoderInput): number {
    const logit = this.logits(input)[0];
    return this.config.classifier?.activation === 'sigmoid' ? 1 / (1 + Math.exp(-logit)) : logit;
  }
}
