// A device announces the samples a step takes at the end of a prompt while
// later calls of the same step (prompt chunks, then the decode call) still have
// to run, tagged with the step's announce number, and only when the step asks.

import t from 'tap';
import { DEFAULT_SAMPLING_PARAMS } from '../../src/sampling/params.js';
import type { AnnouncedSamples, DeviceRow, DeviceStep, SlotAdmission } from '../../src/worker/types.js';
import { loadTinyDevice } from './tiny-device.js';

const announced: AnnouncedSamples[] = [];
let stepRunning = false;
/** Announcements that arrived while no step was running (none should). */
let outsideSteps = 0;
const device = await loadTinyDevice(t, (message) => {
  if (!stepRunning) outsideSteps++;
  announced.push(message);
});

const params = { ...DEFAULT_SAMPLING_PARAMS, temperature: 0, ignoreEos: true };
const admission = (seqId: string, prompt: number[], promptLogprobs: number | null = null): SlotAdmission => ({
  seqId,
  params: { ...params, promptLogprobs },
  promptTokenIds: prompt,
  generatedTokenIds: [],
  stopTokenIds: [],
});
const row = (seqId: string, tokens: number[], startPos = 0, promptLogprobs: number | null = null): DeviceRow => ({
  seqId,
  tokens,
  startPos,
  sample: true,
  promptLogprobs,
  followingToken: null,
});
async function run(step: DeviceStep) {
  stepRunning = true;
  try {
    return await device.step(step);
  } finally {
    stepRunning = false;
  }
}

t.test('every prompt call but the step\'s last is announced, with the samples the result carries', async (t) => {
  announced.length = 0;
  // a and b (3 and 2 tokens) share a call; c (4) would pad them too much and runs alone, last.
  const prompts = { a: [5, 9, 11], b: [7, 3], c: [20, 21, 22, 23] };
  const result = await run({
    release: [],
    capacity: 8,
    admit: Object.entries(prompts).map(([id, prompt]) => admission(id, prompt)),
    rows: Object.entries(prompts).map(([id, prompt]) => row(id, prompt)),
    announce: 41,
  });
  t.same(announced.map((message) => message.step), [41], 'tagged with the step\'s number, one message per call');
  t.same(
    announced.flatMap((message) => message.samples),
    result.samples.filter((sample) => sample.seqId !== 'c'),
    'a and b, as in the result; c ran last, so its sample comes with the result only',
  );
  t.equal(outsideSteps, 0, 'announced while the step ran, before its result');

  announced.length = 0;
  await run({ release: ['a', 'b', 'c'], capacity: 8, admit: [admission('d', prompts.a), admission('e', prompts.b)], rows: [row('d', prompts.a), row('e', prompts.b)] });
  t.same(announced, [], 'a step without an announce number announces nothing');
});

t.test('a prompt before the decode call is announced; decode rows and rows scoring their prompt are not', async (t) => {
  announced.length = 0;
  const result = await run({
    release: ['d', 'e'],
    capacity: 8,
    admit: [admission('f', [5, 9, 11], 2), admission('g', [7, 3])],
    rows: [row('f', [5, 9, 11], 0, 2), row('g', [7, 3])],
    announce: 42,
  });
  t.same(announced, [], 'f wants prompt logprobs (they go with the result); g ran last');
  const next = result.samples.map((sample) => row(sample.seqId, [sample.token], sample.seqId === 'f' ? 3 : 2));
  const mixed = await run({ release: [], capacity: 8, admit: [admission('h', [1, 2, 3])], rows: [...next, row('h', [1, 2, 3])], announce: 43 });
  t.same(announced.map((message) => message.step), [43], 'one message');
  t.same(
    announced.flatMap((message) => message.samples),
    mixed.samples.filter((sample) => sample.seqId === 'h'),
    'h\'s prompt ran before the decode call: announced; the decode rows\' samples come with the result only',
  );
});
