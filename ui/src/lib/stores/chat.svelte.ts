// The chat state: the channel list with unread and mention counts (as the client reports them:
// the channel list, `read` events and `activity` summaries), each open channel's loaded window
// of messages (a Timeline, ./timeline.svelte.ts), the outbox, typing, presence and read
// receipts. Every client event goes through `ChatStore.apply`, the one reducer (tested on its
// own).
import { displayName } from '../format';
import { Timeline } from './timeline.svelte';
import type {
  ChannelView,
  ClientEvent,
  Message,
  OutboxEntry,
  PresenceEntry,
  ReactionChange,
  ReadState,
  UserRef,
} from '../api';
export { MAX_LOADED, PAGE, Timeline } from './timeline.svelte';

/** How long a "typing" lasts without renewal (the server's default typing TTL is 5 s). */
export const TYPING_TTL_MS = 6000;

/** Outbox kinds that are messages (shown as pending rows). */
const MESSAGE_KINDS = new Set(['message', 'message_files']);

export function isMessageEntry(entry: OutboxEntry): boolean {
  return MESSAGE_KINDS.has(entry.kind);
}

/** The text of a pending message (`message_files` bodies are JSON). */
export function entryText(entry: OutboxEntry): string {
  if (entry.kind === 'message_files') {
    try {
      const body = JSON.parse(entry.body) as { text?: unknown };
      return typeof body.text === 'string' ? body.text : '';
    } catch {
      return entry.body;
    }
  }
  return entry.body;
}

/** The message an edit/delete/react entry is about. */
export function entryMessageId(entry: OutboxEntry): number | null {
  if (isMessageEntry(entry)) return null;
  try {
    const body = JSON.parse(entry.body) as { message_id?: unknown };
    return typeof body.message_id === 'number' ? body.message_id : null;
  } catch {
    return null;
  }
}

/** Applies a reaction change to a message (the change carries the new total). */
export function applyReaction(m: Message, r: ReactionChange): Message {
  const reactions = (m.reactions ?? []).slice();
  const i = reactions.findIndex((x) => x.emoji === r.emoji);
  const users = i >= 0 ? reactions[i].users.filter((u) => u !== r.user.id) : [];
  if (r.added) users.push(r.user.id);
  const count = r.count;
  if (count <= 0) {
    if (i >= 0) reactions.splice(i, 1);
  } else if (i >= 0) {
    reactions[i] = { emoji: r.emoji, count, users };
  } else {
    reactions.push({ emoji: r.emoji, count, users });
  }
  return { ...m, reactions };
}

/** Side effects the reducer asks for (wired to the API by the app; no-ops in tests). */
export type ChatEffects = {
  reloadChannels: () => void;
  reloadTimeline: (channel: string) => void;
  synced: (channel: string) => void;
  unsubscribed: (channel: string, reason: string) => void;
};

type Typist = { user: UserRef; until: number };

export class ChatStore {
  channels = $state.raw<ChannelView[]>([]);
  outbox = $state.raw<OutboxEntry[]>([]);
  /** channel -> user name -> who and until when. */
  typing = $state.raw<Record<string, Record<string, Typist>>>({});
  /** channel -> who is here. */
  presence = $state.raw<Record<string, PresenceEntry[]>>({});
  /** channel -> user id -> the seq they have read up to (read receipts). */
  receipts = $state.raw<Record<string, Record<number, { user: UserRef; seq: number }>>>({});
  /** The channel on screen (its counts are not shown: its messages are read as they come). */
  visible = $state<string | null>(null);
  /** The signed-in user. */
  me = $state.raw<UserRef | null>(null);
  /** A search hit to show: the channel view scrolls to it. */
  jump = $state.raw<{ channel: string; seq: number } | null>(null);
  private timelines = new Map<string, Timeline>();
  effects: ChatEffects = {
    reloadChannels: () => {},
    reloadTimeline: () => {},
    synced: () => {},
    unsubscribed: () => {},
  };

  /** Outbox entries not yet acknowledged (the banner's "N messages queued"). */
  get queued(): number {
    return this.outbox.filter((e) => e.state === 'pending').length;
  }

  channel(name: string): ChannelView | undefined {
    return this.channels.find((c) => c.info.name === name);
  }

  timeline(channel: string): Timeline {
    let t = this.timelines.get(channel);
    if (t == null) {
      t = new Timeline(channel, () => this.channel(channel)?.info.head ?? 0);
      this.timelines.set(channel, t);
    }
    return t;
  }

  existingTimeline(channel: string): Timeline | undefined {
    return this.timelines.get(channel);
  }

  /** Forgets the timelines of channels not on screen (memory stays bounded). */
  dropTimelinesExcept(keep: readonly string[]): void {
    for (const name of [...this.timelines.keys()]) {
      if (!keep.includes(name)) this.timelines.delete(name);
    }
  }

  setChannels(list: ChannelView[]): void {
    this.channels = list;
  }

  /** The outbox as read from the app. Entries queued after that read (larger local ids, e.g.
   * a message sent while the list was loading) are kept. */
  setOutbox(entries: OutboxEntry[]): void {
    const newest = entries.reduce((n, e) => Math.max(n, e.local_id), 0);
    const later = this.outbox.filter((e) => e.local_id > newest);
    this.outbox = [...entries.filter((e) => !this.done.has(e.client_id)), ...later];
  }

  /** Entries already delivered or discarded (by client_id): the answer to `send` can come
   * after the outbox's `sent` event, and must not bring a delivered entry back as pending. */
  private done = new Set<string>();

  private markDone(clientId: string): void {
    this.done.add(clientId);
    if (this.done.size > 2000) {
      const oldest = this.done.values().next().value;
      if (oldest != null) this.done.delete(oldest);
    }
  }

  /** An entry returned by send/edit/react, or changed by an outbox event. */
  upsertOutbox(entry: OutboxEntry): void {
    if (this.done.has(entry.client_id)) return;
    const i = this.outbox.findIndex((e) => e.local_id === entry.local_id);
    if (i >= 0) {
      const next = this.outbox.slice();
      next[i] = entry;
      this.outbox = next;
    } else {
      this.outbox = [...this.outbox, entry];
    }
  }

  removeOutbox(localId: number): void {
    const next = this.outbox.filter((e) => e.local_id !== localId);
    if (next.length !== this.outbox.length) this.outbox = next;
  }

  /** Pending and failed messages of a channel, oldest first. */
  pending(channel: string): OutboxEntry[] {
    return this.outbox.filter((e) => e.target === channel && isMessageEntry(e));
  }

  /** Edits, deletions and reactions that failed, for a channel. */
  failedActions(channel: string): OutboxEntry[] {
    return this.outbox.filter(
      (e) => e.target === channel && !isMessageEntry(e) && e.state === 'failed',
    );
  }

  setPresence(channel: string, entries: PresenceEntry[]): void {
    this.presence = { ...this.presence, [channel]: entries };
  }

  /** Replaces a channel's view with `f`'s; `f` returning the same view changes nothing (the
   * list, and what is derived from it, stays as it is). */
  patchChannel(name: string, f: (c: ChannelView) => ChannelView): void {
    const i = this.channels.findIndex((c) => c.info.name === name);
    if (i < 0) return;
    const updated = f(this.channels[i]);
    if (updated === this.channels[i]) return;
    const next = this.channels.slice();
    next[i] = updated;
    this.channels = next;
  }

  /** A channel's new topic (null or empty: none), from `channel_updated` or a change made here. */
  setTopic(name: string, topic: string | null): void {
    const next = topic != null && topic !== '' ? topic : null;
    if ((this.channel(name)?.info.topic ?? null) === next) return;
    this.patchChannel(name, (c) => ({ ...c, info: { ...c.info, topic: next } }));
  }

  /** Read up to `seq` here (the caller told the app): counts drop to zero. */
  markReadLocal(channel: string, seq: number): void {
    this.patchChannel(channel, (c) => ({
      ...c,
      last_read: Math.max(c.last_read, seq),
      unread: 0,
      mentions: 0,
    }));
  }

  setMuted(channel: string, until: number | null): void {
    this.patchChannel(channel, (c) => ({ ...c, muted_until: until }));
  }

  /** Names typing in a channel now (not this user). */
  typingNames(channel: string, now: number = Date.now()): string[] {
    const here = this.typing[channel];
    if (here == null) return [];
    return Object.values(here)
      .filter((t) => t.until > now)
      .map((t) => displayName(t.user));
  }

  /** Drops expired typing entries; true when something changed. */
  pruneTyping(now: number = Date.now()): boolean {
    let changed = false;
    const next: Record<string, Record<string, Typist>> = {};
    for (const [channel, users] of Object.entries(this.typing)) {
      const kept: Record<string, Typist> = {};
      for (const [name, t] of Object.entries(users)) {
        if (t.until > now) kept[name] = t;
        else changed = true;
      }
      if (Object.keys(kept).length > 0) next[channel] = kept;
    }
    if (changed) this.typing = next;
    return changed;
  }

  /** How many other people have read `seq` or further in `channel`. */
  seenBy(channel: string, seq: number): UserRef[] {
    const here = this.receipts[channel];
    if (here == null) return [];
    return Object.values(here)
      .filter((r) => r.seq >= seq && r.user.id !== this.me?.id)
      .map((r) => r.user);
  }

  isMuted(c: ChannelView, now: number = Date.now()): boolean {
    return c.muted_until != null && c.muted_until > now;
  }

  /** Clears everything (signed out). */
  clear(): void {
    this.channels = [];
    this.outbox = [];
    this.done.clear();
    this.typing = {};
    this.presence = {};
    this.receipts = {};
    this.visible = null;
    this.jump = null;
    this.timelines.clear();
  }

  /** The reducer: one client event changes the state. */
  apply(event: ClientEvent, now: number = Date.now()): void {
    switch (event.kind) {
      case 'message':
        this.onMessage(event.message);
        break;
      case 'message_edited': {
        const m = event.message;
        this.existingTimeline(m.channel)?.update(m.id, (old) => ({
          ...old,
          ...m,
          reactions: m.reactions ?? old.reactions,
          thread: m.thread ?? old.thread,
          attachments: m.attachments ?? old.attachments,
        }));
        break;
      }
      case 'message_deleted':
        this.existingTimeline(event.channel)?.remove(event.message_id);
        break;
      case 'reaction': {
        const r = event.reaction;
        this.existingTimeline(r.channel)?.update(r.message_id, (m) => applyReaction(m, r));
        break;
      }
      case 'thread_updated': {
        const thread = event.thread;
        this.existingTimeline(event.channel)?.update(thread.root_id, (m) => ({ ...m, thread }));
        break;
      }
      // A mention's count comes with its channel's `activity` summary (the client counts it).
      case 'mention':
        break;
      case 'read':
        this.onRead(event.read);
        break;
      case 'channel_reset': {
        const t = this.existingTimeline(event.channel);
        if (t != null) {
          t.reset();
          this.effects.reloadTimeline(event.channel);
        }
        break;
      }
      case 'synced':
        this.effects.synced(event.channel);
        break;
      case 'presence':
        this.onPresence(event.channel, event.user, event.state, event.status);
        break;
      case 'typing':
        this.onTyping(event.channel, event.user, event.typing, now);
        break;
      case 'member':
        if (event.user.id === this.me?.id) {
          this.effects.reloadChannels();
        } else {
          this.patchChannel(event.channel, (c) => ({
            ...c,
            info: {
              ...c.info,
              member_count: Math.max(0, c.info.member_count + (event.joined ? 1 : -1)),
            },
          }));
        }
        break;
      case 'channel_updated':
        this.setTopic(event.channel, event.topic);
        break;
      case 'outbox':
        this.onOutbox(event.change, event.entry, event.message);
        break;
      case 'read_receipt': {
        const here = { ...(this.receipts[event.channel] ?? {}) };
        const old = here[event.user.id];
        if (old == null || old.seq < event.seq) here[event.user.id] = { user: event.user, seq: event.seq };
        this.receipts = { ...this.receipts, [event.channel]: here };
        break;
      }
      case 'unsubscribed':
        this.effects.unsubscribed(event.channel, event.reason);
        this.effects.reloadChannels();
        break;
      case 'connection':
      case 'comment':
      case 'doc_updated':
        break;
    }
  }

  private onMessage(m: Message): void {
    this.existingTimeline(m.channel)?.insertLive(m);
    // The server's copy of a message this client sent: its pending row goes.
    const mine = m.author.id === this.me?.id;
    if (mine) {
      const pending = this.outbox.find(
        (e) => e.client_id === m.client_id && e.target === m.channel && isMessageEntry(e),
      );
      if (pending != null) this.removeOutbox(pending.local_id);
      this.markDone(m.client_id);
    }
    // Typing stops when the message arrives.
    const typing = this.typing[m.channel];
    if (typing?.[m.author.name] != null) {
      const rest = { ...typing };
      delete rest[m.author.name];
      this.typing = { ...this.typing, [m.channel]: rest };
    }
    // The head moves; the counts are the client's (`activity` summaries, `read` events).
    this.patchChannel(m.channel, (c) =>
      m.seq > c.info.head ? { ...c, info: { ...c.info, head: m.seq } } : c,
    );
  }

  /** A channel's summary from the app: its newest seq and the client's unread and mention
   * counts (sent instead of each message of a channel not on screen, and after a mention). */
  activity(channel: string, head: number, unread: number, mentions: number): void {
    this.patchChannel(channel, (c) => {
      const shown = this.visible === channel;
      const next = { unread: shown ? c.unread : unread, mentions: shown ? c.mentions : mentions };
      if (head <= c.info.head && next.unread === c.unread && next.mentions === c.mentions) return c;
      return { ...c, ...next, info: head > c.info.head ? { ...c.info, head } : c.info };
    });
    // Shown (a backlog streaming in, or opened just as they came): fetch what the view missed.
    void this.existingTimeline(channel)?.catchUp(head);
  }

  private onRead(read: ReadState): void {
    this.patchChannel(read.channel, (c) => ({
      ...c,
      last_read: read.last_read,
      unread: read.unread,
      mentions: read.mentions,
      muted_until: read.muted_until ?? null,
    }));
  }

  private onPresence(channel: string, user: UserRef, state: string, status: string): void {
    const list = this.presence[channel] ?? [];
    const rest = list.filter((p) => p.user.id !== user.id);
    if (state === 'left') {
      this.presence = { ...this.presence, [channel]: rest };
      return;
    }
    const old = list.find((p) => p.user.id === user.id);
    const entry: PresenceEntry = {
      user,
      status,
      status_text: old?.status_text ?? null,
      sessions: old?.sessions ?? 1,
    };
    this.presence = { ...this.presence, [channel]: [...rest, entry] };
  }

  private onTyping(channel: string, user: UserRef, typing: boolean, now: number): void {
    if (user.id === this.me?.id) return;
    const here = { ...(this.typing[channel] ?? {}) };
    if (typing) here[user.name] = { user, until: now + TYPING_TTL_MS };
    else delete here[user.name];
    this.typing = { ...this.typing, [channel]: here };
  }

  private onOutbox(change: string, entry: OutboxEntry, message: Message | null): void {
    switch (change) {
      case 'sent':
        this.markDone(entry.client_id);
        this.removeOutbox(entry.local_id);
        if (message != null) this.onMessage(message);
        break;
      case 'discarded':
        this.markDone(entry.client_id);
        this.removeOutbox(entry.local_id);
        break;
      case 'failed':
        this.upsertOutbox({ ...entry, state: 'failed' });
        break;
      case 'retried':
        this.upsertOutbox({ ...entry, state: 'pending', error: null, error_code: null });
        break;
      default:
        this.upsertOutbox(entry);
    }
  }
}

export const chat = new ChatStore();
