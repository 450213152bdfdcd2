import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { api as desktopApi } from '../api';
import { api, CommandError } from './api';

// The web api has the desktop api's shape exactly (checked by svelte-check / tsc).
const parity: typeof desktopApi = api;

const alice = { id: 1, name: 'alice', display_name: null, avatar: null };

type Call = { url: string; method: string; headers: Record<string, string>; body: unknown; credentials?: string };

const calls: Call[] = [];
let meAnswer: { status: number; body: unknown } = { status: 401, body: { code: 'unauthenticated', message: 'sign in' } };

function answer(status: number, body: unknown) {
  return {
    status,
    ok: status >= 200 && status < 300,
    statusText: String(status),
    text: async () => (body == null ? '' : JSON.stringify(body)),
  };
}

/** A socket that never opens: the session stays "connecting". */
class SilentSocket {
  readyState = 0;
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;
  send() {}
  close() {}
}

beforeAll(() => {
  vi.stubGlobal('WebSocket', SilentSocket);
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    const call: Call = {
      url,
      method: init.method ?? 'GET',
      headers: (init.headers ?? {}) as Record<string, string>,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : init.body,
      credentials: init.credentials,
    };
    calls.push(call);
    if (url.endsWith('/api/me')) return answer(meAnswer.status, meAnswer.body);
    if (url.endsWith('/api/login')) return answer(200, { token: 'pl_tab', user: alice });
    if (url.endsWith('/api/logout')) return answer(204, null);
    return answer(404, { code: 'not_found', message: url });
  });
});

afterAll(() => {
  void api.signOut();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe('the web api’s session', () => {
  it('is this origin’s workspace, signed out without a token or a cookie', async () => {
    expect(parity.platform).toBe('web');
    const status = await api.status();
    expect(status).toMatchObject({ workspace: { server: location.origin, hosted: false }, user: null, connection: null });
    expect(calls[0]).toMatchObject({ method: 'GET', credentials: 'include' });
    expect(calls[0].headers.Authorization).toBeUndefined();
  });

  it('keeps a plain sign-in in this tab’s sessionStorage', async () => {
    calls.length = 0;
    const status = await api.signIn('alice', 'pw');
    expect(calls[0].body).toEqual({ name: 'alice', password: 'pw', device: 'web' });
    expect(status.user).toEqual(alice);
    expect(status.connection).toEqual({ state: 'connecting', attempt: 1 });
    expect(JSON.parse(sessionStorage.getItem('parley.session') ?? 'null')).toEqual({ token: 'pl_tab', user: alice });

    calls.length = 0;
    const out = await api.signOut();
    expect(calls[0]).toMatchObject({ method: 'POST', headers: { Authorization: 'Bearer pl_tab' } });
    expect(out.user).toBe(null);
    expect(sessionStorage.getItem('parley.session')).toBe(null);
  });

  it('stays signed in with the server’s cookie, keeping no token in storage', async () => {
    calls.length = 0;
    const status = await api.signIn('alice', 'pw', true);
    expect(calls[0].body).toEqual({ name: 'alice', password: 'pw', device: 'web', cookie: true });
    expect(status.user).toEqual(alice);
    expect(sessionStorage.getItem('parley.session')).toBe(null);
    expect(localStorage.getItem('parley.session')).toBe(null);

    calls.length = 0;
    await api.signOut();
    // The cookie's session is revoked: no token in the request, the browser's cookie instead.
    expect(calls[0]).toMatchObject({ method: 'POST', credentials: 'include' });
    expect(calls[0].headers.Authorization).toBeUndefined();
  });

  it('refuses what a browser cannot do', async () => {
    for (const p of [api.hostWorkspace('a', 'b'), api.uploadPath('/etc/passwd', () => {}), api.leaveWorkspace()]) {
      await expect(p).rejects.toBeInstanceOf(CommandError);
      await expect(p).rejects.toMatchObject({ code: 'unsupported' });
    }
    await expect(api.acceptInvite('https://x/?nothing', 'bob', 'pw')).rejects.toMatchObject({ code: 'invalid' });
  });
});
