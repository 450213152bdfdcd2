// A channel's loaded window of messages (a Timeline): at most MAX_LOADED, paged in both
// directions through the app's `history` command, with live messages merged in.
import { api } from '../api';
import type { Message } from '../api';

/** Messages per history page. */
export const PAGE = 50;
/** Messages kept in memory per channel; farther pages are dropped and reloaded on demand. */
export const MAX_LOADED = 400;

function visibleMessage(m: Message): boolean {
  return m.deleted !== true;
}

/** Inserts `m` into `list` (sorted by seq), replacing one with the same seq or id. */
function insertSorted(list: Message[], m: Message): Message[] {
  const existing = list.findIndex((x) => x.seq === m.seq || x.id === m.id);
  if (existing >= 0) {
    const next = list.slice();
    next[existing] = m;
    return next;
  }
  if (list.length === 0 || list[list.length - 1].seq < m.seq) return [...list, m];
  let i = list.length;
  while (i > 0 && list[i - 1].seq > m.seq) i--;
  return [...list.slice(0, i), m, ...list.slice(i)];
}

function mergePage(list: Message[], page: Message[]): Message[] {
  let out = list;
  for (const m of page) if (visibleMessage(m)) out = insertSorted(out, m);
  return out;
}

/** A channel's loaded window of messages: at most MAX_LOADED, paged in both directions. */
export class Timeline {
  readonly channel: string;
  messages = $state.raw<Message[]>([]);
  /** Older messages exist beyond the window. */
  hasOlder = $state(true);
  /** Newer messages exist beyond the window (after scrolling far up, or a jump). */
  hasNewer = $state(false);
  loading = $state<null | 'latest' | 'older' | 'newer'>(null);
  loaded = $state(false);
  error = $state<string | null>(null);
  /** Bumped on reset: views re-anchor at the bottom. */
  generation = $state(0);
  private head: () => number;

  constructor(channel: string, head: () => number = () => 0) {
    this.channel = channel;
    this.head = head;
  }

  private async fetch(before: number | null): Promise<Message[] | null> {
    try {
      const page = await api.history(this.channel, before, PAGE);
      this.error = null;
      return page;
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
      return null;
    }
  }

  /** Live messages that arrived while the newest page was loading: the page may have been read
   * before they were stored, so they are merged into it (bounded). */
  private arrived: Message[] = [];

  /** The newest page (opening a channel, "jump to latest", after a reset). */
  async loadLatest(): Promise<void> {
    this.loading = 'latest';
    this.arrived = [];
    const page = await this.fetch(null);
    this.loading = null;
    const arrived = this.arrived;
    this.arrived = [];
    if (page == null) {
      this.loaded = true;
      return;
    }
    const hasOlder = page.length >= PAGE;
    const first = page[0]?.seq ?? 0;
    this.messages = mergePage(
      page.filter(visibleMessage),
      hasOlder ? arrived.filter((m) => m.seq > first) : arrived,
    );
    this.hasOlder = hasOlder;
    this.hasNewer = false;
    this.loaded = true;
    this.generation++;
    this.settle();
  }

  /** The page before the oldest loaded message; drops the newest beyond MAX_LOADED. */
  async loadOlder(): Promise<void> {
    if (!this.hasOlder || this.loading != null || !this.loaded) return;
    const first = this.messages[0];
    if (first == null) {
      this.hasOlder = false;
      return;
    }
    this.loading = 'older';
    const page = await this.fetch(first.seq);
    this.loading = null;
    if (page == null) return;
    this.hasOlder = page.length >= PAGE;
    let merged = mergePage(this.messages, page);
    if (merged.length > MAX_LOADED) {
      merged = merged.slice(0, MAX_LOADED);
      this.hasNewer = true;
    }
    this.messages = merged;
  }

  /** Messages after the newest loaded one (only after newer ones were dropped). History pages
   * are "the newest N before a seq", so ask for the N before (last + N): every message in
   * between fits in one page, none is skipped. */
  async loadNewer(): Promise<void> {
    if (!this.hasNewer || this.loading != null) return;
    this.loading = 'newer';
    let upper = this.messages[this.messages.length - 1]?.seq ?? 0;
    try {
      for (let round = 0; round < 10; round++) {
        const before = upper + PAGE;
        const page = await this.fetch(before);
        if (page == null) return;
        const newer = page.filter((m) => m.seq > upper);
        upper = before - 1;
        if (newer.length > 0) this.messages = mergePage(this.messages, newer);
        if (upper >= this.top) {
          this.hasNewer = false;
          break;
        }
        if (newer.length > 0) break;
      }
      if (this.messages.length > MAX_LOADED) {
        this.messages = this.messages.slice(this.messages.length - MAX_LOADED);
        this.hasOlder = true;
      }
    } finally {
      this.loading = null;
      this.settle();
    }
  }

  /** Loads the page around `seq` (a search hit): the window no longer reaches the newest. */
  async jumpTo(seq: number): Promise<boolean> {
    if (this.messages.some((m) => m.seq === seq)) return true;
    this.loading = 'latest';
    const page = await this.fetch(seq + Math.floor(PAGE / 2));
    this.loading = null;
    if (page == null) return false;
    this.messages = page.filter(visibleMessage);
    this.hasOlder = page.length >= PAGE;
    const last = this.messages[this.messages.length - 1]?.seq ?? seq;
    this.hasNewer = last < this.top;
    this.loaded = true;
    this.generation++;
    return this.messages.some((m) => m.seq === seq);
  }

  /** A live message: appended when the window reaches the newest. One older than the window
   * while older messages exist beyond it (a channel's backlog streaming in from its start
   * while its newest page shows) is left to `loadOlder`: inserted, it would sit above a gap,
   * and every one of them would re-render the list for nothing. */
  insertLive(m: Message): void {
    if (!visibleMessage(m)) return;
    if (this.loading === 'latest' && this.arrived.length < MAX_LOADED) this.arrived.push(m);
    if (!this.loaded || this.hasNewer) return;
    const first = this.messages[0];
    if (this.hasOlder && first != null && m.seq < first.seq) return;
    let next = insertSorted(this.messages, m);
    if (next.length > MAX_LOADED + PAGE) {
      next = next.slice(next.length - MAX_LOADED);
      this.hasOlder = true;
    }
    this.messages = next;
  }

  update(id: number, f: (m: Message) => Message): boolean {
    const i = this.messages.findIndex((m) => m.id === id);
    if (i < 0) return false;
    const next = this.messages.slice();
    next[i] = f(next[i]);
    this.messages = next;
    return true;
  }

  remove(id: number): void {
    const next = this.messages.filter((m) => m.id !== id);
    if (next.length !== this.messages.length) this.messages = next;
  }

  /** Forgets everything (channel reset); loadLatest refills it. */
  reset(): void {
    this.messages = [];
    this.hasOlder = true;
    this.hasNewer = false;
    this.loaded = false;
    this.generation++;
  }

  /** Messages this window missed: summed up as `activity` by the app (a backlog streaming in
   * while on screen, or messages that came before the app knew the view was open). Loads
   * what lies beyond the newest loaded. */
  async catchUp(head = 0): Promise<void> {
    this.seenHead = Math.max(this.seenHead, head);
    if (this.loading != null) {
      this.behind = true;
      return;
    }
    if (!this.loaded || this.hasNewer) return;
    const newest = this.newestSeq;
    if (newest >= this.top) return;
    // Far behind (a backlog streamed in while on screen): the newest page, as when opening.
    if (this.top - newest > MAX_LOADED) return this.loadLatest();
    this.hasNewer = true;
    // Page by page up to the newest (at most MAX_LOADED away, so a few pages).
    for (let round = 0; this.hasNewer && round <= MAX_LOADED / PAGE; round++) await this.loadNewer();
  }

  /** The newest seq an `activity` summary reported (a thread's timeline has no channel head). */
  private seenHead = 0;

  /** The newest seq known to exist in this channel. */
  private get top(): number {
    return Math.max(this.head(), this.seenHead);
  }

  /** A catch-up was asked for while a page was loading. */
  private behind = false;

  /** Runs a catch-up asked for during a load. */
  private settle(): void {
    if (!this.behind) return;
    this.behind = false;
    void this.catchUp();
  }

  get newestSeq(): number {
    return this.messages[this.messages.length - 1]?.seq ?? 0;
  }
}
