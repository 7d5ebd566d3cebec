// API-key checking for `Authorization: Bearer <key>` or `x-api-key: <key>`.
// Keys are compared as SHA-256 digests with timingSafeEqual, and every
// configured key is always checked, so the time taken says nothing about how
// much of a key matched or which key it was.

import { createHash, timingSafeEqual } from 'node:crypto';

export class ApiKeyChecker {
  private readonly digests: Buffer[];

  /** `keys` must be non-empty; empty strings are ignored. */
  constructor(keys: readonly string[]) {
    this.digests = keys.filter((key) => key !== '').map(digest);
    if (this.digests.length === 0) throw new Error('ApiKeyChecker needs at least one non-empty key');
  }

  /**
   * `authorization` and `xApiKey` are the raw header values ('' when absent);
   * either one carrying a configured key will do (`x-api-key` is how
   * Anthropic's clients send it).
   */
  accepts(authorization: string, xApiKey = ''): boolean {
    const match = /^Bearer[ \t]+(.+?)[ \t]*$/i.exec(authorization);
    const bearer = this.matches(match === null ? '' : match[1]);
    const header = this.matches(xApiKey.trim());
    return bearer || header;
  }

  /** Every key is compared, and '' is hashed too, so absent and wrong keys cost the same. */
  private matches(key: string): boolean {
    const offered = digest(key);
    let ok = false;
    for (const expected of this.digests) ok = timingSafeEqual(offered, expected) || ok;
    return ok && key !== '';
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
