// A device worker's engine room: owns the session, the KV slot pool and each
// sequence's sampling state, and executes DeviceSteps. Each prefill chunk runs
// alone against its own slot's view; then the decode rows (one token each) go
// through one batched call over the contiguous slot prefix. A token sampled at
// the end of a prompt while later calls of the same step still have to run is
// announced at once, so a new prompt streams without waiting for the step's
// decode call, and a burst of them streams one by one; the prompt's next
// token comes from a follow-on row in that decode call, fed the token just
// sampled. Decode rows lose nothing by running last: their tokens come with
// the step's result either way.

import type { DecoderForward, ForwardKv } from './forward.js';
import type { KvSlotPool } from './kv-pool.js';
import type { AnnouncedSamples, DeviceRow, DeviceStep, DeviceStepResult, GrammarCompileTask, RowPromptLogprobs } from './types.js';
import type { RowSampler } from './row-sampler.js';
import { PrefixBlockStore } from './prefix-store.js';
import { PromptSharing } from './prompt-sharing.js';
import { RowContinuity } from './row-continuity.js';

/** Receives samples a step takes before its last forward call (see AnnouncedSamples). */
export type SampleAnnouncer = (announced: AnnouncedSamples) => void;

export class Device {
  private readonly forward: DecoderForward;
  private readonly pool: KvSlotPool;
  private readonly sampler: RowSampler;
  private readonly vocabSize: number;
  private readonly prompts = new PromptSharing();
  private readonly prefixes: PrefixBlockStore;
  private readonly continuity = new RowContinuity();
  private readonly emptyViews: { keys: Float32Array[]; values: Float32Array[] };
  private readonly announce: SampleAnnouncer | null;

  constructor(forward: DecoderForward, pool: KvSlotPool, sampler: RowSampler, vocabSize: number, announce: SampleAnnouncer | null = null) {
    this.forward = forward;
    this.pool = pool;
    this.sampler = sampler;
    this.vocabSize = vocabSize;
    this.announce = announce;
    this.prefixes = new PrefixBlockStore(pool);
    const layers = pool.shape.layers;
    this.emptyViews = { keys: Array.from({ length: layers }, () => new Float32Array(0)), values: Array.from({ length: layers }, () => new Float32Array(0)) };
  }

  get activeSlots(): number {
    return this.pool.activeSlots;
  }

  /** A grammar compile between steps (GrammarCompileTask): no step waits inside it. */
  compileGrammar(task: GrammarCompileTask): Promise<void> {
    return this.sampler.prepareGrammar(task.grammar);
  }

  async step(step: DeviceStep): Promise<DeviceStepResult> {
    if (step.resetAll) {
      this.pool.releaseAll();
      this.sampler.forgetAll();
      this.prompts.forgetAll();
      this.continuity.forgetAll();
      this.prefixes.clear();
    }
    // Cache copies read slots before their release (a finished sequence's KV is what gets cached).
    this.prefixes.drop(step.cacheDrops ?? []);
    this.prefixes.save(step.cacheSaves ?? []);
    for (const seqId of step.release) {
      this.pool.release(seqId);
      this.sampler.forget(seqId);
      this.prompts.forget(seqId);
      this.continuity.forget(seqId);
    }
    this.pool.reserve(step.capacity, this.pool.activeSlots + step.admit.length);
    for (const admission of step.admit) {
      this.pool.acquire(admission.seqId);
      await this.sampler.admit(admission);
      this.prompts.admit(admission.seqId, admission.promptTokenIds);
      this.continuity.admit(admission.seqId, admission.stopTokenIds);
      if (admission.prefixBlocks) this.prompts.computed(admission.seqId, 0, this.prefixes.load(admission.seqId, admission.prefixBlocks));
    }

    const result: DeviceStepResult = { samples: [], promptLogprobs: [], forwardMs: 0, decodeRows: 0, prefillTokens: 0, sharedPrefillTokens: 0 };
    const prefillRows = this.continuity.resolve(step.rows.filter((row) => !isDecodeRow(row)));
    const decodeRows = step.rows.filter(isDecodeRow);
    for (let i = 0; i < prefillRows.length; i++) {
      const callsAfter = i < prefillRows.length - 1 || decodeRows.length > 0;
      await this.prefill(prefillRows[i], result, callsAfter ? step.announce : undefined);
    }
    // A follow-on row feeds the token its chunk sampled just now, or is dropped when that token ended the sequence.
    this.continuity.record(result.samples);
    const runnable = this.continuity.resolve(decodeRows);
    const chunkSamples = result.samples.length;
    if (runnable.length > 0) await this.decode(runnable, result);
    this.continuity.record(result.samples.slice(chunkSamples));
    this.prefixes.drop(step.cacheDropsAfterRun ?? []);
    this.prefixes.save(step.cacheSavesAfterRun ?? []);
    return result;
  }

  private async decode(rows: DeviceRow[], result: DeviceStepResult): Promise<void> {
    // The batch is the slot prefix [0, batch): slots without work this step ride
    // along as idle rows (new_len 0), which keeps every KV input a zero-copy view.
    let batch = 0;
    const slots = rows.map((row) => this.pool.slotOf(row.seqId));
    for (const slot of slots) batch = Math.max(batch, slot + 1);
    const inputIds = new BigInt64Array(batch);
    const positionIds = new BigInt64Array(batch);
    const pastLens = new BigInt64Array(batch);
    const newLens = new BigInt64Array(batch);
    const sampled: number[] = [];
    const logitsRows: bigint[] = [];
    rows.forEach((row, i) => {
      const slot = slots[i];
      inputIds[slot] = BigInt(row.tokens[0]);
      positionIds[slot] = BigInt(row.startPos);
      pastLens[slot] = BigInt(row.startPos);
      newLens[slot] = 1n;
      if (row.sample) {
        sampled.push(i);
        logitsRows.push(BigInt(slot));
      }
    });
    const views = this.pool.prefixViews(batch);
    const input = {
      batch,
      seqLen: 1,
      inputIds,
      positionIds,
      pastLens,
      newLens,
      logitsRows: BigInt64Array.from(logitsRows),
      keys: views.keys,
      values: views.values,
      capacity: this.pool.capacity,
    };
    const sampledIds = sampled.map((i) => rows[i].seqId);
    const started = performance.now();
    if (this.sampler.allPlainGreedy(sampledIds)) {
      const out = await this.forward.runGreedy(input);
      result.forwardMs += performance.now() - started;
      this.storeDecodeRows(out, rows, slots);
      result.samples.push(...this.sampler.acceptArgmax(out.greedyTokenIds, sampledIds));
    } else {
      const pending = this.forward.run(input);
      this.sampler.prepareMasks(sampledIds);
      const out = await pending;
      result.forwardMs += performance.now() - started;
      this.storeDecodeRows(out, rows, slots);
      result.samples.push(...this.sampler.sample(out.logits, sampledIds));
    }
    result.decodeRows += rows.length;
  }

  private storeDecodeRows(out: ForwardKv, rows: DeviceRow[], slots: number[]): void {
    rows.forEach((row, i) => {
      this.store(out, 1, slots[i], slots[i], row.startPos, 1);
      this.prompts.computed(row.seqId, row.startPos, row.startPos + 1);
    });
  }

  /** `announceAs`: the step's announce tag, when other calls run after this one (its sample is worth announcing). */
  private async prefill(fed: DeviceRow, result: DeviceStepResult, announceAs: number | undefined): Promise<void> {
    const slot = this.pool.slotOf(fed.seqId);
    const row = this.shareFromSibling(fed, slot, result);
    if (row.tokens.length === 0) return;
    const length = row.tokens.length;
    const inputIds = new BigInt64Array(length);
    const positionIds = new BigInt64Array(length);
    for (let i = 0; i < length; i++) {
      inputIds[i] = BigInt(row.tokens[i]);
      positionIds[i] = BigInt(row.startPos + i);
    }
    // Logits rows: every position when prompt logprobs are wanted (the last one
    // doubles as the sampling row), else only the last position when sampling.
    const wantAll = row.promptLogprobs !== null;
    const logitsRows = wantAll
      ? BigInt64Array.from({ length }, (_, i) => BigInt(i))
      : row.sample
        ? BigInt64Array.of(BigInt(length - 1))
        : new BigInt64Array(0);
    // A first chunk has no past: feed an empty cache rather than the slot, or
    // attention would score every (masked) position of the slot's capacity.
    const fresh = row.startPos === 0;
    const views = fresh ? this.emptyViews : this.pool.slotViews(slot);
    const started = performance.now();
    const out = await this.forward.run({
      batch: 1,
      seqLen: length,
      inputIds,
      positionIds,
      pastLens: BigInt64Array.of(BigInt(row.startPos)),
      newLens: BigInt64Array.of(BigInt(length)),
      logitsRows,
      keys: views.keys,
      values: views.values,
      capacity: fresh ? 0 : this.pool.capacity,
    });
    result.forwardMs += performance.now() - started;
    result.prefillTokens += length;
    this.store(out, length, 0, slot, row.startPos, length);
    this.prompts.computed(row.seqId, row.startPos, row.startPos + length);

    if (wantAll) {
      const entries = this.sampler.scorePrompt(out.logits, row.tokens, row.followingToken, row.promptLogprobs as number);
      result.promptLogprobs.push({ seqId: row.seqId, entries } satisfies RowPromptLogprobs);
    }
    if (row.sample) {
      const last = wantAll ? out.logits.subarray((length - 1) * this.vocabSize, length * this.vocabSize) : out.logits;
      const samples = this.sampler.sample(last, [row.seqId]);
      result.samples.push(...samples);
      if (announceAs !== undefined && !wantAll) this.announce?.({ step: announceAs, samples });
    }
  }

  /**
   * Copies the part of a prefill chunk that a sibling with the same prompt has
   * already computed, and returns what is left to run. The last token of a
   * sampling chunk always runs: its logits are needed.
   */
  private shareFromSibling(row: DeviceRow, slot: number, result: DeviceStepResult): DeviceRow {
    if (row.promptLogprobs !== null) return row;
    const end = row.startPos + row.tokens.length - (row.sample ? 1 : 0);
    const donor = this.prompts.donor(row.seqId, row.startPos, end);
    if (donor === null) return row;
    this.pool.copyPositions(this.pool.slotOf(donor.seqId), slot, row.startPos, donor.end);
    this.prompts.computed(row.seqId, row.startPos, donor.end);
    result.sharedPrefillTokens += donor.end - row.startPos;
    return { ...row, tokens: row.tokens.slice(donor.end - row.startPos), startPos: donor.end };
  }

  private store(out: ForwardKv, seqLen: number, row: number, slot: number, start: number, count: number): void {
    for (let layer = 0; layer < out.newKeys.length; layer++) {
      this.pool.write(layer, out.newKeys[layer], out.newValues[layer], seqLen, row, slot, start, count);
    }
  }
}

/** One token without prompt scoring: it joins the step's batched decode call. */
function isDecodeRow(row: DeviceRow): boolean {
  return row.tokens.length === 1 && row.promptLogprobs === null;
}
