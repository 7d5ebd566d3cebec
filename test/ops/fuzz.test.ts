// Request-body fuzzing against a live server (real engine, tiny model):
// 5,000+ generated and mutated bodies on the generation routes. Every answer
// must be a 2xx or 4xx with a well-formed body (an OpenAI error object, a
// completion object, or a complete SSE stream), never a 5xx, and the server
// must still be healthy and correct afterwards.

import fc from 'fast-check';
import t from 'tap';
import { MODEL_ID, startRealServer } from '../e2e/harness.js';
import { parseSse } from './helpers.js';

const BODIES = 5000;
const CONCURRENCY = 8;
/** Fixed for reproducibility; SERVAL_FUZZ_SEED=N explores other bodies. */
const SEED = Number(process.env.SERVAL_FUZZ_SEED ?? 20261126);

// ------------------------------------------------------------ arbitraries

const text = fc.string({ maxLength: 40 });
const weirdText = fc.oneof(text, fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', '\u0000', '\ud800', '<|im_start|>', '{{ raise_exception("x") }}', '%'.repeat(50)));
const smallPositive = fc.integer({ min: 1, max: 4 });
const sampling = {
  temperature: fc.double({ min: 0, max: 2, noNaN: true }),
  top_p: fc.double({ min: 0.01, max: 1, noNaN: true }),
  top_k: fc.integer({ min: -1, max: 50 }),
  min_p: fc.double({ min: 0, max: 1, noNaN: true }),
  seed: fc.integer(),
  n: fc.integer({ min: 1, max: 3 }),
  stream: fc.boolean(),
  stream_options: fc.record({ include_usage: fc.boolean() }),
  stop: fc.oneof(text, fc.array(text, { maxLength: 4 })).map((stop) => (Array.isArray(stop) ? stop.filter((s) => s !== '') : stop || 'x')),
  presence_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  frequency_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  repetition_penalty: fc.double({ min: 0.5, max: 2, noNaN: true }),
  logit_bias: fc.dictionary(fc.integer({ min: 0, max: 511 }).map(String), fc.integer({ min: -100, max: 100 }), { maxKeys: 3 }),
  ignore_eos: fc.boolean(),
  stop_token_ids: fc.array(fc.integer({ min: 0, max: 600 }), { maxLength: 3 }),
  skip_special_tokens: fc.boolean(),
  user: text,
};

const message = fc.record({
  role: fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool'),
  content: fc.oneof(weirdText, fc.array(fc.record({ type: fc.constant('text'), text: weirdText }), { maxLength: 3 })),
});

const chatBody = fc.record(
  {
    model: fc.constant(MODEL_ID),
    messages: fc.array(message, { minLength: 1, maxLength: 3 }),
    max_tokens: smallPositive,
    ...sampling,
    logprobs: fc.boolean(),
    top_logprobs: fc.integer({ min: 0, max: 20 }),
  },
  { requiredKeys: ['model', 'messages', 'max_tokens'] },
);

const tokenIds = fc.array(fc.integer({ min: 0, max: 511 }), { minLength: 1, maxLength: 12 });
const completionBody = fc.record(
  {
    model: fc.constant(MODEL_ID),
    prompt: fc.oneof(weirdText, fc.array(weirdText, { minLength: 1, maxLength: 3 }), tokenIds, fc.array(tokenIds, { minLength: 1, maxLength: 3 })),
    max_tokens: smallPositive,
    ...sampling,
    echo: fc.boolean(),
    logprobs: fc.integer({ min: 0, max: 5 }),
  },
  { requiredKeys: ['model', 'prompt', 'max_tokens'] },
);

const embeddingBody = fc.record({ model: fc.constantFrom(MODEL_ID, 'none'), input: fc.oneof(text, fc.array(text, { maxLength: 3 })) });

const boundary = fc.constantFrom<unknown>(
  null, true, false, 0, -1, 1.5, 1e9, -1e9, 1e308, -0, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, '', 'x', '1', [], {}, [null], { a: 1 }, 'a'.repeat(5000),
);
const anyValue = fc.oneof(boundary, fc.jsonValue({ maxDepth: 3 }));
const KEYS = [...Object.keys(sampling), 'model', 'messages', 'prompt', 'max_tokens', 'max_completion_tokens', 'logprobs', 'top_logprobs', 'echo', 'suffix', 'response_format', 'tools', 'tool_choice', 'input', 'best_of', '__proto__', 'constructor'];
const key = fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 }));

type Body = Record<string, unknown>;

/** Makes a generated body valid across fields (the mutations below then break it on purpose). */
function coherent(body: Body): Body {
  const b = { ...body };
  if (b.stream !== true) delete b.stream_options;
  if (b.top_logprobs !== undefined) b.logprobs = true;
  if (Array.isArray(b.messages)) b.messages = (b.messages as Body[]).map((m, i) => (m.role === 'tool' ? { ...m, tool_call_id: `call_${i}` } : m));
  return b;
}
const mutation: fc.Arbitrary<(b: Body) => Body> = fc.oneof(
  fc.tuple(key, anyValue).map(([k, v]) => (b: Body) => ({ ...b, [k]: v })),
  fc.constantFrom(...KEYS).map((k) => (b: Body) => {
    const copy = { ...b };
    delete copy[k];
    return copy;
  }),
  fc.tuple(fc.nat(2), anyValue).map(([i, v]) => (b: Body) => (Array.isArray(b.messages) ? { ...b, messages: (b.messages as unknown[]).map((m, j) => (j === i ? v : m)) } : b)),
  fc.tuple(fc.constantFrom('role', 'content', 'name', 'tool_calls', 'tool_call_id'), anyValue).map(([k, v]) => (b: Body) =>
    Array.isArray(b.messages) ? { ...b, messages: [{ ...(b.messages[0] as Body), [k]: v }, ...(b.messages as unknown[]).slice(1)] } : b,
  ),
);

interface Case {
  route: string;
  contentType: string;
  body: string;
}

const ROUTES = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];
const structured = fc
  .tuple(
    fc.oneof(
      { weight: 5, arbitrary: chatBody.map((b) => ['/v1/chat/completions', coherent(b)] as const) },
      { weight: 5, arbitrary: completionBody.map((b) => ['/v1/completions', coherent(b)] as const) },
      { weight: 1, arbitrary: embeddingBody.map((b) => ['/v1/embeddings', b as Body] as const) },
    ),
    fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }),
    fc.nat(9),
  )
  .map(([[route, body], mutations, crossRoute]): Case => ({
    // One time in ten the body goes to another generation route.
    route: crossRoute === 0 ? ROUTES[(ROUTES.indexOf(route) + 1) % ROUTES.length] : route,
    contentType: 'application/json',
    body: JSON.stringify(mutations.reduce((b, m) => m(b), body as Body)),
  }));

const raw = fc.tuple(fc.constantFrom(...ROUTES), fc.oneof(fc.string({ maxLength: 60 }), fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'), structured.map((c) => c.body.slice(0, Math.max(0, c.body.length - 3))))).map(([route, body]): Case => ({ route, contentType: 'application/json', body }));

const nesting = fc.tuple(fc.constantFrom(...ROUTES), fc.integer({ min: 1000, max: 50_000 }), fc.constantFrom('messages', 'prompt', 'stop', 'logit_bias')).map(([route, depth, field]): Case => ({
  route,
  contentType: 'application/json',
  body: `{"model":"${MODEL_ID}","max_tokens":1,"${field}":${'['.repeat(depth)}${']'.repeat(depth)}}`,
}));

const contentTypes = fc.tuple(structured, fc.constantFrom('', 'text/plain', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x')).map(([c, contentType]): Case => ({ ...c, contentType }));

const anyCase = fc.oneof({ weight: 14, arbitrary: structured }, { weight: 3, arbitrary: raw }, { weight: 1, arbitrary: nesting }, { weight: 2, arbitrary: contentTypes });

// ------------------------------------------------------------ checks

/** Returns a description of what is wrong with the answer, or null when it is well-formed. */
function problem(status: number, contentType: string, text: string): string | null {
  if (status >= 500) return `status ${status}: ${text.slice(0, 300)}`;
  if (!((status >= 200 && status < 300) || (status >= 400 && status < 500))) return `unexpected status ${status}`;
  if (contentType.startsWith('text/event-stream')) {
    if (status !== 200) return `SSE with status ${status}`;
    let sse;
    try {
      sse = parseSse(status, text);
    } catch (error) {
      return `malformed SSE frame: ${(error as Error).message}: ${text.slice(0, 300)}`;
    }
    if (!sse.done) return `stream without [DONE]: ${text.slice(-200)}`;
    if (sse.error !== null) return `error event in stream: ${JSON.stringify(sse.error)}`;
    if (sse.frames.length === 0) return 'stream without chunks';
    return null;
  }
  if (!contentType.startsWith('application/json')) return `content-type '${contentType}'`;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return `body is not JSON: ${text.slice(0, 200)}`;
  }
  if (status >= 400) {
    const error = json.error as Record<string, unknown> | undefined;
    if (typeof error?.message !== 'string' || typeof error.type !== 'string' || !('param' in error) || !('code' in error)) return `malformed error body: ${text.slice(0, 300)}`;
    return null;
  }
  if (!Array.isArray(json.choices) && !Array.isArray(json.data)) return `2xx without choices/data: ${text.slice(0, 300)}`;
  if (Array.isArray(json.choices)) {
    for (const choice of json.choices as Array<Record<string, unknown>>) {
      if (typeof choice.finish_reason !== 'string') return `choice without finish_reason: ${JSON.stringify(choice).slice(0, 200)}`;
    }
  }
  return null;
}

// ------------------------------------------------------------ run

t.test(`fuzz: ${BODIES} generated and mutated bodies, no 5xx, well-formed answers`, async (t) => {
  const served = await startRealServer({ maxModelLen: 32, maxBatchSize: 16, intraOpThreads: 1 }, 'tiny', { maxBodyBytes: 1 << 20, maxConcurrency: 16, maxQueue: 1024, requestTimeoutMs: 30_000 });
  t.teardown(() => served.close());
  const cases = fc.sample(anyCase, { numRuns: BODIES, seed: SEED });
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++];
      const res = await fetch(`${served.base}${c.route}`, { method: 'POST', headers: c.contentType === '' ? {} : { 'content-type': c.contentType }, body: c.body });
      const body = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const wrong = problem(res.status, res.headers.get('content-type') ?? '', body);
      if (wrong !== null && failures.length < 20) failures.push(`${c.route} ${c.contentType} ${c.body.slice(0, 300)}\n  → ${wrong}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  t.comment(`seed ${SEED}: ${cases.length} bodies in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  t.same(failures, [], 'every answer is a well-formed 2xx/4xx');
  t.ok((statuses.get(200) ?? 0) > BODIES / 10, 'a good share of the bodies really generated');
  t.ok([...statuses.keys()].some((s) => s >= 400), 'and many were refused');

  const health = await fetch(`${served.base}/health`);
  t.equal(health.status, 200, 'healthy afterwards');
  const check = await fetch(`${served.base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, prompt: 'The serval', max_tokens: 5, ignore_eos: true }),
  });
  const json = (await check.json()) as { usage: { completion_tokens: number } };
  t.equal(check.status, 200);
  t.equal(json.usage.completion_tokens, 5, 'and still generating');
  t.equal(served.model.engine.inFlight, 0, 'no engine request left behind');
});
