// The hand-rolled `tokens` codec must produce exactly what @msgpack/msgpack
// produces (the independent reference), read it back, and step aside for
// anything else.

import t from 'tap';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { decode as referenceDecode, encode as referenceEncode } from '@msgpack/msgpack';
import { tryDecodeTokens, tryEncodeTokensShared } from '../../../src/engine/channel/tokens-fastpath.js';
import type { Message, TokensMessage } from '../../../src/engine/channel/messages.js';

const uint = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: 0x80, max: 0xffff }),
  fc.integer({ min: 0x10000, max: 0xffffffff }),
  fc.integer({ min: 0x100000000, max: Number.MAX_SAFE_INTEGER }),
);
// Canonical key order (type, reqId, tokenIds), as the fast encoder writes it.
const arbTokens: fc.Arbitrary<TokensMessage> = fc
  .tuple(uint, fc.oneof(fc.array(uint, { maxLength: 20 }), fc.array(fc.nat(0xffff), { minLength: 15, maxLength: 70_000 })))
  .map(([reqId, tokenIds]) => ({ type: 'tokens', reqId, tokenIds }));

t.test('fast encoding is byte-identical to @msgpack/msgpack and decodes both ways', async (t) => {
  fc.assert(
    fc.property(arbTokens, (msg) => {
      const fast = tryEncodeTokensShared(msg);
      if (fast === null) return false;
      const reference = referenceEncode(msg);
      if (Buffer.compare(fast, reference) !== 0) return false;
      if (!isDeepStrictEqual(referenceDecode(fast), msg)) return false;
      return isDeepStrictEqual(tryDecodeTokens(reference), msg);
    }),
    { numRuns: 300 },
  );
  t.pass('property held');
});

t.test('array length boundaries (fixarray/array16/array32)', async (t) => {
  for (const n of [0, 15, 16, 65535, 65536]) {
    const msg: TokensMessage = { type: 'tokens', reqId: 1, tokenIds: Array.from({ length: n }, (_, i) => i % 300) };
    const fast = tryEncodeTokensShared(msg);
    t.ok(fast !== null && Buffer.compare(fast, referenceEncode(msg)) === 0, `n=${n} matches reference`);
    t.same(tryDecodeTokens(referenceEncode(msg)), msg, `n=${n} decodes`);
  }
});

t.test('messages the fast path must not handle go to the generic codec', async (t) => {
  const others: unknown[] = [
    { type: 'tokens', reqId: 1, tokenIds: [1], logprobs: [{ logprob: -1, top: [] }] },
    { type: 'tokens', reqId: 1, tokenIds: [1], futureField: true },
    { type: 'tokens', reqId: -1, tokenIds: [1] },
    { type: 'tokens', reqId: 1, tokenIds: [1.5] },
    { type: 'tokens', reqId: 1, tokenIds: [-3] },
    { type: 'tokens', reqId: 1, choice: 0, tokenIds: [1] },
    { type: 'cancel', reqId: 1 },
  ];
  for (const m of others) t.equal(tryEncodeTokensShared(m as Message), null, JSON.stringify(m));
  // A tokens message with logprobs, encoded generically, is not claimed by the fast decoder.
  t.equal(tryDecodeTokens(referenceEncode(others[0])), null);
  // Different key order is valid msgpack but not the fast layout: fall back rather than misread.
  t.equal(tryDecodeTokens(referenceEncode({ reqId: 1, type: 'tokens', tokenIds: [1] })), null);
  t.equal(tryDecodeTokens(referenceEncode({ type: 'finished', reqId: 1 })), null);
});

t.test('truncated or padded frames are rejected, never misread', async (t) => {
  const full = referenceEncode({ type: 'tokens', reqId: 70000, tokenIds: [1, 300, 70000, 2 ** 33] });
  let misread = 0;
  for (let cut = 0; cut < full.length; cut++) if (tryDecodeTokens(full.subarray(0, cut)) !== null) misread++;
  t.equal(misread, 0, 'every strict prefix is refused');
  const padded = new Uint8Array(full.length + 1);
  padded.set(full);
  t.equal(tryDecodeTokens(padded), null, 'trailing byte refused');
  t.same(tryDecodeTokens(full), { type: 'tokens', reqId: 70000, tokenIds: [1, 300, 70000, 2 ** 33] });
});
