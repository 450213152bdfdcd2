import { mockIPC } from '@tauri-apps/api/mocks';
import { get } from 'svelte/store';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { alice, bob, channelView } from '../../test/fixtures';
import { markRead } from '../actions';
import { nav, resetNav } from '../nav';
import { chat } from './chat.svelte';
import { handleAppEvent } from './events';
import { session } from './session.svelte';

afterEach(() => {
  chat.clear();
  resetNav();
  vi.useRealTimers();
});

const status = (user: typeof alice | null) => ({
  workspace: { server: 'http://chat.example', hosted: false },
  user,
  keyring: { state: 'available' as const },
  connection: null,
});

describe('app events', () => {
  it('routes session, connection, navigate and settings events', () => {
    handleAppEvent({ kind: 'session', status: status(alice) });
    expect(session.user?.name).toBe('alice');
    expect(chat.me?.name).toBe('alice');

    chat.setChannels([channelView('general')]);
    handleAppEvent({ kind: 'session', status: status(bob) });
    expect(chat.channels).toEqual([]); // another user: nothing of alice's stays

    handleAppEvent({ kind: 'client', event: { kind: 'connection', state: { state: 'online', user: bob } } });
    expect(session.connection?.state).toBe('online');

    handleAppEvent({ kind: 'navigate', channel: 'random', doc: null });
    expect(get(nav)).toMatchObject({ view: 'chat', channel: 'random' });

    handleAppEvent({
      kind: 'settings',
      settings: {
        notifications: false,
        do_not_disturb: true,
        channel_notifications: {},
        theme: 'dark',
        status: null,
        close_to_tray: false,
        start_at_login: true,
      },
    });
    expect(session.settings).toMatchObject({ do_not_disturb: true, theme: 'dark', close_to_tray: false, start_at_login: true });
  });

  it('opens the document of a comment mention’s notification, not its channel', () => {
    handleAppEvent({ kind: 'navigate', channel: 'doc#7', doc: 'design' });
    expect(get(nav)).toMatchObject({ view: 'docs', doc: 'design' });
    // A chat mention's notification still opens its channel.
    handleAppEvent({ kind: 'navigate', channel: 'general', doc: null });
    expect(get(nav)).toMatchObject({ view: 'chat', channel: 'general' });
  });

  it('takes a comment_mention event quietly: it changes no chat state', () => {
    const logged = [vi.spyOn(console, 'error'), vi.spyOn(console, 'warn')];
    chat.setChannels([channelView('general', { unread: 1, mentions: 1 })]);
    const before = chat.channels;
    expect(() =>
      handleAppEvent({
        kind: 'client',
        event: { kind: 'comment_mention', doc: 'design', comment_id: 3, by: bob, ts: 1_700_000_000_000 },
      }),
    ).not.toThrow();
    expect(chat.channels).toBe(before);
    expect(get(nav)).toMatchObject({ view: 'chat' });
    for (const spy of logged) {
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
    }
  });

  it('shows a channel’s new topic from channel_updated', () => {
    chat.setChannels([channelView('general'), channelView('random')]);
    handleAppEvent({ kind: 'client', event: { kind: 'channel_updated', channel: 'general', topic: 'Ship it', by: bob } });
    expect(chat.channel('general')?.info.topic).toBe('Ship it');
    expect(chat.channel('random')?.info.topic).toBeNull();
  });

  it('marks read at once locally and tells the app once for a burst', async () => {
    vi.useFakeTimers();
    const calls: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === 'mark_read') calls.push(args);
      return null;
    });
    chat.setChannels([channelView('general', { unread: 5, mentions: 2 })]);
    markRead('general', 10);
    markRead('general', 11);
    markRead('general', 12);
    expect(chat.channel('general')).toMatchObject({ unread: 0, mentions: 0, last_read: 12 });
    await vi.advanceTimersByTimeAsync(600);
    expect(calls).toEqual([{ channel: 'general', seq: 12 }]);
  });
});

describe('event bus', () => {
  it('hands every app event on to the other listeners', async () => {
    const { onAppEvent } = await import('../events');
    const seen: string[] = [];
    const off = onAppEvent((e) => seen.push(e.kind));
    handleAppEvent({ kind: 'navigate', channel: 'general', doc: null });
    handleAppEvent({ kind: 'client', event: { kind: 'doc_updated', doc: 'plan' } });
    off();
    expect(seen).toEqual(['navigate', 'client']);
  });
});
