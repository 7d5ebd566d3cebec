// Typed duplex between the HTTP front (event loop) and the scheduler actor
// (worker thread): one SpscRing per direction, msgpack frames.
//
//   front ──toActor ring──▶ actor      FrontChannel.send / ActorChannel.poll
//   front ◀──toFront ring── actor      ActorChannel.send / FrontChannel.onMessage
//
// The front never blocks (waitAsync); the actor blocks (Atomics.wait) only
// when it has nothing to do or its outbound ring is full.

import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { decodeMessage, encodeMessageShared } from './codec.js';
import { IpcProtocolError } from '../../ipc/errors.js';
import {
  isActorToFrontMessage,
  isFrontToActorMessage,
  type ActorToFrontMessage,
  type FrontToActorMessage,
} from './messages.js';
import { SpscRing } from '../../ipc/ring.js';

/** The two ring buffers as seen from one end. Plain data: pass it in workerData. */
export interface ChannelSabs {
  inbound: SharedArrayBuffer;
  outbound: SharedArrayBuffer;
}

export interface ChannelPairOptions {
  /** Capacity of the front → actor ring (submits carry whole prompts). */
  toActorBytes?: number;
  /** Capacity of the actor → front ring (token streams). */
  toFrontBytes?: number;
}

export function createChannelPair(options: ChannelPairOptions = {}): {
  frontSabs: ChannelSabs;
  actorSabs: ChannelSabs;
} {
  const toActor = SpscRing.create(options.toActorBytes ?? 4 << 20).sab;
  const toFront = SpscRing.create(options.toFrontBytes ?? 4 << 20).sab;
  return {
    frontSabs: { inbound: toFront, outbound: toActor },
    actorSabs: { inbound: toActor, outbound: toFront },
  };
}

/** How congested the front → actor direction is; the HTTP layer turns sustained congestion into 429. */
export interface Backpressure {
  /** Messages encoded and queued because the ring was full. */
  pendingMessages: number;
  /** Age of the oldest queued message, ms (0 when none is queued). */
  blockedForMs: number;
  /** Bytes in the ring not yet consumed by the actor. */
  ringUsedBytes: number;
  ringCapacity: number;
}

export type FrontMessageHandler = (msg: ActorToFrontMessage) => void;

/** Frames dispatched per turn before yielding to the event loop, so a token flood cannot starve HTTP I/O. */
const FRONT_BATCH = 256;

export class FrontChannel {
  private readonly inbound: SpscRing;
  private readonly outbound: SpscRing;
  private running = false;

  constructor(sabs: ChannelSabs) {
    this.inbound = SpscRing.attach(sabs.inbound);
    this.outbound = SpscRing.attach(sabs.outbound);
  }

  /** Send, waiting asynchronously while the ring is full. Order is preserved across calls. */
  send(msg: FrontToActorMessage): Promise<void> {
    try {
      const shared = encodeMessageShared(msg);
      if (this.outbound.tryWrite(shared)) return Promise.resolve();
      // The shared encoder buffer is reused by the next encode: queue a copy.
      return this.outbound.write(shared.slice());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Send only if it fits now and nothing is queued ahead; false means "congested". */
  trySend(msg: FrontToActorMessage): boolean {
    return this.outbound.tryWrite(encodeMessageShared(msg));
  }

  backpressure(): Backpressure {
    return {
      pendingMessages: this.outbound.pendingWrites,
      blockedForMs: this.outbound.blockedForMs(),
      ringUsedBytes: this.outbound.usedBytes(),
      ringCapacity: this.outbound.capacity,
    };
  }

  /**
   * Start the receive loop: `handler` is called for every message in order.
   * Resolves when the channel is closed and the inbound ring is drained.
   * A handler exception stops the loop and rejects the returned promise.
   * If the actor thread dies, nothing more arrives: the owner should watch
   * the Worker's 'exit' event and call close().
   */
  async onMessage(handler: FrontMessageHandler): Promise<void> {
    if (this.running) throw new Error('FrontChannel.onMessage: a receive loop is already running');
    this.running = true;
    try {
      for (;;) {
        let n = 0;
        let frame: Uint8Array | null;
        while (n < FRONT_BATCH && (frame = this.inbound.tryReadView()) !== null) {
          handler(expectActorToFront(decodeMessage(frame)));
          n++;
        }
        if (n === FRONT_BATCH) {
          await yieldToEventLoop();
        } else if (this.inbound.closed) {
          if (!this.inbound.readable()) return;
        } else {
          await this.inbound.waitReadable();
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** Close both directions: the receive loop ends and queued sends reject. */
  close(): void {
    this.outbound.close();
    this.inbound.close();
  }
}

function expectActorToFront(msg: ReturnType<typeof decodeMessage>): ActorToFrontMessage {
  if (!isActorToFrontMessage(msg)) throw new IpcProtocolError(`front received a '${msg.type}' message`);
  return msg;
}

export class ActorChannel {
  private readonly inbound: SpscRing;
  private readonly outbound: SpscRing;
  private pendingWait: Promise<void> | null = null;

  constructor(sabs: ChannelSabs) {
    this.inbound = SpscRing.attach(sabs.inbound);
    this.outbound = SpscRing.attach(sabs.outbound);
  }

  /** Messages available now, without blocking (call between forward passes). */
  poll(max = Infinity): FrontToActorMessage[] {
    const out: FrontToActorMessage[] = [];
    let frame: Uint8Array | null;
    while (out.length < max && (frame = this.inbound.tryReadView()) !== null) {
      const msg = decodeMessage(frame);
      if (!isFrontToActorMessage(msg)) throw new IpcProtocolError(`actor received a '${msg.type}' message`);
      out.push(msg);
    }
    return out;
  }

  /** Block until a message is available, the channel closes, or the timeout passes. True if readable. */
  waitForMessages(timeoutMs: number): boolean {
    return this.inbound.waitReadableSync(timeoutMs);
  }

  /** True once the front closed the channel. */
  get closed(): boolean {
    return this.inbound.closed;
  }

  /** True when a message can be read now. */
  hasMessages(): boolean {
    return this.inbound.readable();
  }

  /**
   * Resolves when a message is available, the channel closes, or the timeout
   * passes, without blocking the thread: the actor's event loop must keep
   * receiving device-worker results while it waits.
   */
  async waitForMessagesAsync(timeoutMs: number): Promise<void> {
    // The ring allows one waiter: keep a single pending wait across timeouts.
    this.pendingWait ??= this.inbound.waitReadable().finally(() => {
      this.pendingWait = null;
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.pendingWait,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /**
   * Send, blocking the worker thread while the ring is full (the front drains
   * it from its event loop independently of its own sends, so this cannot
   * deadlock). Returns false on timeout; throws RingClosedError after close.
   */
  send(msg: ActorToFrontMessage, timeoutMs = Infinity): boolean {
    return this.outbound.writeBlocking(encodeMessageShared(msg), timeoutMs);
  }

  /** Send only if it fits now. */
  trySend(msg: ActorToFrontMessage): boolean {
    return this.outbound.tryWrite(encodeMessageShared(msg));
  }

  close(): void {
    this.outbound.close();
    this.inbound.close();
  }
}
