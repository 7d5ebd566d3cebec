// The hand-written incremental UTF-8 decoder against Node's TextDecoder (the
// WHATWG decoder, same replacement rule as Rust's from_utf8_lossy).

import t from 'tap';
import fc from 'fast-check';
import { Utf8StreamDecoder, decodeUtf8Strict } from '../../src/tokenizer/utf8-stream.js';

const reference = new TextDecoder('utf-8', { ignoreBOM: true });

// Bytes biased towards UTF-8 structure: lead bytes, continuation bytes, edge values.
const interestingByte = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.integer({ min: 0x80, max: 0xbf }),
  fc.constantFrom(0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x9f, 0xa0, 0x8f, 0x90),
);

t.test('chunked streaming equals one-shot TextDecoder on arbitrary bytes', async (t) => {
  fc.assert(
    fc.property(fc.array(interestingByte, { maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 6 }), (bytes, cuts) => {
      const data = Uint8Array.from(bytes);
      const points = [...new Set(cuts.map((c) => Math.min(c, data.length)))].sort((a, b) => a - b);
      const decoder = new Utf8StreamDecoder();
      let text = '';
      let start = 0;
      for (const p of [...points, data.length]) {
        text += decoder.write(data.subarray(start, p));
        start = p;
      }
      text += decoder.end();
      return text === reference.decode(data);
    }),
    { numRuns: 20000, seed: 42 },
  );
  t.pass('20000 random byte strings');
});

t.test('valid text round-trips and strict decoding rejects broken bytes', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (s) => {
      const bytes = new TextEncoder().encode(s);
      const decoder = new Utf8StreamDecoder();
      let text = '';
      for (const b of bytes) text += decoder.write(Uint8Array.of(b));
      return text === s && !decoder.pending && decodeUtf8Strict(bytes) === s;
    }),
    { numRuns: 5000, seed: 7 },
  );
  t.equal(decodeUtf8Strict(Uint8Array.of(0xe2, 0x82)), null, 'incomplete');
  t.equal(decodeUtf8Strict(Uint8Array.of(0xff)), null, 'invalid');
  t.equal(decodeUtf8Strict(Uint8Array.of(0xef, 0xbb, 0xbf)), '\uFEFF', 'a BOM is kept, as Rust does');
});
