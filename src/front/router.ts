// Path + method → handler. A tiny table instead of uWS's router so that 404
// vs 405 (with Allow) is decided in one place, model ids may contain '/', and
// the uWS surface stays minimal (one `any('/*')` route).

import { ApiError } from '../protocol/errors.js';

export type Method = 'GET' | 'POST' | 'DELETE';

/** HEAD is answered by the GET handler (the exchange suppresses the body). */

export interface RouteMatch<H> {
  /** The route pattern, used as the metrics label (bounded cardinality). */
  route: string;
  handler: H;
  /** The tail captured by a `prefix/*` route, percent-decoded (e.g. a model id). */
  rest: string;
}

interface Route<H> {
  pattern: string;
  /** `/v1/models/` for `/v1/models/*` routes; null for exact routes. */
  prefix: string | null;
  methods: Partial<Record<Method, H>>;
}

export class Router<H> {
  private readonly exact = new Map<string, Route<H>>();
  private readonly prefixed: Route<H>[] = [];

  /** `pattern` is an exact path, or `/prefix/*` capturing the (non-empty) rest, slashes included. */
  add(method: Method, pattern: string, handler: H): this {
    const prefix = pattern.endsWith('/*') ? pattern.slice(0, -1) : null;
    let route = prefix === null ? this.exact.get(pattern) : this.prefixed.find((r) => r.pattern === pattern);
    if (route === undefined) {
      route = { pattern, prefix, methods: {} };
      if (prefix === null) this.exact.set(pattern, route);
      else this.prefixed.push(route);
    }
    route.methods[method] = handler;
    return this;
  }

  /** Returns the match, or throws ApiError 404 (no such path) / 405 (path exists, method does not). */
  match(method: string, rawPath: string): RouteMatch<H> {
    const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
    const found = this.find(path);
    if (found === null) throw ApiError.routeNotFound(method, rawPath);
    const handler = found.route.methods[(method === 'HEAD' ? 'GET' : method) as Method];
    if (handler === undefined) throw ApiError.methodNotAllowed(method, rawPath, this.allowed(found.route));
    return { route: found.route.pattern, handler, rest: found.rest };
  }

  /** The Allow header value for a route (GET implies HEAD). */
  allowed(route: Route<H>): string[] {
    const methods: string[] = Object.keys(route.methods);
    if (methods.includes('GET')) methods.push('HEAD');
    return methods;
  }

  /** Every method some route allows: a CORS preflight's answer, the same on every path so it reveals no route. */
  allMethods(): string[] {
    const methods = new Set<string>();
    for (const route of [...this.exact.values(), ...this.prefixed]) for (const m of this.allowed(route)) methods.add(m);
    return [...methods];
  }

  private find(path: string): { route: Route<H>; rest: string } | null {
    const exact = this.exact.get(path);
    if (exact !== undefined) return { route: exact, rest: '' };
    for (const r of this.prefixed) {
      if (r.prefix !== null && path.startsWith(r.prefix) && path.length > r.prefix.length) {
        let rest = path.slice(r.prefix.length);
        try {
          rest = decodeURIComponent(rest);
        } catch {
          // Malformed percent-encoding: match literally; the lookup will 404.
        }
        return { route: r, rest };
      }
    }
    return null;
  }
}
