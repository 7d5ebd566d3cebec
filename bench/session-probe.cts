// Bench-only instrumentation, preloaded with `node --require` so it runs in every
// thread, including the engine's device workers (an ESM `--import` preload does
// not reach worker threads on Node 20). When SERVAL_BENCH_PROBE=1 it wraps
// onnxruntime's InferenceSession.run in worker threads and broadcasts one record
// per call, so a bench can see each step's true batch and the time spent inside
// and between session.run calls without touching engine code.
//
// Record (flat numbers, PROBE_FIELDS per call): start (epoch ms), duration ms,
// graph batch, seq len, active rows (new_len > 0), Σ past_len over active rows,
// Σ new_len, thread id, KV capacity (positions per slot in the kv.0.key input),
// longest active row's past_len + new_len (what the capacity must hold).

import workerThreads = require('node:worker_threads');
import ort = require('onnxruntime-node');

const PROBE_CHANNEL = 'serval-bench-session-probe';
const FLUSH_MS = 200;

if (process.env.SERVAL_BENCH_PROBE === '1' && !workerThreads.isMainThread) {
  const channel = new workerThreads.BroadcastChannel(PROBE_CHANNEL);
  channel.unref();
  let records: number[] = [];
  let lastFlush = performance.now();
  const flush = (): void => {
    if (records.length > 0) channel.postMessage(records);
    records = [];
    lastFlush = performance.now();
  };
  // The bench asks for a final flush once its run is over.
  channel.onmessage = (event: unknown): void => {
    if ((event as { data?: unknown }).data === 'flush') flush();
  };

  type Feeds = Record<string, ort.Tensor>;
  // The exported factory is the implementation class at runtime; its prototype carries run().
  const proto = (ort.InferenceSession as unknown as { prototype: { run: (feeds: Feeds, ...rest: unknown[]) => Promise<unknown> } }).prototype;
  const original = proto.run;
  proto.run = async function probedRun(this: unknown, feeds: Feeds, ...rest: unknown[]): Promise<unknown> {
    const start = performance.timeOrigin + performance.now();
    const t0 = performance.now();
    const out = await original.call(this, feeds, ...rest);
    const duration = performance.now() - t0;
    const ids = feeds.input_ids;
    const pastLens = feeds.past_lens?.data as BigInt64Array | undefined;
    const newLens = feeds.new_lens?.data as BigInt64Array | undefined;
    let active = 0;
    let pastSum = 0;
    let longest = 0;
    let newSum = 0;
    if (pastLens && newLens) {
      for (let i = 0; i < newLens.length; i++) {
        if (newLens[i] > 0n) {
          active++;
          pastSum += Number(pastLens[i]);
          longest = Math.max(longest, Number(pastLens[i] + newLens[i]));
          newSum += Number(newLens[i]);
        }
      }
    }
    const capacity = Number(feeds['kv.0.key']?.dims[2] ?? -1);
    records.push(start, duration, Number(ids?.dims[0] ?? 0), Number(ids?.dims[1] ?? 0), active, pastSum, newSum, workerThreads.threadId, capacity, longest);
    if (performance.now() - lastFlush > FLUSH_MS) flush();
    return out;
  };
}
