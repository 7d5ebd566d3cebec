// One mixture-of-experts FFN layer through onnxruntime's `com.microsoft` MoE
// kernel against dense FFNs of the same active size and of all experts, at 1
// and 32 tokens: whether Serval's graph can serve MoE decoders (Qwen3-MoE,
// gpt-oss) on the CPU provider, and what a batch costs them.
//
//   node dist/bench/moe-layer.js

import ort from 'onnxruntime-node';
import { DataType, GraphBuilder, MS_DOMAIN, int, str } from '../src/model/graph/onnx-builder.js';
import { median } from './raw-forward.js';

const HIDDEN = 1024;
const EXPERT_INTERMEDIATE = 384;
const EXPERTS = 32;
const TOP_K = 4;
const SESSION: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 2, graphOptimizationLevel: 'all' };

const values = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.05);

function inputs(g: GraphBuilder): { x: string } {
  const x = g.input('x', DataType.FLOAT, ['n', HIDDEN]);
  g.input('router', DataType.FLOAT, ['n', EXPERTS]);
  return { x };
}

function moeLayer(): Promise<ort.InferenceSession> {
  const g = new GraphBuilder();
  const { x } = inputs(g);
  const fc1 = g.floatTensor('fc1', values(EXPERTS * HIDDEN * EXPERT_INTERMEDIATE), [EXPERTS, EXPERT_INTERMEDIATE, HIDDEN]);
  const fc2 = g.floatTensor('fc2', values(EXPERTS * EXPERT_INTERMEDIATE * HIDDEN), [EXPERTS, HIDDEN, EXPERT_INTERMEDIATE]);
  g.op('MoE', [x, 'router', fc1, '', fc2], { k: int(TOP_K), activation_type: str('silu') }, 'y', MS_DOMAIN);
  g.output('y', DataType.FLOAT, ['n', HIDDEN]);
  return ort.InferenceSession.create(g.toModelBytes('moe'), SESSION);
}

function denseLayer(intermediate: number): Promise<ort.InferenceSession> {
  const g = new GraphBuilder();
  const { x } = inputs(g);
  const h = g.op('MatMul', [x, g.floatTensor('w1', values(HIDDEN * intermediate), [HIDDEN, intermediate])]);
  const silu = g.op('Mul', [h, g.op('Sigmoid', [h])]);
  g.op('MatMul', [silu, g.floatTensor('w2', values(intermediate * HIDDEN), [intermediate, HIDDEN])], {}, 'y');
  g.output('y', DataType.FLOAT, ['n', HIDDEN]);
  return ort.InferenceSession.create(g.toModelBytes('dense'), SESSION);
}

const layers: [string, ort.InferenceSession][] = [
  [`MoE kernel (${EXPERTS} experts of ${EXPERT_INTERMEDIATE}, top-${TOP_K})`, await moeLayer()],
  [`dense FFN, active size (${TOP_K} x ${EXPERT_INTERMEDIATE})`, await denseLayer(TOP_K * EXPERT_INTERMEDIATE)],
  [`dense FFN, all experts (${EXPERTS} x ${EXPERT_INTERMEDIATE})`, await denseLayer(EXPERTS * EXPERT_INTERMEDIATE)],
];
for (const tokens of [1, 32]) {
  const feeds = {
    x: new ort.Tensor('float32', values(tokens * HIDDEN), [tokens, HIDDEN]),
    router: new ort.Tensor('float32', values(tokens * EXPERTS), [tokens, EXPERTS]),
  };
  for (const [name, session] of layers) {
    for (let i = 0; i < 5; i++) await session.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      const started = performance.now();
      await session.run(feeds);
      times.push(performance.now() - started);
    }
    console.log(`${tokens} token(s), ${name}: median ${median(times).toFixed(3)} ms`);
  }
}
