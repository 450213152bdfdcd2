// The bridge between the editor's Y.Doc (in the web view) and the app's Rust replica of the same
// document (src-tauri keeps a yrs document per open document and syncs it with the server).
//
//   replica -> UI: `open_doc` answers the whole state; then DocPush `update` / `awareness` /
//                  `connected` arrive on the channel. Applied with origin REMOTE.
//   UI -> replica: every Y.Doc update whose origin is not REMOTE goes to `doc_update`, in order,
//                  one call at a time (updates made meanwhile are merged into the next call);
//                  this client's awareness goes to `doc_awareness`, throttled.
import * as Y from 'yjs';
import {
  Awareness,
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates,
} from 'y-protocols/awareness';
import { api } from '../lib/api';
import type { DocGone, DocPush } from '../lib/api';

/** The origin of everything that came from the replica: never sent back. */
export const REMOTE = 'remote';

/** What other people see of us: the caret label and colour. */
export interface DocUser {
  name: string;
  color: string;
}

export interface BridgeOptions {
  /** Minimum time between two awareness sends (ms). Default 100 (at most 10 per second). */
  awarenessThrottleMs?: number;
  /** Resend our awareness this often even when nothing changed (ms), so that others do not
   * time it out (y-protocols drops states older than 30 s). Default 15 000. */
  awarenessRefreshMs?: number;
  /** First delay before retrying a refused `doc_update` (ms); doubles up to 30 s. Default 1000. */
  retryMs?: number;
}

type Listener<T> = (value: T) => void;

/** One open document. Create with {@link openBridge}; end with {@link DocBridge.close}. */
export class DocBridge {
  readonly name: string;
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  /** The rich-text content: the XmlFragment TipTap's Collaboration binds ("default"). */
  readonly fragment: Y.XmlFragment;

  #connected = false;
  #closed = false;
  /** The `open_doc` call, once started (close waits for it: the replica must be open before
   * `close_doc`, or it would stay open). */
  #opening: Promise<boolean> | null = null;
  /** The replica's state is in: sends may start. */
  #loaded = false;
  #connectedListeners = new Set<Listener<boolean>>();
  /** Why the replica stopped for good (deleted, access lost), once it has. */
  #gone: DocGone | null = null;
  #goneListeners = new Set<Listener<DocGone>>();
  #renamedListeners = new Set<Listener<string>>();
  #errorListeners = new Set<Listener<string | null>>();

  // Content sends: one at a time, in order.
  #pending: Uint8Array[] = [];
  #sending: Promise<void> | null = null;
  /** A send failed: what the replica holds is unknown, so the next send is the whole state. */
  #needFull = false;
  #retryDelay: number;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #retryWake: (() => void) | null = null;

  // Awareness sends.
  #awarenessThrottle: number;
  #lastAwarenessSent = 0;
  #awarenessTimer: ReturnType<typeof setTimeout> | null = null;
  #refreshTimer: ReturnType<typeof setInterval> | null = null;
  #awarenessChain: Promise<unknown> = Promise.resolve();

  readonly #options: Required<BridgeOptions>;

  constructor(name: string, user: DocUser, options: BridgeOptions = {}) {
    this.name = name;
    this.#options = {
      awarenessThrottleMs: options.awarenessThrottleMs ?? 100,
      awarenessRefreshMs: options.awarenessRefreshMs ?? 15_000,
      retryMs: options.retryMs ?? 1000,
    };
    this.#retryDelay = this.#options.retryMs;
    this.#awarenessThrottle = this.#options.awarenessThrottleMs;
    this.doc = new Y.Doc();
    this.fragment = this.doc.getXmlFragment('default');
    this.awareness = new Awareness(this.doc);
    this.awareness.setLocalState({ user: { name: user.name, color: user.color } });
    this.doc.on('update', this.#onDocUpdate);
    this.awareness.on('update', this.#onAwarenessUpdate);
  }

  get connected(): boolean {
    return this.#connected;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Calls `fn` now and on every change of the replica's connection. Returns the unsubscribe. */
  onConnected(fn: Listener<boolean>): () => void {
    this.#connectedListeners.add(fn);
    fn(this.#connected);
    return () => this.#connectedListeners.delete(fn);
  }

  get gone(): DocGone | null {
    return this.#gone;
  }

  /** Calls `fn` once the replica has stopped for good (the document was deleted, or access to
   * it was lost): nothing is sent after that. Returns the unsubscribe. */
  onGone(fn: Listener<DocGone>): () => void {
    this.#goneListeners.add(fn);
    if (this.#gone !== null) fn(this.#gone);
    return () => this.#goneListeners.delete(fn);
  }

  /** Calls `fn` with the document's new name when it was renamed on the server (the replica
   * follows it by id). Returns the unsubscribe. */
  onRenamed(fn: Listener<string>): () => void {
    this.#renamedListeners.add(fn);
    return () => this.#renamedListeners.delete(fn);
  }

  /** Save errors (null: saving works again). Returns the unsubscribe. */
  onError(fn: Listener<string | null>): () => void {
    this.#errorListeners.add(fn);
    return () => this.#errorListeners.delete(fn);
  }

  /** Opens the replica and loads its state. Called once, by {@link openBridge}. */
  async open(): Promise<void> {
    if (this.#opening) throw new Error('already open');
    const call = api.openDoc(this.name, (push) => this.#onPush(push));
    this.#opening = call.then(
      () => true,
      () => false,
    );
    const state = await call;
    if (this.#closed) return;
    Y.applyUpdate(this.doc, state, REMOTE);
    this.#loaded = true;
    if (this.#pending.length > 0) this.#startSending();
    this.#sendAwarenessNow();
    // Receivers only count a state as alive when its clock moves: setting the same state again
    // bumps the clock (y-protocols also does this by itself after 15 s; this keeps it explicit).
    this.#refreshTimer = setInterval(() => {
      const state = this.awareness.getLocalState();
      if (state !== null) this.awareness.setLocalState(state);
    }, this.#options.awarenessRefreshMs);
  }

  /** Resolves when every local change made so far has been handed to the replica. */
  async flush(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  /** Ends the document: last sends, `close_doc`, then the Y.Doc and awareness are destroyed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.doc.off('update', this.#onDocUpdate);
    this.awareness.off('update', this.#onAwarenessUpdate);
    if (this.#refreshTimer) clearInterval(this.#refreshTimer);
    if (this.#awarenessTimer) clearTimeout(this.#awarenessTimer);
    this.#refreshTimer = this.#awarenessTimer = null;
    // A failing send waits for its retry: try once more now, then give up.
    if (this.#retryWake) this.#retryWake();
    try {
      await this.flush();
    } catch {
      // reported through onError already
    }
    const opened = this.#opening ? await this.#opening : false;
    if (opened) {
      // Tell the others we are gone (a null state), so our caret disappears at once.
      removeAwarenessStates(this.awareness, [this.doc.clientID], 'close');
      const bye = encodeAwarenessUpdate(this.awareness, [this.doc.clientID]);
      await this.#awarenessChain;
      await api.docAwareness(this.name, bye).catch(() => {});
      await api.closeDoc(this.name).catch(() => {});
    }
    this.#connectedListeners.clear();
    this.#goneListeners.clear();
    this.#renamedListeners.clear();
    this.#errorListeners.clear();
    this.awareness.destroy();
    this.doc.destroy();
  }

  #onPush(push: DocPush): void {
    if (this.#closed) return;
    switch (push.kind) {
      case 'update':
        Y.applyUpdate(this.doc, new Uint8Array(push.update), REMOTE);
        break;
      case 'awareness':
        applyAwarenessUpdate(this.awareness, new Uint8Array(push.update), REMOTE);
        break;
      case 'connected':
        if (push.connected !== this.#connected) {
          this.#connected = push.connected;
          for (const fn of this.#connectedListeners) fn(push.connected);
          // Others may have dropped our state while we were away.
          if (push.connected) this.#scheduleAwareness();
        }
        break;
      case 'renamed':
        for (const fn of this.#renamedListeners) fn(push.name);
        break;
      case 'gone':
        // The replica refuses everything from now on: stop sending, drop what waits.
        this.#gone = push.reason;
        this.#pending = [];
        this.#needFull = false;
        if (this.#retryWake) this.#retryWake();
        if (this.#connected) {
          this.#connected = false;
          for (const fn of this.#connectedListeners) fn(false);
        }
        for (const fn of this.#goneListeners) fn(push.reason);
        break;
    }
  }

  #onDocUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === REMOTE || this.#closed || this.#gone !== null) return;
    this.#pending.push(update);
    this.#startSending();
  };

  #startSending() {
    // Before the replica is open, edits wait (sent once it is).
    if (!this.#loaded || this.#sending) return;
    this.#sending = this.#drain().finally(() => {
      this.#sending = null;
    });
  }

  async #drain(): Promise<void> {
    while ((this.#pending.length > 0 || this.#needFull) && this.#gone === null) {
      let batch: Uint8Array;
      if (this.#needFull) {
        // Everything we have; the replica ignores what it already holds.
        batch = Y.encodeStateAsUpdate(this.doc);
      } else {
        batch = this.#pending.length === 1 ? this.#pending[0] : Y.mergeUpdates(this.#pending);
      }
      this.#pending = [];
      try {
        await api.docUpdate(this.name, batch);
        if (this.#needFull || this.#retryDelay !== this.#options.retryMs) {
          this.#needFull = false;
          this.#retryDelay = this.#options.retryMs;
          this.#emitError(null);
        }
      } catch (err) {
        this.#needFull = true;
        this.#emitError(err instanceof Error ? err.message : String(err));
        if (this.#closed) {
          // One last try was made by close(): give up.
          this.#needFull = false;
          return;
        }
        await this.#sleep(this.#retryDelay);
        this.#retryDelay = Math.min(this.#retryDelay * 2, 30_000);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#retryWake = () => {
        if (this.#retryTimer) clearTimeout(this.#retryTimer);
        this.#retryTimer = null;
        this.#retryWake = null;
        resolve();
      };
      this.#retryTimer = setTimeout(() => this.#retryWake?.(), ms);
    });
  }

  #emitError(message: string | null) {
    for (const fn of this.#errorListeners) fn(message);
  }

  #onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ) => {
    if (origin === REMOTE || this.#closed) return;
    const me = this.doc.clientID;
    if (added.includes(me) || updated.includes(me) || removed.includes(me)) {
      this.#scheduleAwareness();
    }
  };

  #scheduleAwareness() {
    if (!this.#loaded || this.#closed || this.#awarenessTimer) return;
    const wait = this.#lastAwarenessSent + this.#awarenessThrottle - Date.now();
    if (wait <= 0) {
      this.#sendAwarenessNow();
    } else {
      this.#awarenessTimer = setTimeout(() => {
        this.#awarenessTimer = null;
        this.#sendAwarenessNow();
      }, wait);
    }
  }

  #sendAwarenessNow() {
    if (this.#closed) return;
    if (this.#awarenessTimer) {
      clearTimeout(this.#awarenessTimer);
      this.#awarenessTimer = null;
    }
    this.#lastAwarenessSent = Date.now();
    const update = encodeAwarenessUpdate(this.awareness, [this.doc.clientID]);
    // In order, and a failure (offline, closing) is not worth more than the next refresh.
    this.#awarenessChain = this.#awarenessChain.then(() =>
      api.docAwareness(this.name, update).catch(() => {}),
    );
  }
}

/** Opens `name`: a Y.Doc loaded with the replica's state, kept in sync until closed. */
export async function openBridge(
  name: string,
  user: DocUser,
  options?: BridgeOptions,
): Promise<DocBridge> {
  const bridge = new DocBridge(name, user, options);
  try {
    await bridge.open();
  } catch (err) {
    await bridge.close();
    throw err;
  }
  return bridge;
}
