// POST /v1/embeddings for one encoder model: admit the request by what it
// costs (inputs × their length, estimated from the text before tokenizing),
// tokenise on the front thread in chunks, enforce the input-length limit (or
// truncate on request), hand token ids to the batcher, then apply
// `dimensions` to the returned vectors.
//
// Why chunks: the Rust tokenizers binding runs each encode on the libuv
// pool; 2,048 at once (one request) left ~90 MB of native heap behind per
// request that never went back to the OS (16 such requests: +1.5 GB RSS),
// 64 at a time about a tenth of that (bench/tokenize-memory.ts). The JS
// fallback is synchronous: chunks let the event loop (/health, streams) run between them.

import type { Prompt, ValidatedEmbeddingRequest } from '../../protocol/requests.js';
import { ApiError } from '../../protocol/errors.js';
import type { TextTokenizer } from '../../tokenizer/tokenizer.js';
import { normalizeRows } from '../../worker/encoder/pooling.js';
import type { EmbeddingResult, ModelEntry } from '../backend.js';
import type { Admission } from '../admission.js';
import { EmbeddingAbortedError, type EmbeddingBatcher } from './batcher.js';

export interface EmbeddingModel {
  /** The id clients send in `model`. */
  id: string;
  created: number;
  tokenizer: TextTokenizer;
  /** Token ids at or above this are refused. */
  vocabSize: number;
  /** sentence_bert_config.json max_seq_length (special tokens included). */
  maxSeqLength: number;
  /** Native embedding size. */
  dimensions: number;
  /** The model L2-normalises (a Normalize module): `dimensions` re-normalises after truncating. */
  normalize: boolean;
  batcher: EmbeddingBatcher;
  /** Inputs per request; more → 400. */
  maxInputs: number;
  /** The embedding token budget (a cost permit per request). */
  admission: Admission;
}

/** Inputs tokenized at once per request. */
const TOKENIZE_CHUNK = 64;

export class EmbeddingBackend {
  constructor(readonly model: EmbeddingModel) {}

  models(): ModelEntry[] {
    const m = this.model;
    return [{ id: m.id, kind: 'embedding', created: m.created, ownedBy: 'serval', maxModelLen: m.maxSeqLength }];
  }

  ready(): boolean {
    return true;
  }

  async embed(req: ValidatedEmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
    const m = this.model;
    const dims = req.dimensions ?? m.dimensions;
    if (dims > m.dimensions) {
      throw ApiError.invalidRequest(
        `This model's embeddings have ${m.dimensions} dimensions; 'dimensions' must be between 1 and ${m.dimensions}, got ${dims}.`,
        'dimensions',
        'invalid_value',
      );
    }
    if (req.inputs.length > m.maxInputs) {
      throw ApiError.invalidRequest(`${req.inputs.length} inputs in one request; this server accepts at most ${m.maxInputs} (--max-embedding-inputs).`, 'input', 'invalid_value');
    }
    const limit = this.inputLimit(req.truncatePromptTokens);
    const permit = await m.admission.enter(this.estimateTokens(req.inputs, limit.max), signal);
    try {
      const many = req.inputs.length > 1;
      const sequences: number[][] = [];
      for (let start = 0; start < req.inputs.length; start += TOKENIZE_CHUNK) {
        if (start > 0) await new Promise((resolve) => setImmediate(resolve));
        if (signal.aborted) throw new EmbeddingAbortedError();
        const chunk = req.inputs.slice(start, start + TOKENIZE_CHUNK);
        sequences.push(...(await Promise.all(chunk.map((input, i) => this.tokens(input, many ? `input[${start + i}]` : 'input', limit)))));
      }
      let promptTokens = 0;
      for (const ids of sequences) promptTokens += ids.length;
      // The estimate was an upper bound: give the rest of the budget back now.
      permit.shrink(promptTokens);
      const vectors = await m.batcher.submit(sequences, signal);
      return { embeddings: dims === m.dimensions ? vectors : vectors.map((v) => this.shorten(v, dims)), promptTokens };
    } finally {
      permit.release();
    }
  }

  /**
   * A request's cost before tokenizing: each input at most `max` tokens
   * (longer ones are refused or truncated), a text input at most its length
   * + 2 (specials) — a tokenizer makes fewer tokens than characters, short of
   * byte-level tokens for multi-byte characters, which `max` still caps.
   */
  private estimateTokens(inputs: readonly Prompt[], max: number): number {
    let total = 0;
    for (const input of inputs) total += Math.min(max, input.type === 'text' ? input.text.length + 2 : input.ids.length);
    return total;
  }

  /** Longest accepted input and whether longer ones are truncated to it. */
  private inputLimit(truncatePromptTokens: number | null): { max: number; truncate: boolean } {
    const max = this.model.maxSeqLength;
    if (truncatePromptTokens === null) return { max, truncate: false };
    return { max: truncatePromptTokens === -1 ? max : Math.min(truncatePromptTokens, max), truncate: true };
  }

  private async tokens(input: Prompt, param: string, limit: { max: number; truncate: boolean }): Promise<number[]> {
    const m = this.model;
    let ids: number[];
    if (input.type === 'text') {
      ids = await m.tokenizer.encode(input.text, { addSpecialTokens: true });
      if (ids.length === 0) throw ApiError.invalidRequest(`The ${param} produced no tokens.`, 'input', 'invalid_value');
    } else {
      const bad = input.ids.find((id) => id >= m.vocabSize);
      if (bad !== undefined) throw ApiError.invalidRequest(`Token id ${bad} in ${param} is outside the vocabulary (size ${m.vocabSize}).`, 'input', 'invalid_value');
      ids = input.ids;
    }
    if (ids.length <= limit.max) return ids;
    if (!limit.truncate) {
      throw ApiError.invalidRequest(
        `This model's maximum input length is ${m.maxSeqLength} tokens, but ${param} has ${ids.length} tokens. ` +
          "Shorten the input, or send \"truncate_prompt_tokens\": -1 (a Serval extension) to truncate it.",
        'input',
        'context_length_exceeded',
      );
    }
    return input.type === 'text' ? this.truncateText(input.text, ids, limit.max) : ids.slice(0, limit.max);
  }

  /**
   * Keeps the special tokens the post-processor added ([CLS] … [SEP]) and cuts
   * the text's own tokens from the end, as sentence-transformers' tokenizer
   * call (truncation=True) does.
   */
  private async truncateText(text: string, withSpecials: number[], max: number): Promise<number[]> {
    const plain = await this.model.tokenizer.encode(text, { addSpecialTokens: false });
    const extra = withSpecials.length - plain.length;
    let prefix = -1;
    for (let p = 0; p <= extra && prefix < 0; p++) {
      if (plain.every((id, i) => withSpecials[p + i] === id)) prefix = p;
    }
    if (prefix < 0 || extra > max) return withSpecials.slice(0, max);
    return [...withSpecials.slice(0, prefix), ...plain.slice(0, max - extra), ...withSpecials.slice(prefix + plain.length)];
  }

  /** The first `dims` values; re-normalised to unit length when the model normalises. */
  private shorten(vector: Float32Array, dims: number): Float32Array {
    const out = vector.slice(0, dims);
    if (this.model.normalize) normalizeRows(out, dims);
    return out;
  }
}
