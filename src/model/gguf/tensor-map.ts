// llama.cpp tensor names ↔ the Hugging Face names the graph builder asks for,
// and the undoing of llama.cpp's q/k row permutation.

const LAYER_PARTS: [hf: string, gguf: string][] = [
  ['input_layernorm.weight', 'attn_norm.weight'],
  ['self_attn.q_proj.weight', 'attn_q.weight'],
  ['self_attn.k_proj.weight', 'attn_k.weight'],
  ['self_attn.v_proj.weight', 'attn_v.weight'],
  ['self_attn.q_proj.bias', 'attn_q.bias'],
  ['self_attn.k_proj.bias', 'attn_k.bias'],
  ['self_attn.v_proj.bias', 'attn_v.bias'],
  ['self_attn.q_norm.weight', 'attn_q_norm.weight'],
  ['self_attn.k_norm.weight', 'attn_k_norm.weight'],
  ['self_attn.o_proj.weight', 'attn_output.weight'],
  ['post_attention_layernorm.weight', 'ffn_norm.weight'],
  ['mlp.gate_proj.weight', 'ffn_gate.weight'],
  ['mlp.up_proj.weight', 'ffn_up.weight'],
  ['mlp.down_proj.weight', 'ffn_down.weight'],
];

const GLOBAL: [hf: string, gguf: string][] = [
  ['model.embed_tokens.weight', 'token_embd.weight'],
  ['model.norm.weight', 'output_norm.weight'],
  ['lm_head.weight', 'output.weight'],
];

const LAYER_HF = /^model\.layers\.(\d+)\.(.+)$/;
const LAYER_GGUF = /^blk\.(\d+)\.(.+)$/;

/** The GGUF name of a Hugging Face tensor name, or null when GGUF has no such tensor. */
export function ggufName(hfName: string): string | null {
  const global = GLOBAL.find(([hf]) => hf === hfName);
  if (global !== undefined) return global[1];
  const m = LAYER_HF.exec(hfName);
  const part = m === null ? undefined : LAYER_PARTS.find(([hf]) => hf === m[2]);
  return part === undefined ? null : `blk.${m![1]}.${part[1]}`;
}

/** The Hugging Face name of a GGUF tensor name, or null for tensors the graph does not use. */
export function hfName(ggufTensor: string): string | null {
  const global = GLOBAL.find(([, g]) => g === ggufTensor);
  if (global !== undefined) return global[0];
  const m = LAYER_GGUF.exec(ggufTensor);
  const part = m === null ? undefined : LAYER_PARTS.find(([, g]) => g === m[2]);
  return part === undefined ? null : `model.layers.${m![1]}.${part[0]}`;
}

/** q/k projection weights and biases: the rows llama.cpp permutes for llama-architecture files. */
export function isPermutedQk(hf: string): boolean {
  return /\.self_attn\.[qk]_proj\.(weight|bias)$/.test(hf);
}

/**
 * convert_hf_to_gguf.py (LlamaModel.permute) reorders each head's D rows from HF's
 * rotate-half layout [first half | second half] to llama.cpp's interleaved pairs:
 * GGUF row 2i + j holds HF row j·D/2 + i. This puts them back. Rows are opaque byte
 * runs of `rowBytes` (a float row, or a row of quantised blocks: rows never share blocks).
 */
export function unpermuteQkRows(data: Uint8Array, rows: number, rowBytes: number, headDim: number): Uint8Array {
  if (rows % headDim !== 0 || headDim % 2 !== 0) throw new Error(`cannot unpermute ${rows} rows with head dim ${headDim}`);
  const out = new Uint8Array(data.length);
  const half = headDim / 2;
  for (let head = 0; head < rows / headDim; head++) {
    const base = head * headDim;
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (base + 2 * i + j) * rowBytes;
        out.set(data.subarray(from, from + rowBytes), (base + j * half + i) * rowBytes);
      }
    }
  }
  return out;
}
