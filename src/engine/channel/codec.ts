// msgpack framing for IPC messages. One Encoder per thread is reused so the
// hot path does not allocate an output buffer per message.

import { Decoder, Encoder } from '@msgpack/msgpack';
import { IpcProtocolError } from '../../ipc/errors.js';
import type { Message } from './messages.js';
import { tryDecodeTokens, tryEncodeTokensShared } from './tokens-fastpath.js';

// Known normalisation: msgpack writes integral numbers as integers, so -0
// arrives as 0. Nothing in the protocol distinguishes them.
//
// ignoreUndefined: optional fields left undefined are omitted, so they decode
// back to "absent" rather than null.
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

/** Encode into a fresh Uint8Array the caller may keep. */
export function encodeMessage(msg: Message): Uint8Array {
  return encodeMessageShared(msg).slice();
}

/**
 * Encode into the shared encoder buffer, without copying. The result is only
 * valid until the next encode on this thread: copy it into a ring at once.
 */
export function encodeMessageShared(msg: Message): Uint8Array {
  return tryEncodeTokensShared(msg) ?? encoder.encodeSharedRef(msg);
}

/** Decode one frame. The result does not alias `bytes`. */
export function decodeMessage(bytes: Uint8Array): Message {
  const fast = tryDecodeTokens(bytes);
  if (fast !== null) return fast;
  const value = decoder.decode(bytes);
  if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
    throw new IpcProtocolError('IPC frame is not a message (missing string `type`)');
  }
  return value as Message;
}
