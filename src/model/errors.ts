// One error type for every way a model folder can be unusable, so callers (CLI,
// server startup) can print a message that tells the user which file and which
// field to fix instead of a bare stack trace.

export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
  /** The file at fault, as the user would recognise it (usually a path or a file name). */
  readonly file: string;
  /** The config field or tensor name at fault, or null when the whole file is bad. */
  readonly field: string | null;
  /** The problem without the file/field prefix. */
  readonly detail: string;

  constructor(file: string, field: string | null, message: string) {
    super(field === null ? `${file}: ${message}` : `${file}: ${field}: ${message}`);
    this.file = file;
    this.field = field;
    this.detail = message;
  }
}
