// Refuses prompts that cannot fit the context window before the chat template
// renders them or the tokenizer runs: a 4 MB prompt costs seconds of tokenizer
// time (and 100k tiny messages a second of template rendering) only to be
// refused afterwards, while other requests wait for the threads.

import { ApiError } from '../protocol/errors.js';
import type { ChatMessage } from '../protocol/requests.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';

export class PromptBounds {
  /** Text longer than this (UTF-16 units) has at least maxModelLen tokens. */
  private readonly maxChars: number;

  constructor(
    tokenizer: TextTokenizer,
    private readonly maxModelLen: number,
  ) {
    // No token spells more than `longest` units, so a text needs at least
    // length / longest tokens; normalisation may shorten text (composing
    // characters), hence the factor 2.
    let longest = 1;
    for (let id = 0; id < tokenizer.vocabSize; id++) longest = Math.max(longest, tokenizer.tokenBytes(id).length);
    this.maxChars = 2 * maxModelLen * longest;
  }

  /** Every message renders to at least one token, and its content to at least length / longest. */
  checkMessages(messages: readonly ChatMessage[]): void {
    if (messages.length >= this.maxModelLen) this.refuse(`${messages.length} messages`, 'messages');
    let chars = 0;
    for (const message of messages) chars += message.content?.length ?? 0;
    if (chars > this.maxChars) this.refuse(`${chars} characters of message content`, 'messages');
  }

  checkText(text: string, param: string): void {
    if (text.length > this.maxChars) this.refuse(`${text.length} characters`, param);
  }

  private refuse(what: string, param: string): never {
    throw ApiError.invalidRequest(
      `This model's maximum context length is ${this.maxModelLen} tokens; a prompt of ${what} cannot fit it.`,
      param,
      'context_length_exceeded',
    );
  }
}
