// Graph weights streamed to an ONNX external-data file while the graph is
// built, instead of into the protobuf. Each tensor is written (page-aligned)
// as soon as the builder receives it, so its JS copy can be collected at once
// rather than living until serialisation beside the serialised copy; the
// protobuf stays small (no 2 GiB limit); and onnxruntime maps the file rather
// than parsing the weights out of a buffer. Measured with the bench preset
// (224 MB fp32): peak RSS while loading 813 → about 520 MB (README, "Memory").

import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where one tensor's bytes sit in the external-data file. */
export interface ExternalLocation {
  file: string;
  offset: number;
  length: number;
}

/** Page alignment lets onnxruntime memory-map each tensor in place. */
const ALIGNMENT = 4096;

export class ExternalDataWriter {
  /** File name relative to the model file, as ONNX external data requires. */
  readonly file = 'weights.bin';
  private readonly fd: number;
  private end = 0;
  private closed = false;

  constructor(readonly dir: string) {
    this.fd = openSync(path.join(dir, this.file), 'w');
  }

  append(bytes: Uint8Array): ExternalLocation {
    if (this.closed) throw new Error('external data file already closed');
    const offset = Math.ceil(this.end / ALIGNMENT) * ALIGNMENT;
    let written = 0;
    try {
      while (written < bytes.byteLength) {
        written += writeSync(this.fd, bytes, written, bytes.byteLength - written, offset + written);
      }
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(
        `cannot stage the model's weights in ${this.dir} (${reason}); ` +
          'it needs free space about the size of the weights as served: set SERVAL_STAGING_DIR (or TMPDIR) to a larger disk',
      );
    }
    this.end = offset + bytes.byteLength;
    return { file: this.file, offset, length: bytes.byteLength };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/**
 * A temporary folder holding one built model (`model.onnx` + `weights.bin`)
 * until onnxruntime has opened it. Removing it afterwards is safe: onnxruntime
 * has read or mapped the file, and a mapping outlives the name on POSIX systems.
 */
export class StagedModel {
  readonly weights: ExternalDataWriter;

  private constructor(readonly dir: string) {
    this.weights = new ExternalDataWriter(dir);
  }

  /** In `$TMPDIR` (or `SERVAL_STAGING_DIR`): needs free disk about the size of the served weights. */
  static create(): StagedModel {
    const parent = process.env.SERVAL_STAGING_DIR ?? os.tmpdir();
    return new StagedModel(mkdtempSync(path.join(parent, 'serval-graph-')));
  }

  /** Writes the graph next to its weights and returns the model file's path. */
  finish(modelBytes: Uint8Array): string {
    this.weights.close();
    const modelPath = path.join(this.dir, 'model.onnx');
    writeFileSync(modelPath, modelBytes);
    return modelPath;
  }

  remove(): void {
    this.weights.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
