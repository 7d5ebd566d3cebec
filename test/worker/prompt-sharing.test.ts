import t from 'tap';
import { PromptSharing } from '../../src/worker/prompt-sharing.js';

t.test('a sibling with the same prompt donates what it has computed, never more', async (t) => {
  const sharing = new PromptSharing();
  sharing.admit('a', [1, 2, 3, 4, 5]);
  sharing.admit('b', [1, 2, 3, 4, 5]);
  sharing.admit('c', [1, 2, 3, 4, 9]);
  t.equal(sharing.donor('b', 0, 5), null, 'nothing computed yet');
  sharing.computed('a', 0, 3);
  t.same(sharing.donor('b', 0, 5), { seqId: 'a', end: 3 });
  t.equal(sharing.donor('c', 0, 5), null, 'a different prompt never donates');
  sharing.computed('a', 3, 9);
  t.same(sharing.donor('b', 1, 5), { seqId: 'a', end: 5 }, 'only prompt positions count, not generated ones');
  sharing.forget('a');
  t.equal(sharing.donor('b', 0, 5), null, 'a released sequence no longer donates');
});

t.test('only a contiguous computed prefix counts', async (t) => {
  const sharing = new PromptSharing();
  sharing.admit('a', [7, 7, 7, 7]);
  sharing.admit('b', [7, 7, 7, 7]);
  sharing.computed('a', 2, 4);
  t.equal(sharing.donor('b', 0, 4), null, 'positions after a gap are not claimed');
});
