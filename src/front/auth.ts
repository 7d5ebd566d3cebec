// API-key checking for `Authorization: Bearer <key>`. Keys are compared as
// SHA-256 digests with timingSafeEqual, and every configured key is always
// checked, so the time taken says nothing about how much of a key matched or
// which key it was.

import { createHash, timingSafeEqual } from 'node:crypto';

export class ApiKeyChecker {
  private readonly digests: Buffer[];

  /** `keys` must be non-empty; empty strings are ignored. */
  constructor(keys: readonly string[]) {
    this.digests = keys.filter((key) => key !== '').map(digest);
    if (this.digests.length === 0) throw new Error('ApiKeyChecker needs at least one non-empty key');
  }

  /** `authorization` is the raw header value ('' when absent). */
  accepts(authorization: string): boolean {
    const match = /^Bearer[ \t]+(.+?)[ \t]*$/i.exec(authorization);
    // Hash something even without a key so absent and wrong keys cost the same.
    const offered = digest(match === null ? '' : match[1]);
    let ok = false;
    for (const expected of this.digests) ok = timingSafeEqual(offered, expected) || ok;
    return ok && match !== null;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
