// The web app's core: what the desktop's Rust core (client/src, src-tauri/src) does for the UI,
// on the SDK. One ParleyClient per signed-in session; its frames become the desktop's
// ClientEvents; the channels the user is a member of are followed, and those not on screen
// reach the UI as `activity` summaries (newest seq, unread and mention counts) like the
// desktop's (src-tauri/src/activity.rs); sends and changes go through the outbox (./outbox.ts).
import {
  EVENT_KINDS,
  me,
  ParleyClient,
  type EventFrame,
  type ReadState as WireReadState,
  type Subscription,
} from '@parley/client';
import type {
  AppEvent,
  ClientEvent,
  ConnectionState,
  Message,
  OutboxEntry,
  SessionStatus,
  Settings,
  UserRef,
} from '../bindings';
import { toCommandError } from './errors';
import { frameToEvent } from './mapping';
import { decide, show, tabFocused } from './notify';
import { untilDone, WebOutbox } from './outbox';
import { isSignedOut, tabSessionStore, type SessionStore } from './session';
import { loadSettings, saveSettings } from './settings';

/** The part of ParleyClient the core uses (a fake one in tests). */
export type ClientLike = Pick<
  ParleyClient,
  | 'on'
  | 'connect'
  | 'close'
  | 'request'
  | 'subscribe'
  | 'send'
  | 'history'
  | 'typing'
  | 'presence'
  | 'position'
  | 'api'
  | 'http'
  | 'socketUrl'
>;

export type ClientFactory = (token: string | null) => ClientLike;

interface Counts {
  head: number;
  last_read: number;
  unread: number;
  mentions: number;
  muted_until: number | null;
}

/** How long messages of channels not on screen are gathered before their summary goes. */
const ACTIVITY_MS = 150;
/** Messages remembered by id for `threadPlace` (where a thread's root lives). */
const MAX_PLACES = 5000;

export class WebCore {
  user: UserRef | null = null;
  /** The tab's token (null: the cookie signs in, or signed out). */
  token: string | null = null;
  connection: ConnectionState | null = null;
  client: ClientLike | null = null;
  settings: Settings = loadSettings();
  readonly outbox: WebOutbox;
  /** Comments channels (`doc#<id>`) of open documents → the document's name. */
  readonly commentDocs = new Map<string, string>();

  private sink: ((event: AppEvent) => void) | null = null;
  private early: AppEvent[] = [];
  private offs: (() => void)[] = [];
  private followed = new Set<string>();
  private subscriptions = new Map<string, Promise<Subscription>>();
  private counts = new Map<string, Counts>();
  private openName: string | null = null;
  private watched = new Set<string>();
  private dirty = new Set<string>();
  private activityTimer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private lastReason = '';
  private signedOut = false;
  private places = new Map<number, string>();

  constructor(
    readonly makeClient: ClientFactory = (token) => new ParleyClient({ url: '', token }),
    readonly store: SessionStore = tabSessionStore(),
  ) {
    this.outbox = new WebOutbox(
      (ev) => this.emitClient(ev),
      (entry) => this.deliver(entry),
    );
  }

  // --- events to the UI -----------------------------------------------------------------

  /** The UI's one sink; events from before it came are handed over first. */
  setSink(sink: (event: AppEvent) => void): void {
    this.sink = sink;
    for (const e of this.early.splice(0)) sink(e);
  }

  emit(event: AppEvent): void {
    if (this.sink) this.sink(event);
    else if (this.early.length < 1000) this.early.push(event);
  }

  emitClient(event: ClientEvent): void {
    this.emit({ kind: 'client', event });
  }

  status(): SessionStatus {
    const origin = globalThis.location?.origin ?? '';
    return {
      workspace: { server: origin, hosted: false },
      user: this.user,
      // Nothing to keep in a keyring: the tab's storage, or the server's cookie.
      keyring: { state: 'available' },
      connection: this.user ? this.connection : null,
    };
  }

  // --- the session ----------------------------------------------------------------------

  /** Signed in now as `user`: a client is made and connects. */
  start(token: string | null, user: UserRef): void {
    this.stop();
    this.user = user;
    this.token = token;
    this.signedOut = false;
    this.attempt = 0;
    const client = this.makeClient(token);
    this.client = client;
    this.connection = { state: 'connecting', attempt: 1 };
    const on = <T>(name: string, fn: (value: T) => void) => {
      this.offs.push(client.on(name, fn as never));
    };
    on<string>('state', (s) => this.onState(client, s));
    on<{ user: UserRef | null }>('hello', (h) => this.onHello(client, h.user));
    on<{ code: number; reason: string }>('disconnect', (d) => {
      this.lastReason = d.reason || `connection closed (${d.code})`;
      if (this.token == null) void this.checkCookie(client);
    });
    on<{ code: string; message: string }>('error', (err) => {
      if (isSignedOut(err.code)) {
        this.signedOut = true;
        this.setConnection({ state: 'unauthorized' });
      } else if (err.code === 'version_mismatch') {
        this.setConnection({ state: 'version_mismatch', message: err.message });
      }
    });
    on<string>('synced', (channel) => {
      this.emitClient({ kind: 'synced', channel, seq: client.position(channel)?.seq ?? 0 });
    });
    on<{ channel: string }>('reset', (r) => this.emitClient({ kind: 'channel_reset', channel: r.channel }));
    for (const kind of EVENT_KINDS) on<EventFrame>(kind, (frame) => this.onFrame(frame));
    client.connect().catch(() => undefined);
    // The personal channel: mentions and read positions (not subscribed automatically).
    this.follow('@me');
  }

  /** Signed out: the client closes, everything of the session is forgotten. */
  stop(): void {
    for (const off of this.offs.splice(0)) off();
    this.client?.close();
    this.client = null;
    this.outbox.clear();
    this.followed.clear();
    this.subscriptions.clear();
    this.counts.clear();
    this.places.clear();
    this.commentDocs.clear();
    this.watched.clear();
    this.dirty.clear();
    this.openName = null;
    this.user = null;
    this.token = null;
    this.connection = null;
  }

  requireClient(): ClientLike {
    if (this.client == null) throw toCommandError({ code: 'not_signed_in', message: 'sign in first' });
    return this.client;
  }

  private cookieChecked = 0;

  /** A cookie session that keeps failing to connect: browsers hide why an upgrade was
   * refused, so the API says whether the cookie is still good (at most every 10 s). */
  private async checkCookie(client: ClientLike): Promise<void> {
    if (Date.now() - this.cookieChecked < 10_000) return;
    this.cookieChecked = Date.now();
    try {
      await me(client.http);
    } catch (err) {
      if (this.client !== client || !isSignedOut(toCommandError(err).code)) return;
      this.signedOut = true;
      this.setConnection({ state: 'unauthorized' });
      client.close();
    }
  }

  private setConnection(state: ConnectionState): void {
    this.connection = state;
    this.emitClient({ kind: 'connection', state });
  }

  private onState(client: ClientLike, state: string): void {
    if (this.client !== client) return;
    if (state === 'connecting') {
      this.attempt += 1;
      this.setConnection({ state: 'connecting', attempt: this.attempt });
    } else if (state === 'reconnecting') {
      this.setConnection({ state: 'offline', retry_at_ms: Date.now(), reason: this.lastReason || 'disconnected' });
    } else if (state === 'closed' && !this.signedOut && this.user != null) {
      this.setConnection({ state: 'stopped' });
    }
  }

  private onHello(client: ClientLike, user: UserRef | null): void {
    if (this.client !== client) return;
    this.attempt = 0;
    if (user == null) {
      // The cookie (or token) is no longer good: the connection is anonymous.
      this.signedOut = true;
      this.setConnection({ state: 'unauthorized' });
      return;
    }
    this.user = user;
    if (this.token != null) this.store.save({ token: this.token, user });
    this.setConnection({ state: 'online', user });
    // The server holds a status per connection: this one gets the user's.
    this.applyStatus();
  }

  private statusTimer: ReturnType<typeof setTimeout> | null = null;

  /** Tells the server the user's status (active when none; an expired one is forgotten) and
   * clears it when it expires. */
  applyStatus(): void {
    const client = this.client;
    if (client == null) return;
    let chosen = this.settings.status;
    if (chosen != null && chosen.until != null && chosen.until <= Date.now()) {
      this.settings = { ...this.settings, status: null };
      saveSettings(this.settings);
      this.emit({ kind: 'settings', settings: this.settings });
      chosen = null;
    }
    const fields =
      chosen == null
        ? { status: 'online' }
        : chosen.text != null && chosen.text !== ''
          ? { status: chosen.status, text: chosen.text }
          : { status: chosen.status };
    client.request('set_status', fields).catch(() => undefined);
    if (this.statusTimer != null) clearTimeout(this.statusTimer);
    this.statusTimer = null;
    if (chosen?.until != null) {
      const wait = Math.min(Math.max(chosen.until - Date.now(), 0), 2 ** 31 - 1);
      this.statusTimer = setTimeout(() => this.applyStatus(), wait);
    }
  }

  // --- channels, counts and activity ----------------------------------------------------

  /** Follows a channel for the rest of the session (its events reach the UI). */
  follow(channel: string): void {
    const client = this.client;
    if (client == null || this.followed.has(channel)) return;
    this.followed.add(channel);
    const sub = client.subscribe(channel, {});
    this.subscriptions.set(channel, sub);
    sub.catch(() => {
      if (this.client !== client) return;
      this.followed.delete(channel);
      this.subscriptions.delete(channel);
    });
  }

  /** Stops following a channel (left or deleted): no events, no resume after reconnects. */
  unfollow(channel: string): void {
    this.followed.delete(channel);
    const sub = this.subscriptions.get(channel);
    this.subscriptions.delete(channel);
    void sub?.then((s) => s.unsubscribe()).catch(() => undefined);
  }

  /** The channel on screen and the others whose messages are shown (an open thread's). */
  show(open: string | null, also: string[]): void {
    this.openName = open;
    this.watched = new Set([...also, ...(open != null ? [open] : [])]);
    for (const c of this.watched) this.follow(c);
  }

  isFollowed(channel: string): boolean {
    return this.followed.has(channel);
  }

  /** A channel's read state as the server counted it (the channel list, `read`, `mute`). */
  setRead(read: WireReadState, head?: number): void {
    const c = this.countsOf(read.channel);
    c.last_read = read.last_read;
    c.unread = read.unread;
    c.mentions = read.mentions;
    c.muted_until = read.muted_until ?? null;
    if (head != null) c.head = Math.max(c.head, head);
  }

  muted(channel: string, now = Date.now()): boolean {
    const until = this.counts.get(channel)?.muted_until;
    return until != null && until > now;
  }

  private countsOf(channel: string): Counts {
    let c = this.counts.get(channel);
    if (c == null) {
      c = { head: 0, last_read: 0, unread: 0, mentions: 0, muted_until: null };
      this.counts.set(channel, c);
    }
    return c;
  }

  /** Remembers where a message lives (a thread's root, for `threadPlace`). */
  notePlace(m: Message): void {
    if (this.places.size >= MAX_PLACES) {
      const oldest = this.places.keys().next().value;
      if (oldest != null) this.places.delete(oldest);
    }
    this.places.set(m.id, m.channel);
  }

  placeOf(messageId: number): string | null {
    return this.places.get(messageId) ?? null;
  }

  private onFrame(frame: EventFrame): void {
    const event = frameToEvent(frame, (ch) => this.commentDocs.get(ch) ?? null);
    if (event == null) return;
    switch (event.kind) {
      case 'message': {
        const m = event.message;
        this.notePlace(m);
        const c = this.countsOf(m.channel);
        if (m.seq > c.head) {
          c.head = m.seq;
          // The server's count: messages by others after the read position (§15.4).
          const mine = this.user != null && m.author.id === this.user.id;
          if (!mine && m.seq > c.last_read && m.deleted !== true) c.unread += 1;
        }
        this.notify(event);
        if (this.watched.has(m.channel)) {
          this.emitClient(event);
          if (m.channel !== this.openName && !m.channel.startsWith('thread#')) this.markDirty(m.channel);
        } else if (!m.channel.startsWith('thread#')) {
          this.markDirty(m.channel);
        }
        return;
      }
      case 'mention': {
        const m = event.message;
        if (!m.channel.startsWith('thread#')) {
          const c = this.countsOf(m.channel);
          if (m.seq > c.last_read) c.mentions += 1;
          c.head = Math.max(c.head, m.seq);
          this.markDirty(m.channel);
        }
        this.notify(event);
        this.emitClient(event);
        return;
      }
      case 'read':
        this.setRead(event.read);
        break;
      case 'unsubscribed':
        this.followed.delete(event.channel);
        break;
    }
    this.emitClient(event);
  }

  private markDirty(channel: string): void {
    this.dirty.add(channel);
    this.activityTimer ??= setTimeout(() => this.flushActivity(), ACTIVITY_MS);
  }

  /** The summaries of the channels with news since the last ones. */
  flushActivity(): void {
    if (this.activityTimer != null) clearTimeout(this.activityTimer);
    this.activityTimer = null;
    for (const channel of [...this.dirty]) {
      const c = this.countsOf(channel);
      this.emit({ kind: 'activity', channel, head: c.head, unread: c.unread, mentions: c.mentions });
    }
    this.dirty.clear();
  }

  private notify(event: ClientEvent): void {
    if (this.user == null) return;
    const notice = decide(event, {
      me: this.user.name,
      settings: this.settings,
      focused: tabFocused(),
      openChannel: this.openName,
      muted: (ch) => this.muted(ch),
      now: Date.now(),
    });
    if (notice != null) show(notice, (channel) => this.emit({ kind: 'navigate', channel, doc: null }));
  }

  // --- the outbox's deliveries ----------------------------------------------------------

  private async deliver(entry: OutboxEntry): Promise<Message | null> {
    const client = this.requireClient();
    const alive = () => this.client === client;
    const body = (): Record<string, unknown> => JSON.parse(entry.body) as Record<string, unknown>;
    switch (entry.kind) {
      case 'message':
        return client.send(entry.target, entry.body, { clientId: entry.client_id });
      case 'message_files': {
        const b = body() as { text?: string; attachments?: number[] };
        return client.send(entry.target, b.text ?? '', { clientId: entry.client_id, attachments: b.attachments ?? [] });
      }
      case 'edit': {
        const b = body() as { message_id: number; text: string };
        await untilDone(() => client.request('message_edit', { channel: entry.target, message_id: b.message_id, text: b.text }), alive);
        return null;
      }
      case 'delete': {
        const b = body() as { message_id: number };
        try {
          await untilDone(() => client.request('message_delete', { channel: entry.target, message_id: b.message_id }), alive);
        } catch (err) {
          // A retried delete whose first attempt went through finds the message gone.
          if (toCommandError(err).code !== 'message_not_found') throw err;
        }
        return null;
      }
      case 'react': {
        const b = body() as { message_id: number; emoji: string; add?: boolean };
        const op = b.add === false ? 'reaction_remove' : 'reaction_add';
        await untilDone(() => client.request(op, { channel: entry.target, message_id: b.message_id, emoji: b.emoji }), alive);
        return null;
      }
      case 'comment': {
        const b = body();
        const path = `/api/docs/${encodeURIComponent(entry.target)}/comments`;
        await untilDone(() => client.api('POST', path, { ...b, client_id: entry.client_id }), alive);
        return null;
      }
    }
    throw toCommandError({ code: 'invalid', message: `unknown outbox entry kind ${entry.kind}` });
  }
}
