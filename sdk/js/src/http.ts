// The HTTP API (docs/protocol.md §12): sign-in, and any /api call with the token or the
// browser's session cookie.
import { ParleyError } from './errors.js';
import type { ErrorCode, Session, UserRef } from './protocol.js';

export interface HttpOptions {
  /** The server: `https://chat.example.com` (a path prefix is kept). Empty in a browser
   * page served by the server itself: the page's own origin. */
  url: string;
  /** A bearer token; without one, a browser sends the session cookie (same origin or a
   * `server.cors_origins` origin). */
  token?: string | null;
  fetch?: typeof fetch;
}

/** `https://host/prefix` without a trailing slash; the page's origin for ''. */
export function baseUrl(url: string): string {
  let base = url;
  if (!base) {
    const loc = (globalThis as { location?: { origin: string } }).location;
    if (!loc) throw new ParleyError('network', 'no server URL given, and not in a web page');
    base = loc.origin;
  }
  return base.replace(/\/+$/, '');
}

/** Calls the HTTP API; resolves to the JSON answer (null for 204), rejects with a
 * ParleyError carrying the server's code. */
export async function apiRequest<T>(
  opts: HttpOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const headers: Record<string, string> = {};
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let payload: BodyInit | undefined;
  if (body instanceof Blob || body instanceof ArrayBuffer || body instanceof Uint8Array) {
    payload = body as BodyInit;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await doFetch(`${baseUrl(opts.url)}${path}`, {
      method,
      headers,
      body: payload,
      credentials: opts.token ? 'omit' : 'include',
    });
  } catch (err) {
    throw new ParleyError('network', `the server could not be reached: ${String(err)}`);
  }
  if (res.status === 204) return null as T;
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    if (!res.ok) throw new ParleyError('bad_response', text.slice(0, 200) || res.statusText, null, res.status);
    throw new ParleyError('bad_response', 'the server did not answer with JSON', null, res.status);
  }
  if (!res.ok) {
    const err = (json ?? {}) as { code?: ErrorCode; message?: string; retry_after_ms?: number | null };
    throw new ParleyError(
      err.code ?? 'bad_response',
      err.message ?? res.statusText,
      err.retry_after_ms ?? null,
      res.status,
    );
  }
  return json as T;
}

export interface SignInOptions {
  /** The token's label on the server (`login` by default). */
  device?: string;
  /** Browsers: also keep the session in an HttpOnly cookie the server sets ("stay signed
   * in"), so a reload needs no password and no script can read the token. */
  cookie?: boolean;
  fetch?: typeof fetch;
}

/** Signs in: a new token and the user. */
export function login(url: string, name: string, password: string, opts: SignInOptions = {}): Promise<Session> {
  const body: Record<string, unknown> = { name, password };
  if (opts.device) body.device = opts.device;
  if (opts.cookie) body.cookie = true;
  return apiRequest<Session>({ url, fetch: opts.fetch }, 'POST', '/api/login', body);
}

export interface Registration {
  name: string;
  password: string;
  display_name?: string;
  /** An invite code (`inv_…`), needed unless registration is open. */
  invite?: string;
}

/** Creates an account and signs it in. */
export function register(url: string, account: Registration, opts: SignInOptions = {}): Promise<Session> {
  const body: Record<string, unknown> = { ...account };
  if (opts.cookie) body.cookie = true;
  return apiRequest<Session>({ url, fetch: opts.fetch }, 'POST', '/api/register', body);
}

/** The signed-in user (by token, or by the session cookie). */
export function me(opts: HttpOptions): Promise<UserRef> {
  return apiRequest<UserRef>(opts, 'GET', '/api/me');
}

/** Revokes the token (or the cookie's), closing every connection that used it. */
export async function logout(opts: HttpOptions): Promise<void> {
  await apiRequest<null>(opts, 'POST', '/api/logout');
}
