// One constrained sequence on the device worker: its matcher and the mask
// buffer the sampler reads (SamplerRow.allowedMask). The step protocol:
//
//   const pending = forward.run(...);      // ORT runs off the JS thread
//   for (const s of constrained) s.prepareMask();   // meanwhile, on this thread
//   const out = await pending;
//   sampler.sampleBatch(out.logits, rows, ...);     // rows[r].allowedMask = s.mask
//   for each sampled token: s.accept(token)         // 'terminated' = grammar done (token is a stop id)

import type { Grammar } from './grammar.js';
import { Utf8Cursor } from './utf8-validity.js';
import { GrammarMatcher, type GrammarCompiler } from './xgrammar.js';

/** The sampler produced a token the grammar forbids: a bug (mask not applied or stale). */
export class GrammarViolationError extends Error {
  constructor(
    readonly token: number,
    readonly position: number,
  ) {
    super(`token ${token} at generated position ${position} is not allowed by the response grammar`);
    this.name = 'GrammarViolationError';
  }
}

export class ConstrainedSequence {
  /** Allowed-token bitmask for the next sampled token; valid after prepareMask(). */
  readonly mask: Int32Array;
  private prepared = false;
  /** Keeps the output valid UTF-8 where xgrammar's byte matching does not (utf8-validity.ts). */
  private readonly utf8: Utf8Cursor | null;

  private constructor(private readonly matcher: GrammarMatcher) {
    this.mask = new Int32Array(matcher.grammar.vocab.maskWords);
    const masks = matcher.grammar.vocab.utf8;
    this.utf8 = masks === null ? null : new Utf8Cursor(masks);
  }

  /**
   * Compiles (cached) and starts a matcher, replaying tokens already generated
   * (a sequence re-admitted after preemption keeps its output).
   */
  static async start(compiler: GrammarCompiler, grammar: Grammar, generatedTokenIds: readonly number[] = []): Promise<ConstrainedSequence> {
    const sequence = new ConstrainedSequence(await compiler.matcherFor(grammar));
    for (const token of generatedTokenIds) sequence.accept(token);
    return sequence;
  }

  /** Computes the mask for the next token. Cheap (µs); call while the forward pass runs. */
  prepareMask(): void {
    if (!this.prepared) {
      this.matcher.fillNextTokenBitmask(this.mask);
      this.utf8?.narrow(this.mask);
      this.prepared = true;
    }
  }

  /** Mask to hand the sampler; computes it now if prepareMask() was not called. */
  maskForSampling(): Int32Array {
    this.prepareMask();
    return this.mask;
  }

  /** Feeds the sampled token. 'terminated': the grammar is complete (the token was a stop id). */
  accept(token: number): 'continue' | 'terminated' {
    if (this.utf8 !== null && !this.utf8.accept(token)) throw new GrammarViolationError(token, this.matcher.acceptedCount);
    if (!this.matcher.acceptToken(token)) {
      this.utf8?.rollback(1);
      throw new GrammarViolationError(token, this.matcher.acceptedCount);
    }
    this.prepared = false;
    return this.matcher.isTerminated() ? 'terminated' : 'continue';
  }

  /** Undo the last n tokens (e.g. speculative tokens that were not kept). */
  rollback(n: number): void {
    this.matcher.rollback(n);
    this.utf8?.rollback(n);
    this.prepared = false;
  }

  get terminated(): boolean {
    return this.matcher.isTerminated();
  }

  dispose(): void {
    this.matcher.dispose();
  }
}
