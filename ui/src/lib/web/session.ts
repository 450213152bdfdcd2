// Where the web app keeps its sign-in. A tab session keeps the token in sessionStorage: it
// survives reloading that tab and is gone when the tab closes. "Stay signed in" keeps nothing
// script-readable: the server's HttpOnly `parley_session` cookie carries the session, and on
// load `GET /api/me` tells whether it is still good.
import type { UserRef } from '../bindings';

const KEY = 'parley.session';

export interface TabSession {
  token: string;
  user: UserRef;
}

export interface SessionStore {
  load(): TabSession | null;
  save(session: TabSession): void;
  clear(): void;
}

export function tabSessionStore(storage: () => Storage | undefined = () => globalThis.sessionStorage): SessionStore {
  return {
    load() {
      try {
        const raw = storage()?.getItem(KEY);
        if (raw == null) return null;
        const s = JSON.parse(raw) as Partial<TabSession>;
        if (typeof s.token !== 'string' || s.user == null || typeof s.user.id !== 'number') return null;
        return { token: s.token, user: s.user };
      } catch {
        return null;
      }
    },
    save(session) {
      try {
        storage()?.setItem(KEY, JSON.stringify(session));
      } catch {
        // Storage blocked: the session lasts for this page only.
      }
    },
    clear() {
      try {
        storage()?.removeItem(KEY);
      } catch {
        // Nothing kept.
      }
    },
  };
}

/** How a sign-in is kept: the tab's token, or the server's cookie ("Stay signed in"). */
export type Keeping = 'tab' | 'cookie';

export function keepingFor(staySignedIn: boolean): Keeping {
  return staySignedIn ? 'cookie' : 'tab';
}

/** Errors that mean the credentials are no good (as opposed to the server being away). */
export function isSignedOut(code: string): boolean {
  return code === 'invalid_credentials' || code === 'unauthenticated' || code === 'account_disabled';
}
