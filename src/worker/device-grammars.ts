// Structured output on a device worker: the xgrammar vocabulary and compiler
// are built on first use (most servers never see a grammar), then every
// constrained sequence gets its own matcher.

import type { LoadedDecoderFolder } from '../model/folder.js';
import type { Grammar } from '../structured/grammar.js';
import { ConstrainedSequence } from '../structured/constrained-sequence.js';
import { detectToolCallFormat, FORMAT_MARKERS } from '../structured/tool-call-format.js';
import { GrammarCompiler, GrammarVocab, XgrammarError } from '../structured/xgrammar.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';

export class DeviceGrammars {
  private readonly folder: Pick<LoadedDecoderFolder, 'tokenizerJsonPath' | 'tokenizerJsonText' | 'tokenizerConfig' | 'chatTemplate' | 'config'>;
  private compiler: Promise<GrammarCompiler> | null = null;

  constructor(folder: Pick<LoadedDecoderFolder, 'tokenizerJsonPath' | 'tokenizerJsonText' | 'tokenizerConfig' | 'chatTemplate' | 'config'>) {
    this.folder = folder;
  }

  /**
   * Compiles `grammar` into the compiler's cache ahead of the sequence's
   * admission, as a task of its own between steps (see GrammarCompileTask),
   * so the step that admits the sequence finds it compiled.
   */
  async prepare(grammar: Grammar): Promise<void> {
    this.compiler ??= this.createCompiler();
    try {
      await (await this.compiler).compile(grammar);
    } catch (error) {
      if (error instanceof XgrammarError && error.trapped) this.compiler = null;
      throw error;
    }
  }

  /** A matcher for `grammar` that has already accepted `generated` (a preempted sequence resumes). */
  async start(grammar: Grammar, generated: readonly number[]): Promise<ConstrainedSequence> {
    this.compiler ??= this.createCompiler();
    try {
      return await ConstrainedSequence.start(await this.compiler, grammar, generated);
    } catch (error) {
      // After a trap the module is reloaded; the compiler (and vocabulary) built on the old one go with it.
      if (error instanceof XgrammarError && error.trapped) this.compiler = null;
      throw error;
    }
  }

  private async createCompiler(): Promise<GrammarCompiler> {
    const { tokenizerJsonPath, tokenizerJsonText, tokenizerConfig, chatTemplate, config } = this.folder;
    const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath, tokenizerJsonText, tokenizerConfig });
    const { format } = detectToolCallFormat(chatTemplate);
    const vocab = await GrammarVocab.fromTokenizer(tokenizer, {
      stopTokenIds: config.eosTokenIds,
      logitsVocabSize: config.vocabSize,
      textSpecialTokens: FORMAT_MARKERS[format],
    });
    return new GrammarCompiler(vocab);
  }
}
