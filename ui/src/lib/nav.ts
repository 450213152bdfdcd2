// Where the main area is, shared by the chat part and the documents part of the UI.
// Read it with `$nav` in a component (or `get(nav)`), change it with the helpers below.
import { get, writable } from 'svelte/store';

export type View = 'chat' | 'docs' | 'dashboard';

export type Nav = {
  /** What the main area shows. */
  view: View;
  /** The open chat channel (kept while the documents view is shown). */
  channel: string | null;
  /** The open document (docs view). */
  doc: string | null;
  /** The docs view should open its "new document" form (it sets this back to false). */
  newDoc: boolean;
};

const LAST_CHANNEL = 'parley.lastChannel';

function lastChannel(): string | null {
  try {
    return globalThis.localStorage?.getItem(LAST_CHANNEL) ?? null;
  } catch {
    return null;
  }
}

/** Starts on the channel that was open last time (the list check drops it if it is gone). */
export const nav = writable<Nav>({ view: 'chat', channel: lastChannel(), doc: null, newDoc: false });

nav.subscribe((n) => {
  try {
    if (n.channel == null) globalThis.localStorage?.removeItem(LAST_CHANNEL);
    else globalThis.localStorage?.setItem(LAST_CHANNEL, n.channel);
  } catch {
    // No storage (tests, private mode): start on the first channel instead.
  }
});

export function showChannel(channel: string | null): void {
  nav.update((n) => ({ ...n, view: 'chat', channel }));
}

export function showDocs(doc: string | null = get(nav).doc): void {
  nav.update((n) => ({ ...n, view: 'docs', doc }));
}

/** The admins' Dashboard (live analytics). */
export function showDashboard(): void {
  nav.update((n) => ({ ...n, view: 'dashboard' }));
}

/** Ctrl+N: the documents view with its "new document" form open. */
export function newDocument(): void {
  nav.update((n) => ({ ...n, view: 'docs', newDoc: true }));
}

export function resetNav(): void {
  nav.set({ view: 'chat', channel: null, doc: null, newDoc: false });
}
