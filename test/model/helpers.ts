// Shared helpers for model-loading tests: temp dirs, raw safetensors bytes
// built by hand (independently of the writer under test), and float formulas.

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { ModelLoadError } from '../../src/model/errors.js';

export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'serval-model-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A safetensors file assembled byte by byte: u64 LE header length, header JSON, data. */
export function rawSafetensors(header: unknown, data: Uint8Array, headerLenOverride?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLenOverride ?? BigInt(json.length));
  return Buffer.concat([len, json, Buffer.from(data)]);
}

/** Splits a safetensors buffer into its parsed header and data section (test-side parser). */
export function parseRaw(buf: Buffer): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; data: Buffer } {
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')), data: buf.subarray(8 + n) };
}

export function f16Formula(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function bf16Formula(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 7) & 0xff;
  const frac = h & 0x7f;
  if (exp === 0) return sign * frac * 2 ** -133;
  if (exp === 255) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 128) * 2 ** (exp - 127);
}

/** Decodes tensor bytes from a file with the formulas above (no code under test involved). */
export function decodeRaw(dtype: string, bytes: Buffer): Float32Array {
  const out = new Float32Array(dtype === 'F32' ? bytes.length / 4 : bytes.length / 2);
  for (let i = 0; i < out.length; i++) {
    if (dtype === 'F32') out[i] = bytes.readFloatLE(i * 4);
    else if (dtype === 'F16') out[i] = f16Formula(bytes.readUInt16LE(i * 2));
    else out[i] = bf16Formula(bytes.readUInt16LE(i * 2));
  }
  return out;
}

export function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

/** Asserts `fn` throws a ModelLoadError whose message names `file` (and `field`) and matches `pattern`. */
export async function expectLoadError(t: Test, fn: () => unknown, file: string, field: string | null, pattern: RegExp): Promise<void> {
  try {
    await fn();
    t.fail(`expected a ModelLoadError for ${file}`);
  } catch (err) {
    t.ok(err instanceof ModelLoadError, `ModelLoadError, got ${String(err)}`);
    const e = err as ModelLoadError;
    t.ok(e.message.includes(file), `message names the file ${file}: ${e.message}`);
    if (field !== null) t.ok(e.message.includes(field), `message names ${field}: ${e.message}`);
    t.match(e.message, pattern);
  }
}

