// Avatars as object URLs, fetched once per path (a path changes with the image: `?v=<tag>`)
// and kept for the few hundred people a workspace shows. A path that cannot be fetched (the
// avatar was removed since the message was sent, the server is away) gives null: initials.
import { api } from './api';
import { toBytes } from './attachments';

const MAX = 300;
const cache = new Map<string, Promise<string | null>>();

/** The object URL of the avatar at `path`, or null when there is none to show. */
export function avatarUrl(path: string): Promise<string | null> {
  const hit = cache.get(path);
  if (hit != null) {
    cache.delete(path);
    cache.set(path, hit);
    return hit;
  }
  const p = api
    .avatar(path)
    .then((data) => URL.createObjectURL(new Blob([toBytes(data)], { type: 'image/png' })))
    .catch(() => {
      // Not kept: a later look (the server back) may find it.
      setTimeout(() => cache.delete(path), 30_000);
      return null;
    });
  cache.set(path, p);
  while (cache.size > MAX) {
    const oldest = cache.keys().next().value;
    if (oldest == null) break;
    const gone = cache.get(oldest);
    cache.delete(oldest);
    void gone?.then((url) => {
      if (url != null) URL.revokeObjectURL(url);
    });
  }
  return p;
}

/** Forgets every avatar (signing out, another workspace). */
export function forgetAvatars(): void {
  for (const p of cache.values()) {
    void p.then((url) => {
      if (url != null) URL.revokeObjectURL(url);
    });
  }
  cache.clear();
}
