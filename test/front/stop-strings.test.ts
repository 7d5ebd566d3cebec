import t from 'tap';
import fc from 'fast-check';
import { StopStringMatcher } from '../../src/front/stop-strings.js';

/**
 * Reference: check after every character, as token-by-token generation would;
 * the first stop string to complete ends the text (at equal ends, the longest).
 */
function expected(text: string, stops: string[], include: boolean): { text: string; stopped: boolean } {
  for (let end = 1; end <= text.length; end++) {
    const prefix = text.slice(0, end);
    const done = stops.filter((stop) => prefix.endsWith(stop)).sort((a, b) => b.length - a.length)[0];
    if (done !== undefined) return { text: include ? prefix : prefix.slice(0, end - done.length), stopped: true };
  }
  return { text, stopped: false };
}

function run(chunks: string[], stops: string[], include: boolean): { emitted: string[]; stopped: boolean } {
  const matcher = new StopStringMatcher(stops, include);
  const emitted: string[] = [];
  let stopped = false;
  for (const chunk of chunks) {
    const check = matcher.push(chunk);
    emitted.push(check.text);
    if (check.stopped) {
      stopped = true;
      break;
    }
  }
  if (!stopped) emitted.push(matcher.flush());
  return { emitted, stopped };
}

t.test('a stop string spanning chunks is cut and never partly shown', async (t) => {
  const { emitted, stopped } = run(['Hello wo', 'rl', 'd! more'], ['world'], false);
  t.ok(stopped);
  t.equal(emitted.join(''), 'Hello ');
  t.same(emitted, ['Hello ', '', '']);
});

t.test('held text is released when the stop string does not complete', async (t) => {
  const { emitted, stopped } = run(['ab', 'c', 'x'], ['abcd'], false);
  t.notOk(stopped);
  t.equal(emitted.join(''), 'abcx');
  t.equal(emitted[0], '', 'a possible stop prefix is held back');
});

t.test('include_stop_str_in_output keeps the stop string', async (t) => {
  const { emitted } = run(['x</s', '>y'], ['</s>'], true);
  t.equal(emitted.join(''), 'x</s>');
});

t.test('property: output equals the reference cut, and every emitted prefix survives', async (t) => {
  const alphabet = fc.constantFrom('a', 'b', 'c', ' ', 'é', '😀');
  const word = fc.array(alphabet, { minLength: 1, maxLength: 4 }).map((cs) => cs.join(''));
  await fc.assert(
    fc.property(
      fc.array(alphabet, { maxLength: 40 }).map((cs) => cs.join('')),
      fc.array(word, { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat(40), { maxLength: 10 }),
      fc.boolean(),
      (text, stops, cuts, include) => {
        const points = [...new Set(cuts.map((c) => Math.min(c, text.length)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let last = 0;
        for (const point of [...points, text.length]) {
          chunks.push(text.slice(last, point));
          last = point;
        }
        const want = expected(text, stops, include);
        const { emitted, stopped } = run(chunks, stops, include);
        const got = emitted.join('');
        if (stopped !== want.stopped) return false;
        return got === want.text;
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('3000 random texts, stop sets and chunkings');
});
