// assembleToolCalls: a choice's streamed tool-call deltas back into its calls.

import t from 'tap';
import { assembleToolCalls } from '../../src/structured/tool-call-deltas.js';

t.test('headers open calls in index order; fragments append to their call', async (t) => {
  const calls = assembleToolCalls([
    { index: 0, id: 'a', type: 'function', function: { name: 'f', arguments: '' } },
    { index: 0, function: { arguments: '{"x":' } },
    { index: 1, id: 'b', type: 'function', function: { name: 'g', arguments: '' } },
    { index: 0, function: { arguments: ' 1}' } },
    { index: 1, function: { arguments: '{}' } },
  ]);
  t.same(calls, [
    { id: 'a', type: 'function', function: { name: 'f', arguments: '{"x": 1}' } },
    { id: 'b', type: 'function', function: { name: 'g', arguments: '{}' } },
  ]);
  t.same(assembleToolCalls([]), []);
});

t.test('a delta for an index not yet opened is refused', async (t) => {
  t.throws(() => assembleToolCalls([{ index: 1, id: 'b', type: 'function', function: { name: 'g', arguments: '' } }]), /index 1 before index 0/);
});
