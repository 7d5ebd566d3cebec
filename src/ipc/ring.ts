// Single-producer / single-consumer byte ring over a SharedArrayBuffer.
//
// Layout of the SharedArrayBuffer:
//   [0, HEADER_BYTES)             Int32 header words (see RING_HEADER)
//   [HEADER_BYTES, +capacity)     data region, capacity is a power of two
//
// HEAD and TAIL are free-running byte counters (they wrap at 2^32 via `| 0`);
// `(head - tail) | 0` is the number of bytes in use and `counter & mask` the
// offset in the data region. Only the producer stores HEAD, only the consumer
// stores TAIL; every store/load of them goes through Atomics, which is what
// publishes the frame bytes written before the store (JS atomics are
// sequentially consistent).
//
// A frame is a 4-byte length word followed by the payload, padded to a
// multiple of 4. Because capacity and frame starts are multiples of 4, the
// length word never straddles the end of the buffer; the payload may, and is
// then copied in two pieces. Splitting (rather than a skip marker) means any
// frame up to `capacity - 4` bytes fits into an empty ring, so a large frame
// cannot deadlock on a badly placed head.
//
// Waiting: the consumer sleeps on HEAD, the producer sleeps on TAIL. A sleeper
// raises its WAITING flag before re-checking the index, and the other side
// only calls Atomics.notify when that flag is up, so the common case (nobody
// asleep) costs no notify.

import { FrameTooLargeError, RingClosedError } from './errors.js';
import { waitAsync } from './atomics.js';

/** Int32 word indices in the header. Exported for tests that force counter wrap. */
export const RING_HEADER = {
  /** Bytes ever written (free-running, producer-owned). */
  HEAD: 0,
  /** Bytes ever consumed (free-running, consumer-owned). On its own cache line. */
  TAIL: 16,
  CAPACITY: 32,
  CONSUMER_WAITING: 33,
  PRODUCER_WAITING: 34,
  CLOSED: 35,
} as const;

const HEADER_BYTES = 256;
const LENGTH_BYTES = 4;
const MIN_CAPACITY = 16;
const MAX_CAPACITY = 1 << 30;
/** Below this, a byte loop beats TypedArray.set (which allocates a subarray view and calls into C++). */
const SMALL_FRAME_BYTES = 64;

const { HEAD, TAIL, CAPACITY, CONSUMER_WAITING, PRODUCER_WAITING, CLOSED } = RING_HEADER;

/** Bytes a frame of `payloadBytes` occupies in the ring. */
export function frameFootprint(payloadBytes: number): number {
  return LENGTH_BYTES + ((payloadBytes + 3) & ~3);
}

function roundUpToPowerOfTwo(n: number): number {
  let p = MIN_CAPACITY;
  while (p < n) p *= 2;
  return p;
}

interface PendingWrite {
  bytes: Uint8Array;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SpscRing {
  readonly sab: SharedArrayBuffer;
  /** Size of the data region in bytes (a power of two). */
  readonly capacity: number;
  /** Largest payload a single frame may carry. */
  readonly maxFrameBytes: number;

  private readonly header: Int32Array;
  private readonly data: Uint8Array;
  /** Same memory as `data`, for aligned length words. */
  private readonly words: Int32Array;
  private readonly mask: number;

  // Each end caches its own counter (it is the only writer) and the last
  // value it saw of the other end's counter, re-reading it only when needed.
  private head: number;
  private tail: number;
  private seenTail: number;

  /** Reusable destination for reads; grows to the largest frame seen. */
  private scratch = new Uint8Array(256);

  // Producer-side FIFO for async writes that found the ring full. Later
  // writes queue behind it so frames never overtake each other.
  private readonly pending: PendingWrite[] = [];
  private pumping = false;
  private blockedSinceMs: number | null = null;

  /** Allocate a ring with at least `capacityBytes` of data space. */
  static create(capacityBytes: number): { ring: SpscRing; sab: SharedArrayBuffer } {
    if (!Number.isInteger(capacityBytes) || capacityBytes <= 0 || capacityBytes > MAX_CAPACITY) {
      throw new RangeError(`ring capacity must be an integer in (0, ${MAX_CAPACITY}], got ${capacityBytes}`);
    }
    const capacity = roundUpToPowerOfTwo(capacityBytes);
    const sab = new SharedArrayBuffer(HEADER_BYTES + capacity);
    new Int32Array(sab, 0, HEADER_BYTES / 4)[CAPACITY] = capacity;
    return { ring: new SpscRing(sab), sab };
  }

  /** Open the other end of a ring created (possibly in another thread) by `create`. */
  static attach(sab: SharedArrayBuffer): SpscRing {
    return new SpscRing(sab);
  }

  private constructor(sab: SharedArrayBuffer) {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < HEADER_BYTES + MIN_CAPACITY) {
      throw new TypeError('SharedArrayBuffer was not created by SpscRing.create');
    }
    this.sab = sab;
    this.header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    const capacity = Atomics.load(this.header, CAPACITY);
    if (capacity < MIN_CAPACITY || (capacity & (capacity - 1)) !== 0 || sab.byteLength !== HEADER_BYTES + capacity) {
      throw new TypeError('SharedArrayBuffer was not created by SpscRing.create');
    }
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.maxFrameBytes = capacity - LENGTH_BYTES;
    this.data = new Uint8Array(sab, HEADER_BYTES, capacity);
    this.words = new Int32Array(sab, HEADER_BYTES, capacity / 4);
    this.head = Atomics.load(this.header, HEAD);
    this.tail = Atomics.load(this.header, TAIL);
    this.seenTail = this.tail;
  }

  // ---------------------------------------------------------------- state

  get closed(): boolean {
    return Atomics.load(this.header, CLOSED) !== 0;
  }

  /** Bytes currently occupied (approximate from the reader's point of view of the other end). */
  usedBytes(): number {
    return (Atomics.load(this.header, HEAD) - Atomics.load(this.header, TAIL)) | 0;
  }

  /** Async writes waiting for space (producer side). */
  get pendingWrites(): number {
    return this.pending.length;
  }

  /** How long the oldest queued async write has waited, in ms (0 when none). */
  blockedForMs(): number {
    return this.blockedSinceMs === null ? 0 : performance.now() - this.blockedSinceMs;
  }

  /**
   * Mark the ring closed and wake every sleeper on both ends. Frames already
   * in the ring can still be read; writes fail from now on.
   */
  close(): void {
    Atomics.store(this.header, CLOSED, 1);
    Atomics.notify(this.header, HEAD);
    Atomics.notify(this.header, TAIL);
    this.rejectPending(new RingClosedError());
  }

  // ------------------------------------------------------------- producer

  /**
   * Append one frame if it fits now. Returns false when the ring is full or
   * earlier async writes are still queued (so frames stay in order).
   * Throws FrameTooLargeError when the frame can never fit, RingClosedError
   * after close().
   */
  tryWrite(bytes: Uint8Array): boolean {
    this.checkWritable(bytes);
    if (this.pending.length > 0) return false;
    return this.writeNow(bytes);
  }

  /**
   * Append one frame, waiting (without blocking the thread) for space.
   * Frames are written in call order. The caller must not mutate `bytes`
   * until the promise settles.
   */
  write(bytes: Uint8Array): Promise<void> {
    try {
      this.checkWritable(bytes);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.pending.length === 0 && this.writeNow(bytes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      if (this.pending.length === 0) this.blockedSinceMs = performance.now();
      this.pending.push({ bytes, resolve, reject });
      if (!this.pumping) void this.pump();
    });
  }

  /**
   * Append one frame, blocking the thread with Atomics.wait while the ring is
   * full. For worker threads only (Atomics.wait would freeze an event loop).
   * Returns false on timeout.
   */
  writeBlocking(bytes: Uint8Array, timeoutMs = Infinity): boolean {
    this.checkWritable(bytes);
    if (this.pending.length === 0 && this.writeNow(bytes)) return true;
    const need = frameFootprint(bytes.length);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) return false;
      Atomics.store(this.header, PRODUCER_WAITING, 1);
      const tail = Atomics.load(this.header, TAIL);
      if (this.capacity - ((this.head - tail) | 0) < need && !this.closed) {
        Atomics.wait(this.header, TAIL, tail, remaining);
      }
      Atomics.store(this.header, PRODUCER_WAITING, 0);
      if (this.closed) throw new RingClosedError();
      if (this.pending.length === 0 && this.writeNow(bytes)) return true;
    }
  }

  private checkWritable(bytes: Uint8Array): void {
    if (bytes.length > this.maxFrameBytes) throw new FrameTooLargeError(bytes.length, this.maxFrameBytes);
    if (this.closed) throw new RingClosedError();
  }

  private hasSpace(need: number): boolean {
    if (this.capacity - ((this.head - this.seenTail) | 0) >= need) return true;
    this.seenTail = Atomics.load(this.header, TAIL);
    return this.capacity - ((this.head - this.seenTail) | 0) >= need;
  }

  private writeNow(bytes: Uint8Array): boolean {
    const len = bytes.length;
    const need = frameFootprint(len);
    if (!this.hasSpace(need)) return false;

    const start = this.head & this.mask;
    this.words[start >> 2] = len;
    const payloadAt = (start + LENGTH_BYTES) & this.mask;
    const untilEnd = this.capacity - payloadAt;
    if (len <= SMALL_FRAME_BYTES && len <= untilEnd) {
      const data = this.data;
      for (let i = 0; i < len; i++) data[payloadAt + i] = bytes[i];
    } else if (len <= untilEnd) {
      this.data.set(bytes, payloadAt);
    } else {
      this.data.set(bytes.subarray(0, untilEnd), payloadAt);
      this.data.set(bytes.subarray(untilEnd), 0);
    }

    this.head = (this.head + need) | 0;
    Atomics.store(this.header, HEAD, this.head);
    if (Atomics.load(this.header, CONSUMER_WAITING) !== 0) Atomics.notify(this.header, HEAD);
    return true;
  }

  /** Drain the async write queue in order, sleeping on TAIL while full. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.pending.length > 0) {
        if (this.closed) {
          this.rejectPending(new RingClosedError());
          return;
        }
        const next = this.pending[0];
        if (this.writeNow(next.bytes)) {
          this.pending.shift();
          this.blockedSinceMs = this.pending.length > 0 ? performance.now() : null;
          next.resolve();
          continue;
        }
        await this.waitWritable(frameFootprint(next.bytes.length));
      }
    } finally {
      this.pumping = false;
    }
  }

  private async waitWritable(need: number): Promise<void> {
    Atomics.store(this.header, PRODUCER_WAITING, 1);
    const tail = Atomics.load(this.header, TAIL);
    if (this.capacity - ((this.head - tail) | 0) < need && !this.closed) {
      await waitAsync(this.header, TAIL, tail);
    }
    Atomics.store(this.header, PRODUCER_WAITING, 0);
  }

  private rejectPending(err: Error): void {
    const waiting = this.pending.splice(0);
    this.blockedSinceMs = null;
    for (const w of waiting) w.reject(err);
  }

  // ------------------------------------------------------------- consumer

  /**
   * Read the next frame into a reusable buffer and return a view of it.
   * The view is only valid until the next read on this end; copy it (or use
   * tryRead) to keep it. Returns null when the ring is empty.
   */
  tryReadView(): Uint8Array | null {
    const tail = this.tail;
    if (Atomics.load(this.header, HEAD) === tail) return null;

    const start = tail & this.mask;
    const len = this.words[start >> 2];
    if (len > this.scratch.length) this.scratch = new Uint8Array(roundUpToPowerOfTwo(len));
    const payloadAt = (start + LENGTH_BYTES) & this.mask;
    const untilEnd = this.capacity - payloadAt;
    if (len <= SMALL_FRAME_BYTES && len <= untilEnd) {
      const data = this.data;
      const scratch = this.scratch;
      for (let i = 0; i < len; i++) scratch[i] = data[payloadAt + i];
    } else if (len <= untilEnd) {
      this.scratch.set(this.data.subarray(payloadAt, payloadAt + len), 0);
    } else {
      this.scratch.set(this.data.subarray(payloadAt, this.capacity), 0);
      this.scratch.set(this.data.subarray(0, len - untilEnd), untilEnd);
    }

    this.tail = (tail + frameFootprint(len)) | 0;
    Atomics.store(this.header, TAIL, this.tail);
    if (Atomics.load(this.header, PRODUCER_WAITING) !== 0) Atomics.notify(this.header, TAIL);
    return this.scratch.subarray(0, len);
  }

  /** Read the next frame as a fresh copy, or null when the ring is empty. */
  tryRead(): Uint8Array | null {
    const view = this.tryReadView();
    return view === null ? null : view.slice();
  }

  /** Read up to `max` frames that are available now (each a fresh copy). */
  drain(max = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (out.length < max) {
      const frame = this.tryRead();
      if (frame === null) break;
      out.push(frame);
    }
    return out;
  }

  /** True when at least one frame is waiting to be read. */
  readable(): boolean {
    return Atomics.load(this.header, HEAD) !== this.tail;
  }

  /**
   * Block the thread (Atomics.wait) until a frame is readable, the ring is
   * closed, or `timeoutMs` passes. Worker threads only. Returns readable().
   */
  waitReadableSync(timeoutMs: number): boolean {
    if (this.readable()) return true;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.closed) return this.readable();
      const remaining = deadline - performance.now();
      if (remaining <= 0) return false;
      Atomics.store(this.header, CONSUMER_WAITING, 1);
      if (Atomics.load(this.header, HEAD) === this.tail && !this.closed) {
        Atomics.wait(this.header, HEAD, this.tail, remaining);
      }
      Atomics.store(this.header, CONSUMER_WAITING, 0);
      if (this.readable()) return true;
    }
  }

  /** Blocking read for worker threads: the next frame, or null on timeout/close. */
  readBlocking(timeoutMs: number): Uint8Array | null {
    return this.waitReadableSync(timeoutMs) ? this.tryRead() : null;
  }

  /**
   * Resolve when a frame is readable or the ring is closed, without blocking
   * the event loop (Atomics.waitAsync). One waiter at a time (single consumer).
   * A pending waitAsync does not keep Node's event loop alive: something else
   * must (the Worker handle, the HTTP listen socket).
   */
  async waitReadable(): Promise<void> {
    while (!this.readable() && !this.closed) {
      Atomics.store(this.header, CONSUMER_WAITING, 1);
      if (Atomics.load(this.header, HEAD) === this.tail && !this.closed) {
        await waitAsync(this.header, HEAD, this.tail);
      }
      Atomics.store(this.header, CONSUMER_WAITING, 0);
    }
  }
}
