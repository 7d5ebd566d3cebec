// Tokens a device worker announces before its step ends (a prompt's first
// token while later calls of the same step still run): the actor sends
// them to the front at once, and skips them when the step's result is applied.
// Only rows of the announced step count, each once: an announcement that
// arrives after its step's result (they travel on different channels) is
// ignored, even when the same sequence has a row in the next step.

import type { AnnouncedSamples, DeviceRow, RowSample } from '../../worker/types.js';

export class EarlyTokens {
  /** Sampling rows of steps in flight whose token may be announced: seqId → "worker:step". */
  private readonly expected = new Map<string, string>();
  /** Rows whose token went out before their step's result. */
  private readonly sent = new Set<string>();

  /** Step `step` goes to `worker`: its sampling rows without prompt logprobs may be announced. */
  expect(worker: number, step: number, rows: readonly DeviceRow[]): void {
    for (const row of rows) if (row.sample && row.promptLogprobs === null) this.expected.set(row.seqId, `${worker}:${step}`);
  }

  /** The announced samples to send now: rows of that step, each at most once. */
  accept(worker: number, { step, samples }: AnnouncedSamples): RowSample[] {
    return samples.filter((sample) => {
      if (this.expected.get(sample.seqId) !== `${worker}:${step}`) return false;
      this.expected.delete(sample.seqId);
      this.sent.add(sample.seqId);
      return true;
    });
  }

  /** The step with these rows is applied or failed: which of them already sent their token. */
  settle(rows: readonly { seqId: string }[]): Set<string> {
    const sentEarly = new Set<string>();
    for (const { seqId } of rows) {
      this.expected.delete(seqId);
      if (this.sent.delete(seqId)) sentEarly.add(seqId);
    }
    return sentEarly;
  }
}
