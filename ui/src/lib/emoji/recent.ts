// The emoji picked last and the chosen skin tone, kept in this device's localStorage.

const RECENT = 'parley.emoji.recent';
const TONE = 'parley.emoji.tone';
export const RECENT_MAX = 24;

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** The recently picked emoji, most recent first. */
export function recentEmoji(): string[] {
  try {
    const list: unknown = JSON.parse(storage()?.getItem(RECENT) ?? '[]');
    return Array.isArray(list) ? list.filter((e): e is string => typeof e === 'string').slice(0, RECENT_MAX) : [];
  } catch {
    return [];
  }
}

/** Puts `emoji` first in the recent list. */
export function rememberEmoji(emoji: string): void {
  const list = [emoji, ...recentEmoji().filter((e) => e !== emoji)].slice(0, RECENT_MAX);
  try {
    storage()?.setItem(RECENT, JSON.stringify(list));
  } catch {
    // Storage full or refused: the list is a convenience.
  }
}

/** The skin tone: 0 none (yellow), 1 light … 5 dark. */
export function skinTone(): number {
  const n = Number(storage()?.getItem(TONE) ?? 0);
  return Number.isInteger(n) && n >= 0 && n <= 5 ? n : 0;
}

export function setSkinTone(tone: number): void {
  try {
    storage()?.setItem(TONE, String(tone));
  } catch {
    // As above.
  }
}
