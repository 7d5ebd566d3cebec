// Typed access to Atomics.waitAsync. Node 20 ships it (V8 ≥ 8.7), but the
// project's `lib: ES2023` does not declare it (it is ES2024), so we declare
// the one signature we use here instead of widening the whole tsconfig.

export type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

type WaitAsyncFn = (
  typedArray: Int32Array,
  index: number,
  value: number,
  timeoutMs?: number,
) => WaitAsyncResult;

const nativeWaitAsync = (Atomics as unknown as { waitAsync?: WaitAsyncFn }).waitAsync;

if (typeof nativeWaitAsync !== 'function') {
  throw new Error('Atomics.waitAsync is unavailable: Serval needs Node.js >= 20');
}

const boundWaitAsync: WaitAsyncFn = nativeWaitAsync.bind(Atomics);

/**
 * Resolve once `view[index]` is notified or no longer equals `expected`
 * (or after `timeoutMs`). Never blocks the calling thread.
 */
export async function waitAsync(
  view: Int32Array,
  index: number,
  expected: number,
  timeoutMs?: number,
): Promise<'ok' | 'not-equal' | 'timed-out'> {
  const result = boundWaitAsync(view, index, expected, timeoutMs);
  return result.async ? result.value : result.value;
}
