// Greedy top-1 agreement of the int4 (MatMulNBits) graph with the fp32 graph on
// the bench preset: the fp32 graph decodes 200 tokens greedily from a few
// prompts; the int4 graph is teacher-forced along them.
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
for (let p = 0; p < Number(args.prompts); p++) {
  const r = await greedyAgreement(config, fp32, int4, promptTokens(500 + p, 16, config.vocabSize), Number(args.steps));
  console.log(`prompt ${p}: ${r.agree}/${r.total}`);
  agree += r.agree;
  total += r.total;
}
console.log(
  `${name} preset, int4 ${args.symmetric ? 'symmetric' : 'asymmetric'} block 32, accuracy_level ${args['accuracy-level']}: ` +
    `greedy top-1 agreement ${agree}/${total} = ${((100 * agree) / total).toFixed(1)} %`,
);
