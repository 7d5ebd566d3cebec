import t from 'tap';
import { parseDevices, resolveEngineConfig } from '../../src/engine/config.js';

t.test('pipeline depth: lock-step on CPU, pipelined with a GPU, or as asked', async (t) => {
  t.equal(resolveEngineConfig({ modelDir: 'm' }).pipelineDepth, 1);
  t.equal(resolveEngineConfig({ modelDir: 'm', workers: 2 }).pipelineDepth, 1);
  t.equal(resolveEngineConfig({ modelDir: 'm', devices: parseDevices('cuda:0,cuda:1', 1) }).pipelineDepth, 2);
  t.equal(resolveEngineConfig({ modelDir: 'm', pipelineDepth: 2 }).pipelineDepth, 2);
  t.equal(resolveEngineConfig({ modelDir: 'm', devices: parseDevices('cuda:0', 1), pipelineDepth: 1 }).pipelineDepth, 1);
});

t.test('devices: one CPU worker per --workers, one per listed GPU', async (t) => {
  t.same(parseDevices('cpu', 2), ['cpu', 'cpu']);
  t.same(parseDevices('cuda:0, cuda:3', 1), [{ name: 'cuda', deviceId: 0 }, { name: 'cuda', deviceId: 3 }]);
  t.throws(() => parseDevices('gpu0', 1), /expected 'cpu' or 'cuda:N/);
});
