// Errors of fetching a model from the Hub, each a one-line message a user can
// act on. The Hub says what went wrong in the X-Error-Code header (the codes
// huggingface_hub maps to its own exceptions); @huggingface/hub drops headers,
// so the fetch it is given turns a failed response into HubHttpError first.

export class HubError extends Error {
  override readonly name = 'HubError';
}

/** A non-2xx answer from the Hub. */
export class HubHttpError extends Error {
  override readonly name = 'HubHttpError';
  constructor(
    readonly status: number,
    /** X-Error-Code: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo, ... (null when absent). */
    readonly errorCode: string | null,
    readonly url: string,
    /** The Hub's own message (JSON `error`), or the status text. */
    readonly detail: string,
  ) {
    super(`HTTP ${status}${errorCode === null ? '' : ` ${errorCode}`} from ${url}: ${detail}`);
  }
}

/** A fetch that throws HubHttpError on any non-2xx response (redirects are followed before), aborted by `signal`. */
export function checkedFetch(signal?: AbortSignal, inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, signal === undefined ? init : { ...init, signal });
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    let detail = text.trim() || response.statusText;
    try {
      const json = JSON.parse(text) as { error?: unknown };
      if (typeof json.error === 'string') detail = json.error;
    } catch {
      // not JSON: keep the text
    }
    throw new HubHttpError(response.status, response.headers.get('x-error-code'), response.url || String(input), detail.split('\n')[0].slice(0, 300));
  };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The network-level reason (e.g. `ECONNREFUSED`) when `error` is a failure to reach the host, else null. */
export function networkFailure(error: unknown): string | null {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    e = e.cause;
  }
  // undici: TypeError('fetch failed') whose cause carries no known code (e.g. a DNS error on some platforms).
  if (error instanceof TypeError && error.message === 'fetch failed') return error.cause instanceof Error ? error.cause.message : 'fetch failed';
  return null;
}

/** The user-facing error for a failed metadata request about `repo` at `revision`. */
export function describeHubFailure(error: HubHttpError, repo: string, revision: string, endpoint: string, hasToken: boolean): HubError {
  const page = `${endpoint}/${repo}`;
  if (error.errorCode === 'GatedRepo' || ((error.status === 401 || error.status === 403) && /gated|restricted/i.test(error.detail))) {
    return new HubError(
      hasToken
        ? `${repo} is a gated repository and the token in HF_TOKEN has no access to it (HTTP ${error.status}): request access on ${page} with the token's account`
        : `${repo} is a gated repository (HTTP ${error.status}): accept its terms on ${page} and set HF_TOKEN to an access token of that account`,
    );
  }
  if (error.errorCode === 'RevisionNotFound') return new HubError(`revision '${revision}' not found in ${repo} (HTTP ${error.status}): give a branch, tag or commit sha that exists`);
  if (error.errorCode === 'RepoNotFound' || (error.status === 404 && error.errorCode === null)) {
    return new HubError(`${repo} not found on ${endpoint} (HTTP ${error.status})${hasToken ? '' : '; a private repo needs HF_TOKEN'}`);
  }
  if (error.status === 401 || error.status === 403) {
    return new HubError(`${endpoint} refused access to ${repo} (HTTP ${error.status}): ${hasToken ? 'check that HF_TOKEN is valid and may read this repo' : 'set HF_TOKEN to an access token'}`);
  }
  return new HubError(`${endpoint} answered HTTP ${error.status} for ${repo}: ${error.detail}`);
}
