// Notifications in the browser (the Web Notifications API) for mentions, direct messages and
// new messages in followed channels while the tab is not looked at: the desktop's rules
// (src-tauri/src/notify.rs), ported. Clicking one focuses the tab on that channel.
import type { ClientEvent, Message, Settings } from '../bindings';
import { mentionsMe } from './mapping';

/** Messages older than this (a backlog after being offline) do not notify. */
const FRESH_MS = 120_000;

export interface Notice {
  channel: string;
  title: string;
  body: string;
}

export interface NotifyContext {
  me: string;
  settings: Settings;
  /** The tab is visible and has focus. */
  focused: boolean;
  openChannel: string | null;
  muted: (channel: string) => boolean;
  now: number;
}

/** Who wrote it: the display name with the user name beside it when they differ. */
export function displayAuthor(m: Message): string {
  const name = m.author.name;
  const display = m.author.display_name?.trim();
  return display && display !== name ? `${display} (@${name})` : name;
}

function excerpt(text: string): string {
  const chars = [...text];
  return chars.length > 200 ? `${chars.slice(0, 200).join('')}…` : text;
}

/** The chosen status is "do not disturb" and has not run out: it silences notifications too. */
function statusIsDnd(settings: Settings, now: number): boolean {
  const status = settings.status;
  return status?.status === 'dnd' && (status.until === null || status.until > now);
}

/** Whether an event notifies, and how (pure: tested on its own). */
export function decide(event: ClientEvent, cx: NotifyContext): Notice | null {
  if (!cx.settings.notifications || cx.settings.do_not_disturb || statusIsDnd(cx.settings, cx.now)) {
    return null;
  }
  let message: Message;
  let mention = false;
  if (event.kind === 'mention') {
    if (event.muted) return null;
    message = event.message;
    mention = true;
  } else if (event.kind === 'message') {
    message = event.message;
  } else {
    return null;
  }
  if (message.author.name === cx.me || message.deleted === true) return null;
  if (cx.now - message.ts > FRESH_MS) return null;
  const channel = message.channel;
  if (cx.muted(channel) || cx.settings.channel_notifications[channel] === false) return null;
  if (cx.focused && cx.openChannel === channel) return null;
  const who = displayAuthor(message);
  const direct = channel.startsWith('dm:');
  if (mention) {
    return {
      channel,
      title: direct ? `${who} (direct message)` : `${who} mentioned you in #${channel}`,
      body: excerpt(message.text),
    };
  }
  // A message that mentions this user also comes as a mention: notify once, from there.
  if (mentionsMe(message.text, cx.me)) return null;
  if (direct) return { channel, title: `${who} (direct message)`, body: excerpt(message.text) };
  if (cx.focused || channel.startsWith('thread#')) return null;
  return { channel, title: `${who} in #${channel}`, body: excerpt(message.text) };
}

/** The tab is on screen and has focus. */
export function tabFocused(): boolean {
  return typeof document !== 'undefined' && document.visibilityState === 'visible' && document.hasFocus();
}

/** Shows a notice; a click focuses the tab and calls `onClick`. */
export function show(notice: Notice, onClick: (channel: string) => void): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  try {
    const n = new Notification(notice.title, { body: notice.body, tag: notice.channel });
    n.onclick = () => {
      window.focus();
      n.close();
      onClick(notice.channel);
    };
  } catch {
    // Some browsers allow notifications only from a service worker: none then.
  }
}

/** Asks for permission (call it from a click: browsers ignore it otherwise). */
export function askPermission(): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'default') return;
  void Notification.requestPermission().catch(() => undefined);
}
