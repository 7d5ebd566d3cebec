// Typed access to the fields of a Hugging Face JSON file; every rejection is a
// ModelLoadError naming the file and the field.

import { ModelLoadError } from './errors.js';

export type Json = Record<string, unknown>;

/** Typed field access that fails with file + field in the message. */
export class FieldReader {
  constructor(
    private readonly file: string,
    private readonly json: Json,
    private readonly prefix = '',
  ) {}

  fail(field: string, message: string): ModelLoadError {
    return new ModelLoadError(this.file, this.prefix + field, message);
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  raw(field: string): unknown {
    return this.json[field];
  }

  int(field: string, opts: { min?: number } = {}): number {
    const v = this.json[field];
    if (v === undefined || v === null) throw this.fail(field, 'missing required integer field');
    return this.checkInt(field, v, opts.min ?? 1);
  }

  optInt(field: string, fallback: number, min = 1): number {
    const v = this.json[field];
    return v === undefined || v === null ? fallback : this.checkInt(field, v, min);
  }

  private checkInt(field: string, v: unknown, min: number): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw this.fail(field, `expected an integer, got ${JSON.stringify(v)}`);
    if (v < min) throw this.fail(field, `expected an integer ≥ ${min}, got ${v}`);
    return v;
  }

  num(field: string): number {
    const v = this.json[field];
    if (v === undefined || v === null) throw this.fail(field, 'missing required number field');
    return this.checkNum(field, v);
  }

  optNum(field: string, fallback: number): number;
  optNum(field: string, fallback: undefined): number | undefined;
  optNum(field: string, fallback: number | undefined): number | undefined {
    const v = this.json[field];
    return v === undefined || v === null ? fallback : this.checkNum(field, v);
  }

  private checkNum(field: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.fail(field, `expected a finite number, got ${JSON.stringify(v)}`);
    return v;
  }

  optBool(field: string, fallback: boolean): boolean;
  optBool(field: string, fallback: undefined): boolean | undefined;
  optBool(field: string, fallback: boolean | undefined): boolean | undefined {
    const v = this.json[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw this.fail(field, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  optString(field: string): string | undefined {
    const v = this.json[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw this.fail(field, `expected a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A token id field that may be one id or a list of ids (`eos_token_id`). */
  idList(field: string): number[] {
    const v = this.json[field];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    for (const id of list) {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
        throw this.fail(field, `expected a token id or a list of token ids, got ${JSON.stringify(v)}`);
      }
    }
    return list as number[];
  }

  nested(field: string): FieldReader | null {
    const v = this.json[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'object' || Array.isArray(v)) throw this.fail(field, `expected an object, got ${JSON.stringify(v)}`);
    return new FieldReader(this.file, v as Json, `${this.prefix}${field}.`);
  }
}


/** A positive number field (or `fallback` when absent). */
export function positive(r: FieldReader, field: string, fallback?: number): number {
  const v = fallback === undefined ? r.num(field) : r.optNum(field, fallback);
  if (v <= 0) throw r.fail(field, `expected a positive number, got ${v}`);
  return v;
}
