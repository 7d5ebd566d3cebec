// Token-id layout shared by every generated decoder tokenizer: the 256 byte
// tokens first, then the special tokens at fixed ids, then learned merges.
// Fixed ids let the presets name bos/eos without building a tokenizer.
// Family presets (Gemma 3, Phi-4-mini) bring their family's special tokens and
// chat template; the others use the generic ChatML set below.

import { CHAT_TEMPLATE } from './chat-template.js';

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

/** A generated decoder tokenizer's special tokens (at ids 256, 257, ...) and chat template. */
export interface DecoderTokens {
  specials: readonly string[];
  bos: string;
  eos: string;
  /** End of a chat turn: generation_config.json lists it beside eos. */
  endOfTurn: string;
  pad: string;
  /** The tokenizer prepends bos to plain text (chat prompts carry it through the template). */
  addBos: boolean;
  chatTemplate: string;
}

export const GENERIC_TOKENS: DecoderTokens = {
  specials: DECODER_SPECIAL_TOKENS,
  bos: BOS_TOKEN,
  eos: EOS_TOKEN,
  endOfTurn: END_OF_TURN_TOKEN,
  pad: PAD_TOKEN,
  addBos: true,
  chatTemplate: CHAT_TEMPLATE,
};

export function specialTokenId(tokens: DecoderTokens, token: string): number {
  const i = tokens.specials.indexOf(token);
  if (i < 0) throw new Error(`${token} is not one of the special tokens`);
  return BYTE_TOKEN_COUNT + i;
}

/** First id available to learned BPE merges with these special tokens. */
export function firstMergeId(tokens: DecoderTokens): number {
  return BYTE_TOKEN_COUNT + tokens.specials.length;
}
