// Token-id layout shared by every generated decoder tokenizer: the 256 byte
// tokens first, then the special tokens at fixed ids, then learned merges.
// Fixed ids let the presets name bos/eos without building a tokenizer.

export const BYTE_TOKEN_COUNT = 256;

export const DECODER_SPECIAL_TOKENS = [
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|im_start|>',
  '<|im_end|>',
  '<tool_call>',
  '</tool_call>',
  '<|pad|>',
] as const;

export type DecoderSpecialToken = (typeof DECODER_SPECIAL_TOKENS)[number];

export function decoderSpecialId(token: DecoderSpecialToken): number {
  return BYTE_TOKEN_COUNT + DECODER_SPECIAL_TOKENS.indexOf(token);
}

export const BOS_TOKEN = '<|begin_of_text|>';
export const EOS_TOKEN = '<|end_of_text|>';
/** End of a chat turn; generation stops on it as well as on EOS. */
export const END_OF_TURN_TOKEN = '<|im_end|>';
export const PAD_TOKEN = '<|pad|>';

/** First id available to learned BPE merges. */
export const FIRST_MERGE_ID = BYTE_TOKEN_COUNT + DECODER_SPECIAL_TOKENS.length;

/** WordPiece specials for the encoder, at ids 0..4 as in BERT-style vocabularies. */
export const ENCODER_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/** Size of the generated WordPiece vocabulary (specials + characters + subwords). */
export const ENCODER_VOCAB_SIZE = 1024;
