// Prompt chunks in consecutive slots with similar lengths run as one forward
// call of right-padded rows. Each chunk must get what it gets alone: the same
// samples (logprobs within 1e-5) and the same KV (the next tokens agree).
// Which chunks shared a call shows in the announcements: one message per call.

import t from 'tap';
import { DEFAULT_SAMPLING_PARAMS, type SamplingParams } from '../../src/sampling/params.js';
import type { AnnouncedSamples, DeviceRow, DeviceStepResult, RowSample, SlotAdmission } from '../../src/worker/types.js';
import { loadTinyDevice } from './tiny-device.js';

const announced: AnnouncedSamples[] = [];
const device = await loadTinyDevice(t, (message) => announced.push(message));

const params: SamplingParams = { ...DEFAULT_SAMPLING_PARAMS, temperature: 0, ignoreEos: true, logprobs: 2 };
const admission = (seqId: string, prompt: number[]): SlotAdmission => ({ seqId, params, promptTokenIds: prompt, generatedTokenIds: [], stopTokenIds: [] });
const row = (seqId: string, tokens: number[], startPos: number, sample: boolean): DeviceRow => ({ seqId, tokens, startPos, sample, promptLogprobs: null, followingToken: null });
const only = (result: DeviceStepResult, seqId: string): RowSample[] => result.samples.filter((s) => s.seqId === seqId);

// Two chunks each (the second continues from the first's KV), then two decode steps.
const prompts: Record<string, number[]> = {
  a: [5, 9, 11, 2, 40, 41, 7, 8, 12, 13],
  b: [7, 3, 8, 21, 22, 23, 24, 25, 26],
  c: [30, 31, 32, 33, 34, 35, 36, 37, 38, 39],
};
const CUT = 5;

async function generate(ids: string[], tag: string): Promise<{ samples: Record<string, RowSample[]>; calls: string[][] }> {
  const seq = (id: string) => `${tag}${id}`;
  const samples: Record<string, RowSample[]> = Object.fromEntries(ids.map((id) => [id, []]));
  announced.length = 0;
  await device.step({ release: [], capacity: 16, admit: ids.map((id) => admission(seq(id), prompts[id])), rows: ids.map((id) => row(seq(id), prompts[id].slice(0, CUT), 0, false)) });
  const second = await device.step({
    release: [],
    capacity: 16,
    admit: [],
    rows: ids.map((id) => row(seq(id), prompts[id].slice(CUT), CUT, true)),
    announce: 1,
  });
  // Which sequences each announced call sampled (the last call's samples come with the result only).
  const calls = announced.map((m) => m.samples.map((s) => s.seqId.slice(tag.length)));
  for (const id of ids) samples[id].push(...only(second, seq(id)));
  for (let k = 0; k < 2; k++) {
    const next = await device.step({
      release: [],
      capacity: 16,
      admit: [],
      rows: ids.map((id) => row(seq(id), [samples[id].at(-1)?.token as number], prompts[id].length + k, true)),
    });
    for (const id of ids) samples[id].push(...only(next, seq(id)));
  }
  await device.step({ release: ids.map(seq), capacity: 16, admit: [], rows: [] });
  return { samples, calls };
}

t.test('chunks of similar length share a call and get what they get alone', async (t) => {
  const alone: Record<string, RowSample[]> = {};
  for (const id of Object.keys(prompts)) alone[id] = (await generate([id], `alone-${id}-`)).samples[id];
  // A fourth prompt with a longer second chunk would pad the call too much: it runs in a call of its own.
  prompts.d = Array.from({ length: 14 }, (_, i) => 50 + i);
  const together = await generate(['a', 'b', 'c', 'd'], 'together-');
  t.same(together.calls, [['a', 'b', 'c']], 'a, b and c (5, 4 and 5 tokens) in one call, announced; d (9 tokens) ran last, alone');
  for (const id of ['a', 'b', 'c']) {
    const got = together.samples[id];
    t.same(got.map((s) => s.token), alone[id].map((s) => s.token), `${id}: the same tokens`);
    const worst = Math.max(...got.map((s, i) => Math.abs((s.logprob?.logprob ?? 0) - (alone[id][i].logprob?.logprob ?? 0))));
    t.ok(worst <= 1e-5, `${id}: logprobs within 1e-5 (worst ${worst.toExponential(2)})`);
  }
});

t.test('a chunk whose prompt a chunk of the pending call has waits for that call and copies its positions', async (t) => {
  const prompt = prompts.a;
  const result = await device.step({
    release: [],
    capacity: 16,
    admit: [admission('s1', prompt), admission('s2', prompt)],
    rows: [row('s1', prompt, 0, true), row('s2', prompt, 0, true)],
  });
  t.equal(result.sharedPrefillTokens, prompt.length - 1, "s2 copied all but its last position from s1's call");
  t.equal(result.prefillTokens, prompt.length + 1);
  t.same(only(result, 's2').map((s) => s.token), only(result, 's1').map((s) => s.token));
  await device.step({ release: ['s1', 's2'], capacity: 16, admit: [], rows: [] });
});
