// Small display helpers: times, days, sizes, names.
import type { UserRef } from './bindings';

/** A formatter made on first use (each holds ICU's data for its pattern; some are rarely used). */
function formatter(options: Intl.DateTimeFormatOptions): () => Intl.DateTimeFormat {
  let made: Intl.DateTimeFormat | null = null;
  return () => (made ??= new Intl.DateTimeFormat(undefined, options));
}

const timeFmt = formatter({ hour: 'numeric', minute: '2-digit' });
const fullFmt = formatter({ dateStyle: 'full', timeStyle: 'short' });
const dayFmt = formatter({ weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const shortDayFmt = formatter({ day: 'numeric', month: 'short' });

export function formatTime(ts: number): string {
  return timeFmt().format(ts);
}

export function formatFull(ts: number): string {
  return fullFmt().format(ts);
}

export function formatShortDay(ts: number): string {
  return shortDayFmt().format(ts);
}

/** A local calendar day, for grouping (e.g. "2026-3-14"). */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** "Today", "Yesterday" or the full date. */
export function dayLabel(ts: number, now: number = Date.now()): string {
  if (dayKey(ts) === dayKey(now)) return 'Today';
  const y = new Date(now);
  y.setDate(y.getDate() - 1);
  if (dayKey(ts) === dayKey(y.getTime())) return 'Yesterday';
  return dayFmt().format(ts);
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[i]}`;
}

/** The name a person chose for themselves (trimmed), or null when it is empty or the same as
 * their user name. */
export function chosenName(user: UserRef | null | undefined): string | null {
  const chosen = user?.display_name?.trim() ?? '';
  return chosen !== '' && chosen !== user?.name ? chosen : null;
}

/** Who someone is, as the UI writes it everywhere: the display name with the user name beside
 * it when they differ ("Alice Smith (@alice)"), else the user name. Display names are not
 * unique, so a newcomer calling themselves "alice" shows as "alice (@mallory)". */
export function displayName(user: UserRef | null | undefined): string {
  if (user == null) return '';
  const chosen = chosenName(user);
  return chosen == null ? user.name : `${chosen} (@${user.name})`;
}

/** "alice is typing…", "alice and bob are typing…", "alice, bob and 2 others are typing…". */
export function typingText(names: string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} others are typing…`;
}

/** Initials for an avatar ("Alice Martin" -> "AM", "bob" -> "B"). */
export function initials(name: string): string {
  const parts = name.split(/[\s._-]+/).filter(Boolean);
  if (parts.length === 0) return '?';
  const first = parts[0][0] ?? '';
  const second = parts.length > 1 ? (parts[parts.length - 1][0] ?? '') : '';
  return (first + second).toUpperCase();
}

/** A stable hue for a name, for avatars. */
export function hueFor(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h % 360;
}

/** The label of a channel in lists: DMs by who they are with. */
export function channelLabel(name: string, dmWith: readonly string[]): string {
  return dmWith.length > 0 ? dmWith.join(', ') : name;
}
