// Message text to safe HTML: markdown-it with raw HTML off, images off (nothing is fetched),
// links limited to http/https/mailto and opened outside the webview, `@name` mentions marked,
// fenced code blocks that name a language highlighted (highlight.svelte.ts, loaded on first
// use: such a block is plain escaped text until then, and is rendered again once it is there).
import MarkdownIt from 'markdown-it';
import type { StateInline } from 'markdown-it';
import { highlightCode, highlighterStatus } from './highlight.svelte';

const SAFE_LINK = /^(https?:|mailto:)/i;

/** Characters a user name may contain (the server's rule: ASCII letters, digits, `-_.`). */
const NAME_CHAR = /[A-Za-z0-9_.-]/;

function mentionRule(state: StateInline, silent: boolean): boolean {
  const src = state.src;
  const start = state.pos;
  if (src.charCodeAt(start) !== 0x40 /* @ */) return false;
  // Only at a word start: "mail@example.com" is not a mention.
  if (start > 0 && /[A-Za-z0-9_.@-]/.test(src[start - 1])) return false;
  let end = start + 1;
  while (end < state.posMax && NAME_CHAR.test(src[end])) end++;
  // A trailing dot or dash ends the sentence, not the name.
  while (end > start + 1 && /[.-]/.test(src[end - 1])) end--;
  if (end === start + 1 || !/[A-Za-z0-9]/.test(src[start + 1])) return false;
  if (!silent) {
    const token = state.push('mention', '', 0);
    token.content = src.slice(start + 1, end);
  }
  state.pos = end;
  return true;
}

function create(): MarkdownIt {
  const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false,
    highlight: (code, lang) => {
      const html = highlightCode(code, lang);
      if (html === '' && lang.trim() !== '' && highlighterStatus() !== 'ready') unhighlighted = true;
      return html;
    },
  });
  md.disable(['image', 'heading', 'lheading', 'hr', 'table']);
  md.validateLink = (url: string) => SAFE_LINK.test(url.trim());
  md.inline.ruler.after('emphasis', 'mention', mentionRule);

  const defaultLinkOpen =
    md.renderer.rules.link_open ??
    ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    const token = tokens[idx];
    token.attrSet('target', '_blank');
    token.attrSet('rel', 'noopener noreferrer');
    return defaultLinkOpen(tokens, idx, options, env, self);
  };
  md.renderer.rules.mention = (tokens, idx, _options, env: RenderEnv) => {
    const name = tokens[idx].content;
    const lower = name.toLowerCase();
    const me =
      lower === 'channel' || lower === 'here' || (env.me != null && lower === env.me.toLowerCase());
    const escaped = md.utils.escapeHtml(name);
    return `<span class="mention${me ? ' mention-me' : ''}" data-mention="${escaped}">@${escaped}</span>`;
  };
  return md;
}

type RenderEnv = { me: string | null };

let instance: MarkdownIt | null = null;
/** Set while rendering when a code block waited for the highlighter: that HTML is not cached. */
let unhighlighted = false;

/** Rendered HTML kept for this many texts, the least recently used dropped first: more than
 * the rows a channel's loaded window (MAX_LOADED) and a thread show, so scrolling back and
 * forth does not render again, and the cache does not grow with every channel visited. */
export const MARKDOWN_CACHE_MAX = 500;
const cache = new Map<string, string>();

/** Renders message text to HTML safe for `{@html}`. `me`: the signed-in user's name (their
 * mentions are highlighted more strongly). Called from a `$derived`, a text with a code block
 * in a language renders again once the highlighter has loaded. */
export function renderMarkdown(text: string, me: string | null = null): string {
  const key = `${me ?? ''}\u0000${text}`;
  const hit = cache.get(key);
  if (hit != null) {
    // The most recently used last: the first key is the one to drop.
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  instance ??= create();
  const env: RenderEnv = { me };
  unhighlighted = false;
  const html = instance.render(text, env).trim();
  if (unhighlighted) return html;
  while (cache.size >= MARKDOWN_CACHE_MAX) {
    const oldest = cache.keys().next().value;
    if (oldest == null) break;
    cache.delete(oldest);
  }
  cache.set(key, html);
  return html;
}

/** The cache as it is (tests): how many texts it holds, and whether it holds one. */
export const markdownCache = {
  size: (): number => cache.size,
  has: (text: string, me: string | null = null): boolean => cache.has(`${me ?? ''}\u0000${text}`),
};

/** The names `@mentioned` in a text (lower case), for tests and highlighting decisions. */
export function mentionedNames(text: string): string[] {
  const names: string[] = [];
  const re = /(^|[^A-Za-z0-9_.@-])@([A-Za-z0-9][A-Za-z0-9_.-]*)/g;
  for (const m of text.matchAll(re)) names.push(m[2].replace(/[.-]+$/, '').toLowerCase());
  return names;
}
