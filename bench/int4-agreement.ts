// Greedy top-1 agreement of the int4 (MatMulNBits) graph with the fp32 graph on
// the bench preset: the fp32 graph decodes 200 tokens greedily from a few
// prompts; the int4 graph is teacher-forced along them.
//
// Also: how close the fp32 choices are. Per step, the fp32 top-1 margin (top-1
// minus top-2 logit) against the int4 logits' RMS error over the vocabulary
// (the quantisation noise), and the agreement on the steps whose margin is
// clear of that noise (> 3 × RMS). Random weights give nearly tied logits, so
// most steps are within the noise; a trained model's greedy choices mostly are not.
//
//   node dist/bench/int4-agreement.js [--steps 200] [--prompts 2] [--symmetric] [--accuracy-level 4]

import { parseArgs } from 'node:util';
import { buildDecoderGraph } from '../src/model/graph/decoder-graph.js';
import { createDecoderSession } from '../src/model/graph/session.js';
import { DECODER_PRESETS } from '../src/model/testmodels/presets.js';
import { randomDecoderWeights } from '../src/model/testmodels/random-weights.js';
import { MapWeightStore } from '../src/model/weight-store.js';
import { greedyAgreement, promptTokens } from '../test/graph/harness.js';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '200' },
    prompts: { type: 'string', default: '2' },
    symmetric: { type: 'boolean', default: false },
    'accuracy-level': { type: 'string', default: '4' },
    preset: { type: 'string', default: 'bench' },
  },
});

const name = args.preset as keyof typeof DECODER_PRESETS;
const config = DECODER_PRESETS[name];
const weights = new MapWeightStore(randomDecoderWeights(config, 1));
const fp32 = await createDecoderSession(buildDecoderGraph(config, weights), { intraOpThreads: 2 });
const int4 = await createDecoderSession(
  buildDecoderGraph(config, weights, {
    quantize: 'int4',
    int4Symmetric: args.symmetric,
    int4AccuracyLevel: Number(args['accuracy-level']),
  }),
  { intraOpThreads: 2 },
);
let agree = 0;
let total = 0;
const margins: number[] = [];
const rmsErrors: number[] = [];
const logitSpreads: number[] = [];
let clearSteps = 0;
let clearAgree = 0;
const onStep = (base: Float32Array, cand: Float32Array): void => {
  let top1 = 0;
  for (let i = 1; i < base.length; i++) if (base[i] > base[top1]) top1 = i;
  let top2 = -Infinity;
  let candTop = 0;
  let squared = 0;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < base.length; i++) {
    sum += base[i];
    sumSquares += base[i] * base[i];
    if (i !== top1 && base[i] > top2) top2 = base[i];
    if (cand[i] > cand[candTop]) candTop = i;
    squared += (cand[i] - base[i]) ** 2;
  }
  const margin = base[top1] - top2;
  const rms = Math.sqrt(squared / base.length);
  margins.push(margin);
  logitSpreads.push(Math.sqrt(sumSquares / base.length - (sum / base.length) ** 2));
  rmsErrors.push(rms);
  if (margin > 3 * rms) {
    clearSteps++;
    if (candTop === top1) clearAgree++;
  }
};
for (let p = 0; p < Number(args.prompts); p++) {
  const r = await greedyAgreement(config, fp32, int4, promptTokens(500 + p, 16, config.vocabSize), Number(args.steps), onStep);
  console.log(`prompt ${p}: ${r.agree}/${r.total}`);
  agree += r.agree;
  total += r.total;
}
const median = (values: number[]): number => Float64Array.from(values).sort()[Math.floor(values.length / 2)];
console.log(
  `fp32 logits: standard deviation over the vocabulary median ${median(logitSpreads).toFixed(3)}, top-1 margin median ${median(margins).toFixed(3)}; ` +
    `int4 logit RMS error median ${median(rmsErrors).toFixed(3)}; ` +
    `steps with margin > 3 × RMS error: ${clearSteps}/${total}, int4 agrees on ${clearAgree}/${clearSteps}`,
);
console.log(
  `${name} preset, int4 ${args.symmetric ? 'symmetric' : 'asymmetric'} block 32, accuracy_level ${args['accuracy-level']}: ` +
    `greedy top-1 agreement ${agree}/${total} = ${((100 * agree) / total).toFixed(1)} %`,
);
