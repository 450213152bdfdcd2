// Screen-reader announcements through one polite live region (LiveRegion.svelte renders
// `announcer.text`). New messages from others are announced one by one while they come
// slowly; a burst within the quiet interval becomes one "5 new messages in #x".
import type { Message } from './api';
import { displayName } from './format';
import { chat } from './stores/chat.svelte';

/** How long after an announcement further messages are gathered into one. */
export const QUIET_MS = 2000;
/** How long the first message waits for others that come with it. */
export const GATHER_MS = 400;
const PREVIEW_CHARS = 140;

type Pending = { place: string; count: number; first: Message };

export class Announcer {
  /** What the live region says now. */
  text = $state('');
  private quietUntil = 0;
  private pending = new Map<string, Pending>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Every announcement made also alternates a trailing no-break space, so the same words
   * twice in a row are still a change the screen reader reads. */
  private flip = false;

  constructor(private now: () => number = () => Date.now()) {}

  /** Says `text` (a status: "No unread messages"). */
  say(text: string): void {
    this.flip = !this.flip;
    this.text = this.flip ? text : `${text}\u00a0`;
  }

  /** A message arrived in `place` ("#general", "bob", "a thread"). Said after a short
   * gathering delay (messages that come together are counted together), and at most once
   * per quiet interval. */
  message(m: Message, place: string): void {
    const p = this.pending.get(place);
    if (p != null) p.count += 1;
    else this.pending.set(place, { place, count: 1, first: m });
    if (this.timer == null) {
      const wait = Math.max(GATHER_MS, this.quietUntil - this.now());
      this.timer = setTimeout(() => this.flush(), wait);
    }
  }

  private flush(): void {
    this.timer = null;
    const parts = [...this.pending.values()];
    this.pending.clear();
    if (parts.length === 0) return;
    this.quietUntil = this.now() + QUIET_MS;
    this.say(
      parts
        .map((p) => (p.count === 1 ? one(p.first, p.place) : `${p.count} new messages in ${p.place}`))
        .join('. '),
    );
  }

  /** Forgets what waits (signed out, tests). */
  reset(): void {
    if (this.timer != null) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
    this.quietUntil = 0;
    this.text = '';
  }
}

function one(m: Message, place: string): string {
  const text = m.text.length > PREVIEW_CHARS ? `${m.text.slice(0, PREVIEW_CHARS)}…` : m.text;
  return `${displayName(m.author)} in ${place}: ${text}`;
}

export const announcer = new Announcer();

/** Where a message was posted, in words. */
export function placeName(channel: string): string {
  if (channel.startsWith('thread#')) return 'a thread';
  const view = chat.channel(channel);
  if (view != null && view.dm_with.length > 0) return `direct messages with ${view.dm_with.join(', ')}`;
  return `#${channel}`;
}

/** A live message from the app: announced unless it is this user's own. */
export function announceMessage(m: Message): void {
  if (chat.me != null && m.author.id === chat.me.id) return;
  if (chat.me == null) return;
  announcer.message(m, placeName(m.channel));
}
