// Chat actions that talk to the app, shared by the components; the reducer's side effects.
import { api, CommandError } from './api';
import { get } from 'svelte/store';
import { nav, showChannel } from './nav';
import { chat } from './stores/chat.svelte';
import { ui } from './stores/ui.svelte';

/** A user-facing message for a failed command. */
export function errorText(err: unknown): string {
  if (err instanceof CommandError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function errorCode(err: unknown): string {
  return err instanceof CommandError ? err.code : 'internal';
}

let loadingChannels: Promise<void> | null = null;

/** Reloads the sidebar's channel list (and the presence of DMs, for their dots). */
export function loadChannels(): Promise<void> {
  loadingChannels ??= (async () => {
    try {
      const list = await api.channels();
      chat.setChannels(list);
      for (const c of list.filter((c) => c.dm_with.length > 0).slice(0, 30)) {
        if (chat.presence[c.info.name] == null) {
          api
            .presence(c.info.name)
            .then((p) => chat.setPresence(c.info.name, p))
            .catch(() => {});
        }
      }
      const current = get(nav).channel;
      if (current == null || chat.channel(current) == null) {
        const first = list.find((c) => c.info.member && c.dm_with.length === 0) ?? list[0];
        const gone = current != null && !current.startsWith('thread#');
        if (first != null && (current == null || gone)) showChannel(first.info.name);
      }
    } catch {
      // Offline on first start: the list comes with the next connection.
    } finally {
      loadingChannels = null;
    }
  })();
  return loadingChannels;
}

export async function loadOutbox(): Promise<void> {
  try {
    chat.setOutbox(await api.outbox());
  } catch {
    // Not signed in yet.
  }
}

/** Wires the reducer's side effects to the app. */
export function wireEffects(): void {
  chat.effects = {
    reloadChannels: () => void loadChannels(),
    reloadTimeline: (channel) => void chat.timeline(channel).loadLatest(),
    synced: (channel) => {
      // A backlog arrived: the counts the app summed up while it came may overlap what the
      // server counted when the channel list was read, so they come from the server again.
      void loadChannels();
      // Opened while offline: the first page may have been short; fill it from the server.
      const t = chat.existingTimeline(channel);
      if (t != null && t.loaded && !t.hasNewer && t.messages.length < 50) void t.loadLatest();
    },
    unsubscribed: () => {},
  };
}

const readTimers = new Map<string, { seq: number }>();

/** Read up to `seq`: the counts drop at once; the app is told at most twice a second per
 * channel (a busy channel read live would otherwise call it for every message). */
export function markRead(channel: string, seq: number): void {
  chat.markReadLocal(channel, seq);
  const waiting = readTimers.get(channel);
  if (waiting != null) {
    waiting.seq = Math.max(waiting.seq, seq);
    return;
  }
  const entry = { seq };
  readTimers.set(channel, entry);
  setTimeout(() => {
    readTimers.delete(channel);
    api.markRead(channel, entry.seq).catch(() => {
      // Kept locally; the next mark read carries it.
    });
  }, 500);
}

/** Shows a channel, or for a thread (`thread#<root id>`: a search hit, a notification) its
 * channel with the thread open beside it. */
export async function showChannelOrThread(channel: string): Promise<void> {
  if (!channel.startsWith('thread#')) {
    showChannel(channel);
    return;
  }
  const place = await api.threadPlace(channel);
  showChannel(place.channel);
  ui.thread = { channel: place.channel, messageId: place.message_id };
}

