// A tiny typed bus for the app's events. Only one `api.subscribe` exists (the app's central event
// handling); it passes every AppEvent to `emitAppEvent`, and any part of the UI (the documents
// view's comments, ...) listens with `onAppEvent`.
import type { AppEvent } from './api';

type Handler = (event: AppEvent) => void;

const handlers = new Set<Handler>();

/** Calls `fn` with every AppEvent from now on. Returns the unsubscribe. */
export function onAppEvent(fn: Handler): () => void {
  handlers.add(fn);
  return () => {
    handlers.delete(fn);
  };
}

/** Hands an AppEvent to every listener (a throwing listener does not stop the others). */
export function emitAppEvent(event: AppEvent): void {
  for (const fn of [...handlers]) {
    try {
      fn(event);
    } catch (err) {
      console.error('app event handler failed', err);
    }
  }
}
