// In-place sort of parallel arrays (key, id) into key descending, id ascending —
// the sampler's canonical token order. Hand-written so the hot path allocates
// nothing and calls no comparator closures.

/** a before b? (higher key first; equal keys: lower id first) */
function before(keys: Float64Array, ids: Int32Array, a: number, b: number): boolean {
  return keys[a] > keys[b] || (keys[a] === keys[b] && ids[a] < ids[b]);
}

function swap(keys: Float64Array, ids: Int32Array, a: number, b: number): void {
  const k = keys[a];
  keys[a] = keys[b];
  keys[b] = k;
  const i = ids[a];
  ids[a] = ids[b];
  ids[b] = i;
}

/** Sort [lo, hi) of (keys, ids) by key descending, then id ascending. */
export function sortCandidates(keys: Float64Array, ids: Int32Array, lo: number, hi: number): void {
  while (hi - lo > 16) {
    // Median of three as pivot, moved to lo.
    const mid = lo + ((hi - lo) >>> 1);
    const last = hi - 1;
    if (before(keys, ids, mid, lo)) swap(keys, ids, mid, lo);
    if (before(keys, ids, last, lo)) swap(keys, ids, last, lo);
    if (before(keys, ids, last, mid)) swap(keys, ids, last, mid);
    swap(keys, ids, lo, mid);
    // Hoare partition around the pivot at lo; (key, id) pairs are distinct, so no infinite loops.
    let i = lo;
    let j = hi;
    for (;;) {
      do i++; while (i < hi && before(keys, ids, i, lo));
      do j--; while (before(keys, ids, lo, j));
      if (i >= j) break;
      swap(keys, ids, i, j);
    }
    swap(keys, ids, lo, j);
    // Recurse into the smaller side, loop on the larger: O(log n) stack.
    if (j - lo < hi - j - 1) {
      sortCandidates(keys, ids, lo, j);
      lo = j + 1;
    } else {
      sortCandidates(keys, ids, j + 1, hi);
      hi = j;
    }
  }
  for (let i = lo + 1; i < hi; i++) {
    const k = keys[i];
    const id = ids[i];
    let j = i - 1;
    while (j >= lo && (keys[j] < k || (keys[j] === k && ids[j] > id))) {
      keys[j + 1] = keys[j];
      ids[j + 1] = ids[j];
      j--;
    }
    keys[j + 1] = k;
    ids[j + 1] = id;
  }
}
