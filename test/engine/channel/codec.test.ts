// msgpack codec: every message type round-trips exactly, and the direction
// guards classify every type.

import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { decodeMessage, encodeMessage, encodeMessageShared } from '../../../src/engine/channel/codec.js';
import { IpcProtocolError } from '../../../src/ipc/errors.js';
import { encode as referenceEncode } from '@msgpack/msgpack';
import {
  ACTOR_TO_FRONT_TYPES,
  FRONT_TO_ACTOR_TYPES,
  isActorToFrontMessage,
  isFrontToActorMessage,
  type Message,
  type MessageType,
} from '../../../src/engine/channel/messages.js';
import type { SamplingParams } from '../../../src/sampling/params.js';

const params: SamplingParams = {
  maxTokens: 128,
  temperature: 0.7,
  topP: 0.95,
  topK: 40,
  minP: 0.05,
  seed: 1234,
  presencePenalty: 0.5,
  frequencyPenalty: -0.25,
  repetitionPenalty: 1.1,
  logitBias: { ids: [13, 50256], values: [-100, 2.5] },
  stopTokenIds: [2, 32000],
  ignoreEos: false,
  minTokens: 3,
  logprobs: 5,
  promptLogprobs: null,
  grammar: { ebnf: 'root ::= "yes" | "no"', root: 'root' },
};

// One fixture per message type; the Record type makes a missing type a compile error.
const fixtures: Record<MessageType, Message[]> = {
  submit: [
    { type: 'submit', reqId: 1, promptTokenIds: [1, 15043, 29892, 3186], params, arrivalTime: 1764117000123.5 },
    { type: 'submit', reqId: 2 ** 40, promptTokenIds: [], params: { ...params, seed: null, logprobs: null, promptLogprobs: 0, logitBias: null, grammar: null }, arrivalTime: 0 },
  ],
  cancel: [{ type: 'cancel', reqId: 7 }],
  shutdown: [{ type: 'shutdown' }],
  fault: [
    { type: 'fault', target: 'device', worker: 1, kind: 'crash' },
    { type: 'fault', target: 'actor', worker: 0, kind: 'throw' },
  ],
  tokens: [
    { type: 'tokens', reqId: 7, tokenIds: [42] },
    {
      type: 'tokens',
      reqId: 7,
      tokenIds: [42, 43],
      logprobs: [
        { logprob: -0.125, top: [[42, -0.125], [7, -2.5]] },
        { logprob: -1e-9, top: [] },
      ],
      promptLogprobs: [null, { logprob: -3.75, top: [[9, -0.5]] }],
    },
  ],
  finished: [
    { type: 'finished', reqId: 7, reason: 'stop', promptTokens: 4, completionTokens: 2 },
    { type: 'finished', reqId: 8, reason: 'error', promptTokens: 4, completionTokens: 0, error: { message: 'device worker crashed: ünïcødé ✓', code: 'worker_crash' } },
    { type: 'finished', reqId: 9, reason: 'length', promptTokens: 1, completionTokens: 16 },
    { type: 'finished', reqId: 10, reason: 'abort', promptTokens: 1, completionTokens: 3 },
  ],
  rejected: [
    { type: 'rejected', reqId: 3, status: 400, error: { message: "max_tokens must be an integer ≥ 1, got 0", type: 'invalid_request_error', param: 'max_tokens', code: 'invalid_max_tokens' } },
    { type: 'rejected', reqId: 4, status: 503, error: { message: 'shutting down', type: 'service_unavailable', param: null, code: null } },
  ],
  stats: [{ type: 'stats', running: 3, waiting: 1, kvUsage: [0.5, 0.25], preemptions: 2, time: 1764117000000 }],
  loading: [{ type: 'loading' }, { type: 'loading', progress: 0.5, detail: 'layer 12/24' }],
  ready: [{ type: 'ready', maxModelLen: 8192, workers: 2 }],
};

t.test('every message type round-trips exactly', async (t) => {
  for (const [type, msgs] of Object.entries(fixtures)) {
    for (const msg of msgs) {
      const bytes = encodeMessage(msg);
      t.strictSame(decodeMessage(bytes), msg, `${type} round-trips`);
    }
  }
  t.same(
    [...FRONT_TO_ACTOR_TYPES, ...ACTOR_TO_FRONT_TYPES].sort(),
    Object.keys(fixtures).sort(),
    'the runtime type lists cover exactly the fixtures',
  );
});

t.test('encoding is standard msgpack (readable by a fresh encoder/decoder)', async (t) => {
  const msg = fixtures.tokens[1];
  t.same(encodeMessage(msg), referenceEncode(msg, { ignoreUndefined: true }));
});

t.test('undefined optional fields are omitted, not decoded as null', async (t) => {
  const msg = { type: 'tokens', reqId: 1, tokenIds: [5], logprobs: undefined } as Message;
  const back = decodeMessage(encodeMessage(msg));
  t.notOk('logprobs' in back, 'logprobs is absent after the round-trip');
});

t.test('encodeMessage returns an owned copy; encodeMessageShared is reused', async (t) => {
  const a = encodeMessage({ type: 'cancel', reqId: 1 });
  const aCopy = a.slice();
  encodeMessage({ type: 'cancel', reqId: 2 });
  t.same(a, aCopy, 'owned encoding unaffected by the next encode');
  const s1 = encodeMessageShared({ type: 'cancel', reqId: 1 });
  const s2 = encodeMessageShared({ type: 'cancel', reqId: 2 });
  t.equal(s1.buffer, s2.buffer, 'shared encodings alias one buffer');
});

t.test('direction guards', async (t) => {
  for (const [type, msgs] of Object.entries(fixtures)) {
    const front = FRONT_TO_ACTOR_TYPES.includes(type as never);
    t.equal(isFrontToActorMessage(msgs[0]), front, `${type} front→actor`);
    t.equal(isActorToFrontMessage(msgs[0]), !front, `${type} actor→front`);
  }
});

t.test('non-message frames are rejected', async (t) => {
  t.throws(() => decodeMessage(referenceEncode(42)), IpcProtocolError);
  t.throws(() => decodeMessage(referenceEncode({ reqId: 1 })), IpcProtocolError);
});

t.test('-0 decodes as 0 (msgpack encodes integral floats as integers)', async (t) => {
  const back = decodeMessage(encodeMessage({ type: 'stats', running: 0, waiting: 0, kvUsage: [-0], time: 0 }));
  t.ok(back.type === 'stats' && Object.is(back.kvUsage[0], 0));
});

t.test('random submit messages round-trip (fast-check)', async (t) => {
  // -0 is normalised to 0 by the encoder (see the test above), so generate without it.
  const real = (min: number, max: number) => fc.double({ min, max, noNaN: true }).map((x) => (x === 0 ? 0 : x));
  const arbParams = fc.record({
    maxTokens: fc.nat(100_000),
    temperature: real(0, 2),
    topP: real(0, 1),
    topK: fc.integer({ min: -1, max: 1000 }),
    minP: real(0, 1),
    seed: fc.option(fc.integer(), { nil: null }),
    presencePenalty: real(-2, 2),
    frequencyPenalty: real(-2, 2),
    repetitionPenalty: real(0.01, 10),
    logitBias: fc.option(fc.record({ ids: fc.array(fc.nat(200_000)), values: fc.array(real(-100, 100)) }, { noNullPrototype: true }), { nil: null }),
    stopTokenIds: fc.array(fc.nat(200_000)),
    ignoreEos: fc.boolean(),
    logprobs: fc.option(fc.nat(20), { nil: null }),
    minTokens: fc.nat(100),
    promptLogprobs: fc.option(fc.nat(20), { nil: null }),
    grammar: fc.option(fc.record({ ebnf: fc.string(), root: fc.string() }, { noNullPrototype: true }), { nil: null }),
  }, { noNullPrototype: true });
  fc.assert(
    fc.property(
      fc.record({
        type: fc.constant('submit' as const),
        reqId: fc.nat(),
        promptTokenIds: fc.array(fc.nat(250_000), { maxLength: 2000 }),
        params: arbParams,
        arrivalTime: real(0, 4e12),
      }, { noNullPrototype: true }),
      (msg) => isDeepStrictEqual(decodeMessage(encodeMessage(msg)), msg),
    ),
    { numRuns: 200 },
  );
  t.pass('property held');
});
