// `tokenizer.ggml.pre` names how a byte-level BPE vocabulary splits text into
// words before merging (llama.cpp's convert script records it by hashing the
// original tokenizer's output). Each name maps to the pre_tokenizer section the
// model's own tokenizer.json has on the Hugging Face Hub.

type JsonObject = Record<string, unknown>;

const GPT2_BYTE_LEVEL: JsonObject = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };

function splitThenBytes(pattern: string): JsonObject {
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
}

function digitsThenBytes(): JsonObject {
  return { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, GPT2_BYTE_LEVEL] };
}

const LLAMA3 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const PRE_TOKENIZERS: Record<string, () => JsonObject> = {
  default: () => GPT2_BYTE_LEVEL,
  'gpt-2': () => GPT2_BYTE_LEVEL,
  'phi-2': () => GPT2_BYTE_LEVEL,
  'llama-bpe': () => splitThenBytes(LLAMA3),
  'smaug-bpe': () => splitThenBytes(LLAMA3),
  qwen2: () => splitThenBytes(QWEN2),
  'deepseek-r1-qwen': () => splitThenBytes(QWEN2),
  smollm: () => digitsThenBytes(),
  starcoder: () => digitsThenBytes(),
  refact: () => digitsThenBytes(),
};

export const SUPPORTED_PRE_TOKENIZERS: readonly string[] = Object.keys(PRE_TOKENIZERS);

/** The pre_tokenizer for a `tokenizer.ggml.pre` value (absent: llama.cpp's default), or null if unknown. */
export function byteLevelPreTokenizer(pre: string | null): JsonObject | null {
  const name = pre ?? 'default';
  return Object.hasOwn(PRE_TOKENIZERS, name) ? PRE_TOKENIZERS[name]() : null;
}
