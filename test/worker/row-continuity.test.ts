import t from 'tap';
import { PENDING_TOKEN, type DeviceRow } from '../../src/worker/types.js';
import { RowContinuity } from '../../src/worker/row-continuity.js';

const row = (seqId: string, tokens: number[], startPos: number): DeviceRow => ({ seqId, tokens, startPos, sample: true, promptLogprobs: null, followingToken: null });

t.test('a pending token becomes the last token sampled for that sequence', async (t) => {
  const rows = new RowContinuity();
  rows.admit('a', [2]);
  rows.admit('b', []);
  rows.record([
    { seqId: 'a', token: 40, logprob: null },
    { seqId: 'b', token: 41, logprob: null },
  ]);
  const resolved = rows.resolve([row('a', [PENDING_TOKEN], 5), row('b', [PENDING_TOKEN], 9), row('c', [1, 2, 3], 0)]);
  t.same(
    resolved.map((r) => [r.seqId, r.tokens, r.startPos]),
    [
      ['a', [40], 5],
      ['b', [41], 9],
      ['c', [1, 2, 3], 0],
    ],
  );
  rows.record([{ seqId: 'a', token: 50, logprob: null }]);
  t.same(rows.resolve([row('a', [PENDING_TOKEN], 6)])[0].tokens, [50], 'the latest sample counts');
});

t.test('rows of a sequence that sampled one of its stop ids are left out until it is forgotten', async (t) => {
  const rows = new RowContinuity();
  rows.admit('a', [2, 7]);
  rows.admit('b', [7]);
  rows.record([
    { seqId: 'a', token: 7, logprob: null },
    { seqId: 'b', token: 3, logprob: null },
  ]);
  t.same(rows.resolve([row('a', [PENDING_TOKEN], 4), row('b', [PENDING_TOKEN], 4)]).map((r) => r.seqId), ['b']);
  rows.forget('a');
  rows.admit('a', [2, 7]);
  t.same(rows.resolve([row('a', [1, 2], 0)]).map((r) => r.seqId), ['a'], 'a new incarnation runs again');
});

t.test('a pending token with nothing sampled is an error, not a guess', async (t) => {
  const rows = new RowContinuity();
  rows.admit('a', []);
  t.throws(() => rows.resolve([row('a', [PENDING_TOKEN], 3)]), /pending token/);
  t.throws(() => rows.resolve([row('zz', [PENDING_TOKEN], 3)]), /pending token/);
});
