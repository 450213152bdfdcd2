// Emoji data from emojibase-data (English labels and tags, GitHub shortcodes), bundled as a
// chunk of its own that is loaded the first time a picker or a `:shortcode` needs it: nothing
// is fetched from elsewhere, nothing is stored in IndexedDB, and the chat views do not carry
// it in memory until then.

export type Emoji = {
  /** The character(s) sent (default skin tone). */
  emoji: string;
  label: string;
  /** emojibase group: 0 smileys … 9 flags. */
  group: number;
  order: number;
  /** Lower-case words searched: label words and emojibase tags. */
  words: string[];
  /** GitHub shortcodes, without colons (`thumbsup`, `+1`). */
  shortcodes: string[];
  /** The five skin-tone variants, light to dark, when there are. */
  skins: string[] | null;
};

export type EmojiGroup = { id: number; name: string };

export type EmojiData = {
  list: Emoji[];
  groups: EmojiGroup[];
  byShortcode: Map<string, Emoji>;
  byEmoji: Map<string, Emoji>;
};

type Compact = {
  unicode: string;
  label: string;
  hexcode: string;
  group?: number;
  order?: number;
  tags?: string[];
  skins?: { unicode: string; hexcode: string }[];
};

const EMOJI_PRESENTATION = /\p{Emoji_Presentation}/u;

/** emojibase writes U+FE0F after every emoji; keep it only where the character needs it to be
 * shown as an emoji (❤️), so reactions match what keyboards and other clients send (👍). */
export function normalizeEmoji(text: string): string {
  const cps = [...text];
  let out = '';
  for (let i = 0; i < cps.length; i++) {
    if (cps[i] === '\uFE0F' && i > 0 && EMOJI_PRESENTATION.test(cps[i - 1])) continue;
    out += cps[i];
  }
  return out;
}

/** Builds the data from emojibase's compact list, its GitHub shortcodes and group names. */
export function buildEmojiData(
  compact: readonly Compact[],
  shortcodes: Readonly<Record<string, string | string[]>>,
  groupNames: readonly { order: number; message: string }[],
): EmojiData {
  const list: Emoji[] = [];
  for (const c of compact) {
    // Regional indicators and skin-tone swatches have no group: they are parts, not emoji.
    if (c.group == null || c.group === 2 || c.order == null) continue;
    const codes = shortcodes[c.hexcode];
    const emoji: Emoji = {
      emoji: normalizeEmoji(c.unicode),
      label: c.label,
      group: c.group,
      order: c.order,
      words: [...new Set([...c.label.toLowerCase().split(/[\s:,!’'“”.-]+/), ...(c.tags ?? [])])].filter((w) => w !== ''),
      shortcodes: codes == null ? [] : Array.isArray(codes) ? codes : [codes],
      skins: c.skins != null && c.skins.length === 5 ? c.skins.map((s) => normalizeEmoji(s.unicode)) : null,
    };
    list.push(emoji);
  }
  list.sort((a, b) => a.order - b.order);
  const byShortcode = new Map<string, Emoji>();
  const byEmoji = new Map<string, Emoji>();
  for (const e of list) {
    for (const code of e.shortcodes) byShortcode.set(code, e);
    byEmoji.set(e.emoji, e);
  }
  const groups = groupNames
    .filter((g) => g.order !== 2 && list.some((e) => e.group === g.order))
    .map((g) => ({ id: g.order, name: g.message.charAt(0).toUpperCase() + g.message.slice(1) }));
  return { list, groups, byShortcode, byEmoji };
}

let loading: Promise<EmojiData> | null = null;
let loaded: EmojiData | null = null;

/** The emoji data, loaded once (a bundled chunk from the app itself). */
export function loadEmoji(): Promise<EmojiData> {
  loading ??= Promise.all([
    import('emojibase-data/en/compact.json'),
    import('emojibase-data/en/shortcodes/github.json'),
    import('emojibase-data/en/messages.json'),
  ]).then(([compact, github, messages]) => {
    loaded = buildEmojiData(
      compact.default as unknown as Compact[],
      github.default as unknown as Record<string, string | string[]>,
      messages.default.groups,
    );
    return loaded;
  });
  loading.catch(() => (loading = null));
  return loading;
}

/** The data when it has been loaded already (else null). */
export function emojiDataNow(): EmojiData | null {
  return loaded;
}

/** Emoji matching a search, best first: an exact shortcode, then shortcodes, label words and
 * tags that start with each word of the query (every word must match). */
export function searchEmoji(data: EmojiData, query: string, limit = 200): Emoji[] {
  const terms = query.toLowerCase().replace(/:/g, ' ').split(/\s+/).filter((t) => t !== '');
  if (terms.length === 0) return [];
  const scored: { e: Emoji; score: number }[] = [];
  for (const e of data.list) {
    let score = 0;
    for (const t of terms) {
      let best = 0;
      if (e.shortcodes.includes(t)) best = 100;
      else if (e.shortcodes.some((s) => s.startsWith(t))) best = 60;
      else if (e.words.includes(t)) best = 50;
      else if (e.words.some((w) => w.startsWith(t))) best = 30;
      else if (t.length >= 3 && (e.label.toLowerCase().includes(t) || e.shortcodes.some((s) => s.includes(t)))) best = 10;
      if (best === 0) {
        score = 0;
        break;
      }
      score += best;
    }
    if (score > 0) scored.push({ e, score });
  }
  scored.sort((a, b) => b.score - a.score || a.e.order - b.e.order);
  return scored.slice(0, limit).map((s) => s.e);
}

/** Shortcode suggestions for `:query` (the composer's completion): shortcodes starting with
 * the query first, then other matches; each with the shortcode to show. */
export function shortcodeMatches(data: EmojiData, query: string, limit = 8): { emoji: Emoji; code: string }[] {
  const q = query.toLowerCase();
  const out: { emoji: Emoji; code: string }[] = [];
  const seen = new Set<Emoji>();
  const starts = [...data.byShortcode.entries()]
    .filter(([code]) => code.startsWith(q))
    .sort(([a, ea], [b, eb]) => a.length - b.length || ea.order - eb.order);
  for (const [code, emoji] of starts) {
    if (seen.has(emoji)) continue;
    seen.add(emoji);
    out.push({ emoji, code });
    if (out.length >= limit) return out;
  }
  for (const emoji of searchEmoji(data, q, limit * 2)) {
    if (seen.has(emoji) || emoji.shortcodes.length === 0 || out.some((o) => o.code === emoji.shortcodes[0])) continue;
    seen.add(emoji);
    out.push({ emoji, code: emoji.shortcodes[0] });
    if (out.length >= limit) break;
  }
  return out;
}

/** The emoji with a skin tone (0: none, 1 light … 5 dark) where it has variants. */
export function withTone(e: Emoji, tone: number): string {
  return tone > 0 && e.skins != null ? e.skins[tone - 1] : e.emoji;
}
