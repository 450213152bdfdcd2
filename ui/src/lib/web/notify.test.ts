import { describe, expect, it } from 'vitest';
import type { ClientEvent, Message } from '../bindings';
import { decide, type NotifyContext } from './notify';

const now = 1_800_000_000_000;

function message(channel: string, text: string, author = 'bob'): Message {
  return {
    id: 1,
    channel,
    seq: 1,
    author: { id: 2, name: author, display_name: author === 'bob' ? 'Bobby' : null, avatar: null },
    text,
    client_id: 'c',
    created_at: '',
    ts: now - 1000,
  };
}

function cx(extra: Partial<NotifyContext> = {}): NotifyContext {
  return {
    me: 'alice',
    settings: {
      notifications: true,
      do_not_disturb: false,
      channel_notifications: {},
      theme: 'system',
      status: null,
      close_to_tray: false,
      start_at_login: false,
    },
    focused: false,
    openChannel: 'general',
    muted: () => false,
    now,
    ...extra,
  };
}

const msg = (m: Message): ClientEvent => ({ kind: 'message', message: m });

describe('web notifications follow the desktop’s rules', () => {
  it('notifies mentions and direct messages, once', () => {
    expect(decide({ kind: 'mention', message: message('random', '@alice hi'), muted: false }, cx())).toEqual({
      channel: 'random',
      title: 'Bobby (@bob) mentioned you in #random',
      body: '@alice hi',
    });
    // The same message as a plain message: notified from the mention only.
    expect(decide(msg(message('random', '@alice hi')), cx())).toBe(null);
    expect(decide(msg(message('dm:1:2', 'psst')), cx({ focused: true }))?.title).toBe('Bobby (@bob) (direct message)');
    expect(decide(msg(message('random', 'news')), cx())?.title).toBe('Bobby (@bob) in #random');
  });

  it('stays silent when it should', () => {
    expect(decide(msg(message('random', 'news')), cx({ focused: true }))).toBe(null);
    expect(decide(msg(message('general', 'news')), cx({ focused: true }))).toBe(null);
    expect(decide(msg(message('random', 'mine', 'alice')), cx())).toBe(null);
    expect(decide(msg(message('random', 'x')), cx({ muted: () => true }))).toBe(null);
    const off = cx().settings;
    expect(decide(msg(message('random', 'x')), cx({ settings: { ...off, notifications: false } }))).toBe(null);
    expect(decide(msg(message('random', 'x')), cx({ settings: { ...off, do_not_disturb: true } }))).toBe(null);
    // The status "do not disturb" silences too, until it runs out; "away" does not.
    const status = (s: string, until: number | null) => cx({ settings: { ...off, status: { status: s, text: null, until } } });
    expect(decide(msg(message('random', 'x')), status('dnd', null))).toBe(null);
    expect(decide(msg(message('random', 'x')), status('dnd', now + 60_000))).toBe(null);
    expect(decide(msg(message('random', 'x')), status('dnd', now - 1))).not.toBe(null);
    expect(decide(msg(message('random', 'x')), status('away', null))).not.toBe(null);
    expect(decide(msg(message('random', 'x')), cx({ settings: { ...off, channel_notifications: { random: false } } }))).toBe(null);
    expect(decide({ kind: 'mention', message: message('random', '@alice'), muted: true }, cx())).toBe(null);
    expect(decide(msg({ ...message('random', 'old'), ts: now - 600_000 }), cx())).toBe(null);
    expect(decide(msg(message('thread#4', 'reply')), cx())).toBe(null);
  });
});
