// A prompt's last chunk may share its step with a follow-on row: a decode row
// of the same sequence, fed (PENDING_TOKEN) the token the chunk samples. The
// device runs it in the step's decode call after the chunk, announces the
// chunk's token first, and skips the row when that token ended the sequence.

import t from 'tap';
import { DEFAULT_SAMPLING_PARAMS, type SamplingParams } from '../../src/sampling/params.js';
import { PENDING_TOKEN, type AnnouncedSamples, type DeviceRow, type DeviceStepResult, type SlotAdmission } from '../../src/worker/types.js';
import { loadTinyDevice } from './tiny-device.js';

const announced: AnnouncedSamples[] = [];
const device = await loadTinyDevice(t, (message) => announced.push(message));

const greedy: SamplingParams = { ...DEFAULT_SAMPLING_PARAMS, temperature: 0, ignoreEos: true };
const prompts: Record<string, number[]> = { a: [5, 9, 11, 2, 40], b: [7, 3, 8] };
const admission = (seqId: string, prompt: number[], params: SamplingParams, stopTokenIds: number[] = []): SlotAdmission => ({
  seqId,
  params,
  promptTokenIds: prompt,
  generatedTokenIds: [],
  stopTokenIds,
});
const row = (seqId: string, tokens: number[], startPos: number): DeviceRow => ({ seqId, tokens, startPos, sample: true, promptLogprobs: null, followingToken: null });
const tokensOf = (result: DeviceStepResult, seqId: string): number[] => result.samples.filter((s) => s.seqId === seqId).map((s) => s.token);

/** Each prompt alone in its step, then one decode step per token: the layout without follow-on rows. */
async function separately(tag: string, params: SamplingParams, count: number): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [id, prompt] of Object.entries(prompts)) {
    const seqId = `${tag}-${id}`;
    const first = await device.step({ release: [], capacity: 16, admit: [admission(seqId, prompt, params)], rows: [row(seqId, prompt, 0)] });
    out[id] = tokensOf(first, seqId);
    while (out[id].length < count) {
      const next = await device.step({ release: [], capacity: 16, admit: [], rows: [row(seqId, [out[id].at(-1) as number], prompt.length + out[id].length - 1)] });
      out[id].push(...tokensOf(next, seqId));
    }
    await device.step({ release: [seqId], capacity: 16, admit: [], rows: [] });
  }
  return out;
}

for (const [name, params] of [
  ['greedy (in-graph argmax)', greedy],
  ['with logprobs (sampled from fetched logits)', { ...greedy, logprobs: 2 }],
] as const) {
  t.test(`a chunk and its follow-on row in one step give the tokens of two steps: ${name}`, async (t) => {
    const reference = await separately(`ref-${name}`, params, 4);
    announced.length = 0;
    const ids = Object.keys(prompts);
    const first = await device.step({
      release: [],
      capacity: 16,
      admit: ids.map((id) => admission(id, prompts[id], params)),
      rows: ids.flatMap((id) => [row(id, prompts[id], 0), row(id, [PENDING_TOKEN], prompts[id].length)]),
      announce: 7,
    });
    t.equal(first.decodeRows, 2, 'both follow-on rows ran in the decode call');
    t.same(
      announced.flatMap((m) => m.samples.map((s) => [s.seqId, s.token])),
      ids.map((id) => [id, reference[id][0]]),
      "each chunk's token is announced before the decode call",
    );
    const got: Record<string, number[]> = Object.fromEntries(ids.map((id) => [id, tokensOf(first, id)]));
    // Then ordinary pipelined decode rows, fed the follow-on row's token.
    for (let pos = 1; pos < 3; pos++) {
      const next = await device.step({ release: [], capacity: 16, admit: [], rows: ids.map((id) => row(id, [PENDING_TOKEN], prompts[id].length + pos)) });
      for (const id of ids) got[id].push(...tokensOf(next, id));
    }
    t.same(got, Object.fromEntries(ids.map((id) => [id, reference[id]])));
    await device.step({ release: ids, capacity: 16, admit: [], rows: [] });
  });
}

t.test("a follow-on row after a token that ends its sequence is skipped, and so are the sequence's later rows", async (t) => {
  const reference = await separately('ref-stop', greedy, 1);
  const stopOn = reference.a[0];
  const first = await device.step({
    release: [],
    capacity: 16,
    admit: [admission('s', prompts.a, greedy, [stopOn]), admission('b', prompts.b, greedy)],
    rows: [row('s', prompts.a, 0), row('s', [PENDING_TOKEN], prompts.a.length), row('b', prompts.b, 0), row('b', [PENDING_TOKEN], prompts.b.length)],
  });
  t.same(tokensOf(first, 's'), [stopOn], "s sampled its stop id: its follow-on row did not run");
  t.equal(tokensOf(first, 'b').length, 2, "b's follow-on row ran");
  t.equal(first.decodeRows, 1);
  const next = await device.step({ release: [], capacity: 16, admit: [], rows: [row('s', [PENDING_TOKEN], prompts.a.length + 1), row('b', [PENDING_TOKEN], prompts.b.length + 2)] });
  t.same(next.samples.map((s) => s.seqId), ['b'], "s's pipelined row is skipped too");
  await device.step({ release: ['s', 'b'], capacity: 16, admit: [], rows: [] });
});
