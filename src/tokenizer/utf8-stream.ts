// Incremental UTF-8 → UTF-16 decoding with the WHATWG "maximal subpart"
// replacement rule, the same rule as Rust's String::from_utf8_lossy and
// TextDecoder. Written out (rather than TextDecoder {stream:true}) because the
// detokenizer must know whether bytes are pending, and because decoding one
// small token through TextDecoder costs a native call.

const REPLACEMENT = '\uFFFD';

export class Utf8StreamDecoder {
  private codePoint = 0;
  private needed = 0;
  private seen = 0;
  private lower = 0x80;
  private upper = 0xbf;

  /** True while an incomplete multi-byte sequence is buffered. */
  get pending(): boolean {
    return this.needed !== 0;
  }

  /** Decodes `bytes`; returns only text that no later byte can change. */
  write(bytes: Uint8Array): string {
    let out = '';
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i];
      if (this.needed === 0) {
        if (byte <= 0x7f) {
          out += String.fromCharCode(byte);
        } else if (byte >= 0xc2 && byte <= 0xdf) {
          this.needed = 1;
          this.codePoint = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) this.lower = 0xa0;
          if (byte === 0xed) this.upper = 0x9f;
          this.needed = 2;
          this.codePoint = byte & 0x0f;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) this.lower = 0x90;
          if (byte === 0xf4) this.upper = 0x8f;
          this.needed = 3;
          this.codePoint = byte & 0x07;
        } else {
          out += REPLACEMENT;
        }
        continue;
      }
      if (byte < this.lower || byte > this.upper) {
        // The sequence so far is a maximal subpart: replace it once and
        // reprocess this byte as the start of something new.
        this.reset();
        out += REPLACEMENT;
        i--;
        continue;
      }
      this.lower = 0x80;
      this.upper = 0xbf;
      this.codePoint = (this.codePoint << 6) | (byte & 0x3f);
      if (++this.seen === this.needed) {
        out += String.fromCodePoint(this.codePoint);
        this.reset();
      }
    }
    return out;
  }

  /** Ends the stream: an incomplete sequence becomes one U+FFFD. */
  end(): string {
    if (this.needed === 0) return '';
    this.reset();
    return REPLACEMENT;
  }

  private reset(): void {
    this.codePoint = 0;
    this.needed = 0;
    this.seen = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes complete, valid UTF-8 (what Rust's String::from_utf8 accepts), or
 * returns null when `bytes` is incomplete or invalid.
 */
export function decodeUtf8Strict(bytes: Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}
