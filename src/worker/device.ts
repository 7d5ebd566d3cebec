// A device worker's engine room: owns the session, the KV slot pool and each
// sequence's sampling state, and executes DeviceSteps. Prefill chunks run
// against their own slots' views, alone or several of similar length in one
// call; then the decode rows (one token each) go through one batched call over
// the contiguous slot prefix. A token sampled at
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
    const started = performance.now();
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
    this.pool.reserve(step.capacity, this.pool.activeSlots + step.admit.length, step.capacityCeiling);
    for (const admission of step.admit) {
      this.pool.acquire(admission.seqId);
      await this.sampler.admit(admission);
      this.prompts.admit(admission.seqId, admission.promptTokenIds);
      this.continuity.admit(admission.seqId, admission.stopTokenIds);
      if (admission.prefixBlocks) this.prompts.computed(admission.seqId, 0, this.prefixes.load(admission.seqId, admission.prefixBlocks));
    }

    const result: DeviceStepResult = { samples: [], promptLogprobs: [], forwardMs: 0, stepMs: 0, decodeRows: 0, prefillTokens: 0, sharedPrefillTokens: 0 };
    const decodeRows = step.rows.filter(isDecodeRow);
    await this.prefillAll(this.continuity.resolve(step.rows.filter((row) => !isDecodeRow(row))), result, step.announce, decodeRows.length > 0);
    // A follow-on row feeds the token its chunk sampled just now, or is dropped when that token ended the sequence.
    this.continuity.record(result.samples);
    const runnable = this.continuity.resolve(decodeRows);
    const chunkSamples = result.samples.length;
    if (runnable.length > 0) await this.decode(runnable, result);
    this.continuity.record(result.samples.slice(chunkSamples));
    this.prefixes.drop(step.cacheDropsAfterRun ?? []);
    this.prefixes.save(step.cacheSavesAfterRun ?? []);
    result.stepMs = performance.now() - started;
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

  /**
   * Runs the step's prompt chunks. Chunks in consecutive slots whose lengths
   * differ little go through one call as right-padded rows: every call reads
   * all the weights, so seven 16-token chunks (prompts found in the prefix
   * cache, at 32 streams) took 64 ms as seven calls and 35 ms as one. A chunk
   * that scores its prompt runs alone; one whose prompt a chunk of the pending
   * call has waits for that call, so that it copies the positions instead.
   * `announce`: the step's tag, for samples taken while other calls follow.
   */
  private async prefillAll(rows: DeviceRow[], result: DeviceStepResult, announce: number | undefined, decodeAfter: boolean): Promise<void> {
    let call: PrefillChunk[] = [];
    const flush = async (callsAfter: boolean): Promise<void> => {
      if (call.length === 0) return;
      const chunks = call;
      call = [];
      await this.prefill(chunks, result, callsAfter ? announce : undefined);
    };
    for (const fed of rows) {
      if (call.some((chunk) => this.prompts.samePrompt(chunk.row.seqId, fed.seqId))) await flush(true);
      const slot = this.pool.slotOf(fed.seqId);
      const row = this.shareFromSibling(fed, slot, result);
      if (row.tokens.length === 0) continue;
      if (call.length > 0 && !joinsCall(call, row, slot)) await flush(true);
      call.push({ row, slot });
    }
    await flush(decodeAfter);
  }

  /** One forward call for chunks that joinsCall() grouped (a chunk scoring its prompt is alone). */
  private async prefill(chunks: PrefillChunk[], result: DeviceStepResult, announceAs: number | undefined): Promise<void> {
    const batch = chunks.length;
    const seqLen = Math.max(...chunks.map(({ row }) => row.tokens.length));
    // Padding positions feed token 0 at position 0: in range of every table, and never stored or sampled.
    const inputIds = new BigInt64Array(batch * seqLen);
    const positionIds = new BigInt64Array(batch * seqLen);
    const pastLens = new BigInt64Array(batch);
    const newLens = new BigInt64Array(batch);
    chunks.forEach(({ row }, r) => {
      for (let i = 0; i < row.tokens.length; i++) {
        inputIds[r * seqLen + i] = BigInt(row.tokens[i]);
        positionIds[r * seqLen + i] = BigInt(row.startPos + i);
      }
      pastLens[r] = BigInt(row.startPos);
      newLens[r] = BigInt(row.tokens.length);
    });
    // Logits rows: every position when prompt logprobs are wanted (the last one
    // doubles as the sampling row), else each sampling row's last position.
    const scored = chunks[0].row.promptLogprobs !== null ? chunks[0].row : null;
    const sampling = chunks.filter(({ row }) => row.sample);
    const logitsRows = scored
      ? BigInt64Array.from({ length: seqLen }, (_, i) => BigInt(i))
      : BigInt64Array.from(chunks.flatMap(({ row }, r) => (row.sample ? [BigInt(r * seqLen + row.tokens.length - 1)] : [])));
    // First chunks have no past: feed an empty cache rather than the slots, or
    // attention would score every (masked) position of the slots' capacity.
    const fresh = chunks[0].row.startPos === 0;
    const views = fresh ? this.emptyViews : this.pool.slotViews(chunks[0].slot, batch);
    const started = performance.now();
    const out = await this.forward.run({
      batch,
      seqLen,
      inputIds,
      positionIds,
      pastLens,
      newLens,
      logitsRows,
      keys: views.keys,
      values: views.values,
      capacity: fresh ? 0 : this.pool.capacity,
    });
    result.forwardMs += performance.now() - started;
    chunks.forEach(({ row, slot }, r) => {
      const length = row.tokens.length;
      result.prefillTokens += length;
      this.store(out, seqLen, r, slot, row.startPos, length);
      this.prompts.computed(row.seqId, row.startPos, row.startPos + length);
    });

    if (scored) {
      const entries = this.sampler.scorePrompt(out.logits, scored.tokens, scored.followingToken, scored.promptLogprobs as number);
      result.promptLogprobs.push({ seqId: scored.seqId, entries } satisfies RowPromptLogprobs);
    }
    if (sampling.length > 0) {
      // A scoring chunk runs alone (seqLen is its length): its last logits row is its sampling row.
      const logits = scored ? out.logits.subarray((seqLen - 1) * this.vocabSize) : out.logits;
      const samples = this.sampler.sample(logits, sampling.map(({ row }) => row.seqId));
      result.samples.push(...samples);
      if (announceAs !== undefined && !scored) this.announce?.({ step: announceAs, samples });
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

/** A prompt chunk and the slot it writes. */
interface PrefillChunk {
  row: DeviceRow;
  slot: number;
}

/** Padded positions a call of several chunks may compute, as a share of its real ones. */
const PADDING_LIMIT = 1.25;

/**
 * May `row` join the pending call: the slot after the call's last, neither
 * scoring its prompt, all first chunks or none (those read no past), and
 * padding to the longest within PADDING_LIMIT.
 */
function joinsCall(call: readonly PrefillChunk[], row: DeviceRow, slot: number): boolean {
  const first = call[0].row;
  if (first.promptLogprobs !== null || row.promptLogprobs !== null) return false;
  if (slot !== (call.at(-1) as PrefillChunk).slot + 1 || (first.startPos === 0) !== (row.startPos === 0)) return false;
  const lengths = [...call.map((chunk) => chunk.row.tokens.length), row.tokens.length];
  const real = lengths.reduce((n, length) => n + length, 0);
  return Math.max(...lengths) * lengths.length <= PADDING_LIMIT * real;
}
