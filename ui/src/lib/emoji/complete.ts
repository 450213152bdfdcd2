// `:shortcode:` in the composer: the query being typed, and a complete code turned into its
// emoji. A code starts at the beginning or after a space or bracket (so "10:30" and URLs are
// left alone) and has at least two characters before suggestions open.
import type { EmojiData } from './data';

const QUERY = /(^|[\s([{]):([A-Za-z0-9_+-]{2,})$/;
const COMPLETE = /(^|[\s([{]):([A-Za-z0-9_+-]+):$/;

/** The shortcode being typed at the end of `before` (the text before the caret), if any. */
export function shortcodeQuery(before: string): string | null {
  return QUERY.exec(before)?.[2] ?? null;
}

/** `before` with a complete, known `:code:` at its end replaced by the emoji; null when it does
 * not end with one. */
export function completeShortcode(before: string, data: EmojiData): string | null {
  const m = COMPLETE.exec(before);
  if (m == null) return null;
  const emoji = data.byShortcode.get(m[2].toLowerCase());
  if (emoji == null) return null;
  return before.slice(0, before.length - m[2].length - 2) + emoji.emoji;
}

/** `before` with the `:query` at its end replaced by `emoji`. */
export function replaceShortcodeQuery(before: string, emoji: string): string {
  return before.replace(/:([A-Za-z0-9_+-]*)$/, emoji);
}
