// Hand-rolled msgpack for the hottest message: a `tokens` message without
// logprobs (one per running sequence per step). @msgpack/msgpack spends about
// 1 µs to encode and 1.2 µs to decode such a 30-byte frame; this path takes a
// small fraction of that (bench/ipc.ts measures both).
//
// The bytes are ordinary msgpack — a map {type, reqId, tokenIds} —
// so the generic decoder reads them too, and the fast decoder gives up
// (returns null) on any frame that is not exactly this layout. The encoder
// gives up on any message carrying a field it does not know, so adding a
// field to TokensMessage can never be silently dropped here.

import type { Message, TokensMessage } from './messages.js';

const KNOWN_KEYS = new Set(['type', 'reqId', 'tokenIds']);

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const fixstr = (s: string) => [0xa0 | s.length, ...ascii(s)];
const TYPE_KV = [...fixstr('type'), ...fixstr('tokens')];
const REQID_KEY = fixstr('reqId');
const TOKENIDS_KEY = fixstr('tokenIds');

const UINT32_LIMIT = 0x1_0000_0000;

let out = new Uint8Array(1024);
let view = new DataView(out.buffer);
let pos = 0;

function ensure(extra: number): void {
  if (pos + extra <= out.length) return;
  const bigger = new Uint8Array(Math.max(out.length * 2, pos + extra));
  bigger.set(out.subarray(0, pos));
  out = bigger;
  view = new DataView(out.buffer);
}

function putBytes(bytes: readonly number[]): void {
  for (let i = 0; i < bytes.length; i++) out[pos++] = bytes[i];
}

/** msgpack unsigned int, smallest form (as @msgpack/msgpack writes it). Caller checks 0 ≤ n ≤ MAX_SAFE_INTEGER. */
function putUint(n: number): void {
  if (n < 0x80) {
    out[pos++] = n;
  } else if (n < 0x100) {
    out[pos++] = 0xcc;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = 0xcd;
    view.setUint16(pos, n);
    pos += 2;
  } else if (n < UINT32_LIMIT) {
    out[pos++] = 0xce;
    view.setUint32(pos, n);
    pos += 4;
  } else {
    out[pos++] = 0xcf;
    view.setUint32(pos, Math.floor(n / UINT32_LIMIT));
    view.setUint32(pos + 4, n >>> 0);
    pos += 8;
  }
}

const isUint = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * Encode a plain `tokens` message into a shared buffer (valid until the next
 * call), or return null when the message needs the generic encoder.
 */
export function tryEncodeTokensShared(msg: Message): Uint8Array | null {
  if (msg.type !== 'tokens') return null;
  let keys = 0;
  for (const key in msg) {
    if (!KNOWN_KEYS.has(key)) return null;
    keys++;
  }
  const { reqId, tokenIds } = msg;
  if (keys !== 3 || !isUint(reqId) || !Array.isArray(tokenIds)) return null;

  pos = 0;
  ensure(64 + tokenIds.length * 9);
  out[pos++] = 0x80 | keys;
  putBytes(TYPE_KV);
  putBytes(REQID_KEY);
  putUint(reqId);
  putBytes(TOKENIDS_KEY);
  const n = tokenIds.length;
  if (n < 16) {
    out[pos++] = 0x90 | n;
  } else if (n < 0x10000) {
    out[pos++] = 0xdc;
    view.setUint16(pos, n);
    pos += 2;
  } else {
    out[pos++] = 0xdd;
    view.setUint32(pos, n);
    pos += 4;
  }
  for (let i = 0; i < n; i++) {
    const id = tokenIds[i];
    if (!isUint(id)) return null;
    putUint(id);
  }
  return out.subarray(0, pos);
}

// ------------------------------------------------------------------ decode

let rd: Uint8Array = out;
let rp = 0;

function matches(bytes: readonly number[]): boolean {
  if (rp + bytes.length > rd.length) return false;
  for (let i = 0; i < bytes.length; i++) if (rd[rp + i] !== bytes[i]) return false;
  rp += bytes.length;
  return true;
}

/** Read a msgpack unsigned int; -1 when the next value is not one. */
function readUint(): number {
  if (rp >= rd.length) return -1;
  const b = rd[rp++];
  if (b < 0x80) return b;
  const left = rd.length - rp;
  switch (b) {
    case 0xcc:
      return left >= 1 ? rd[rp++] : -1;
    case 0xcd:
      if (left < 2) return -1;
      rp += 2;
      return (rd[rp - 2] << 8) | rd[rp - 1];
    case 0xce:
      if (left < 4) return -1;
      rp += 4;
      return ((rd[rp - 4] << 24) >>> 0) + ((rd[rp - 3] << 16) | (rd[rp - 2] << 8) | rd[rp - 1]);
    case 0xcf: {
      if (left < 8) return -1;
      const hi = ((rd[rp] << 24) >>> 0) + ((rd[rp + 1] << 16) | (rd[rp + 2] << 8) | rd[rp + 3]);
      const lo = ((rd[rp + 4] << 24) >>> 0) + ((rd[rp + 5] << 16) | (rd[rp + 6] << 8) | rd[rp + 7]);
      rp += 8;
      const n = hi * UINT32_LIMIT + lo;
      return Number.isSafeInteger(n) ? n : -1;
    }
    default:
      return -1;
  }
}

/** Decode a frame laid out exactly as tryEncodeTokensShared writes it, else null. */
export function tryDecodeTokens(bytes: Uint8Array): TokensMessage | null {
  const head = bytes[0];
  if (head !== 0x83) return null;
  rd = bytes;
  rp = 1;
  if (!matches(TYPE_KV) || !matches(REQID_KEY)) return null;
  const reqId = readUint();
  if (reqId < 0) return null;
  if (!matches(TOKENIDS_KEY) || rp >= rd.length) return null;
  const a = rd[rp++];
  let n: number;
  if ((a & 0xf0) === 0x90) {
    n = a & 0x0f;
  } else if (a === 0xdc && rp + 2 <= rd.length) {
    n = (rd[rp] << 8) | rd[rp + 1];
    rp += 2;
  } else if (a === 0xdd && rp + 4 <= rd.length) {
    n = ((rd[rp] << 24) >>> 0) + ((rd[rp + 1] << 16) | (rd[rp + 2] << 8) | rd[rp + 3]);
    rp += 4;
  } else {
    return null;
  }
  if (n > rd.length - rp) return null; // each element takes at least one byte
  const tokenIds = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const id = readUint();
    if (id < 0) return null;
    tokenIds[i] = id;
  }
  if (rp !== rd.length) return null;
  return { type: 'tokens', reqId, tokenIds };
}
