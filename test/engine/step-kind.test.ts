import t from 'tap';
import { stepKind } from '../../src/engine/actor/step-kind.js';
import type { StepRow } from '../../src/worker/types.js';

const row = (seqId: string, tokens: number, startPos = 0): StepRow => ({ seqId, tokens: Array.from({ length: tokens }, (_, i) => 3 + i), startPos, sample: true });

t.test('stepKind: what the running streams waited for', async (t) => {
  t.equal(stepKind([row('a', 1, 40), row('b', 1, 12)]), 'decode', 'decode rows only');
  t.equal(stepKind([row('a', 64), row('a', 1, 64)]), 'prompt', "a prompt chunk and its own follow-on row: no other stream waited");
  t.equal(stepKind([row('a', 16), row('b', 32)]), 'prompt', 'prompt chunks only');
  t.equal(stepKind([row('a', 1, 40), row('b', 64), row('b', 1, 64)]), 'mixed', "a running stream's decode row beside a prompt chunk");
  t.equal(stepKind([row('b', 1, 64), row('a', 16)]), 'mixed', 'order does not matter');
  t.equal(stepKind([]), null, 'a step that only releases slots or copies cache blocks');
});
