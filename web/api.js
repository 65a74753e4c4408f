// api.js - the collector's read API (docs/api.md) as seen by the dashboard.
//
// The reader token lives in sessionStorage (this tab only, gone when the
// tab closes) and goes out as "Authorization: Bearer". Nothing is fetched
// without one. A 401 forgets the token and tells the app (event
// "rf:unauthorized"), which shows the login form again.

const TOKEN_KEY = 'rasfleet.token';
const TIMEOUT_MS = 20000;
const CACHE_MS = 5000;

export class ApiError extends Error {
  constructor(status, code, message, path) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = path;
  }
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  cache.clear();
}

export function clearToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled */
  }
  cache.clear();
}

/** "/api/v1/devices" + {limit: 50, q: undefined} -> "/api/v1/devices?limit=50" */
export function apiUrl(path, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v != null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return `/api/v1${path}${s ? `?${s}` : ''}`;
}

const cache = new Map(); // url -> {t, promise}

/**
 * GETs a read endpoint and returns its JSON. Options: signal (abort when the
 * view changes), fresh (skip the 5 s cache), token (for the login check).
 */
export async function get(path, params, { signal, fresh = false, token } = {}) {
  const url = apiUrl(path, params);
  const tok = token ?? getToken();
  if (!tok) {
    window.dispatchEvent(new CustomEvent('rf:unauthorized', { detail: { reason: 'none' } }));
    throw new ApiError(401, 'unauthorized', 'Sign in with a reader or admin token to see this page.', url);
  }
  const hit = cache.get(url);
  if (!fresh && !token && hit && performance.now() - hit.t < CACHE_MS) return hit.promise;
  const promise = fetchJson(url, tok, signal);
  if (!token) {
    cache.set(url, { t: performance.now(), promise });
    promise.catch(() => cache.delete(url));
  }
  return promise;
}

async function fetchJson(url, tok, signal) {
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  const sig = signal && AbortSignal.any ? AbortSignal.any([signal, timeout]) : signal || timeout;
  let res;
  try {
    res = await fetch(url, { headers: { Authorization: `Bearer ${tok}`, Accept: 'application/json' }, signal: sig, cache: 'no-store' });
  } catch (e) {
    if (signal && signal.aborted) throw e;
    if (timeout.aborted) {
      throw new ApiError(0, 'timeout', `The collector did not answer ${url} within ${TIMEOUT_MS / 1000} s.`, url);
    }
    throw new ApiError(0, 'network', `Cannot reach the collector at ${location.origin} (${e.message}). Is it running?`, url);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (res.ok) {
    if (body == null) throw new ApiError(res.status, 'bad_json', `The collector sent an answer to ${url} that is not JSON.`, url);
    return body;
  }
  const msg = body && body.message ? body.message : `HTTP ${res.status}`;
  if (res.status === 401) {
    clearToken();
    window.dispatchEvent(new CustomEvent('rf:unauthorized', { detail: { reason: 'refused', message: msg } }));
    throw new ApiError(401, 'unauthorized', `The collector refused the token (401): ${msg}`, url);
  }
  if (res.status === 403) {
    throw new ApiError(403, 'forbidden', `This token may not read (403): ${msg}. Use a reader or admin token.`, url);
  }
  throw new ApiError(res.status, (body && body.error) || 'http', `${url} failed with HTTP ${res.status}: ${msg}`, url);
}

/** Checks a token before keeping it: resolves, or throws ApiError. */
export async function checkToken(token) {
  await get('/overview', { window: '1h' }, { token, fresh: true });
}
