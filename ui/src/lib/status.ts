// The user's own status: the choices the status menu offers, and how a status reads.
import type { MyStatus } from './api';

export const STATUS_CHOICES = [
  { status: 'online', label: 'Active' },
  { status: 'away', label: 'Away' },
  { status: 'dnd', label: 'Do not disturb' },
] as const;

/** How long a status lasts: `ms` from now, `today` until midnight, or until changed. */
export const CLEAR_AFTER = [
  { key: 'never', label: "Don't clear" },
  { key: '30m', label: '30 minutes', ms: 30 * 60_000 },
  { key: '1h', label: '1 hour', ms: 60 * 60_000 },
  { key: '4h', label: '4 hours', ms: 4 * 60 * 60_000 },
  { key: 'today', label: 'Today' },
] as const;

export type ClearAfter = (typeof CLEAR_AFTER)[number]['key'];

/** The instant a status chosen at `now` with `after` expires (null: never). */
export function expiry(after: ClearAfter, now: Date = new Date()): number | null {
  if (after === 'never') return null;
  if (after === 'today') {
    const end = new Date(now);
    end.setHours(24, 0, 0, 0);
    return end.getTime();
  }
  const choice = CLEAR_AFTER.find((c) => c.key === after);
  return choice != null && 'ms' in choice ? now.getTime() + choice.ms : null;
}

/** The status in force: none (active) when it expired. */
export function current(status: MyStatus | null, now = Date.now()): MyStatus | null {
  if (status == null) return null;
  return status.until != null && status.until <= now ? null : status;
}

/** A status said in words: `Away — lunch (until 14:30)`. */
export function describe(status: MyStatus | null, now = Date.now()): string {
  const s = current(status, now);
  if (s == null) return 'Active';
  const label = STATUS_CHOICES.find((c) => c.status === s.status)?.label ?? s.status;
  const text = s.text != null && s.text !== '' ? ` — ${s.text}` : '';
  const until =
    s.until != null
      ? ` (until ${new Date(s.until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })})`
      : '';
  return `${label}${text}${until}`;
}
