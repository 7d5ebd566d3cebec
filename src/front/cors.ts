// CORS policy: which browser origins may call the API. Default: none (no
// CORS headers at all, and OPTIONS is not a route). '*' allows every origin;
// otherwise the request's Origin is echoed back only when it is listed.

export type Headers = Record<string, string>;

export class CorsPolicy {
  private readonly any: boolean;
  private readonly origins: Set<string>;

  constructor(allowedOrigins: readonly string[]) {
    this.any = allowedOrigins.includes('*');
    this.origins = new Set(allowedOrigins.map(normalizeOrigin));
  }

  get enabled(): boolean {
    return this.any || this.origins.size > 0;
  }

  /** Headers for an ordinary response to a request with this Origin ('' = none sent). */
  responseHeaders(origin: string): Headers {
    if (this.any) return { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'Retry-After, X-Request-Id' };
    if (origin === '' || !this.origins.has(normalizeOrigin(origin))) return this.origins.size > 0 ? { Vary: 'Origin' } : {};
    return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Expose-Headers': 'Retry-After, X-Request-Id', Vary: 'Origin' };
  }

  /** Whether a preflight from this origin gets the allow-headers (else a bare 204 the browser will refuse). */
  allows(origin: string): boolean {
    return this.any || (origin !== '' && this.origins.has(normalizeOrigin(origin)));
  }
}

/** Origins compare case-insensitively and without a trailing slash (`https://A.example/` = `https://a.example`). */
function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}

/** Parses `--allowed-origins`: a comma list, '*', or '' (none). */
export function parseAllowedOrigins(spec: string): string[] {
  return spec
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}
