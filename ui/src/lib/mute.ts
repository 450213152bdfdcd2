// Muting a channel for a while, or until unmuted.
import { api } from './api';
import { chat } from './stores/chat.svelte';

export const MUTE_CHOICES: readonly { label: string; ms: number | null }[] = [
  { label: 'For 1 hour', ms: 60 * 60 * 1000 },
  { label: 'For 8 hours', ms: 8 * 60 * 60 * 1000 },
  { label: 'For 1 day', ms: 24 * 60 * 60 * 1000 },
  { label: 'Until I unmute it', ms: null },
];

/** Muted until (ms): a time, or "forever" as the largest safe number. */
export async function mute(channel: string, ms: number | null): Promise<void> {
  const until = ms == null ? null : Date.now() + ms;
  await api.mute(channel, until);
  chat.setMuted(channel, until ?? Number.MAX_SAFE_INTEGER);
}

export async function unmute(channel: string): Promise<void> {
  await api.unmute(channel);
  chat.setMuted(channel, null);
}

const untilFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: 'numeric', minute: '2-digit' });

export function mutedText(until: number | null, now: number = Date.now()): string {
  if (until == null || until <= now) return 'Not muted';
  if (until > now + 10 * 365 * 24 * 3600 * 1000) return 'Muted until you unmute it';
  return `Muted until ${untilFmt.format(new Date(until))}`;
}
