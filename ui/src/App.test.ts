// The whole chat UI over a fake app: startup, a channel's history, sending offline (pending,
// then replaced by the server's message), failure and retry, the banner, unread badges.
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import type { Channel } from '@tauri-apps/api/core';
import { mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, it } from 'vitest';
import App from './App.svelte';
import type { AppEvent, OutboxEntry, SessionStatus } from './lib/api';
import { resetNav } from './lib/nav';
import { chat } from './lib/stores/chat.svelte';
import { alice, bob, channelView, entry, message } from './test/fixtures';

afterEach(() => {
  chat.clear();
  resetNav();
});

function fakeApp() {
  const status: SessionStatus = {
    workspace: { server: 'http://127.0.0.1:7000', hosted: true },
    user: alice,
    keyring: { state: 'available' },
    connection: { state: 'online', user: alice },
  };
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  let events: Channel<AppEvent> | null = null;
  let nextLocal = 1;
  mockIPC((cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    switch (cmd) {
      case 'session_status':
        return status;
      case 'get_settings':
        return { notifications: true, do_not_disturb: false, channel_notifications: {}, theme: 'system', status: null };
      case 'subscribe_events':
        events = args.onEvent as Channel<AppEvent>;
        return null;
      case 'list_channels':
        return [
          channelView('general', { info: { ...channelView('general').info, head: 4 }, last_read: 4 }),
          channelView('random', { info: { ...channelView('random').info, head: 2 }, last_read: 2 }),
        ];
      case 'outbox':
        return [];
      case 'history':
        return args.channel === 'general' && args.before == null
          ? [message(1, { text: 'welcome to **general**' }), message(2), message(4, { author: alice })]
          : [];
      case 'presence':
        return [{ user: bob, status: 'online', status_text: null, sessions: 1 }];
      case 'send_message':
        return entry(nextLocal++, { body: args.text as string, target: args.channel as string });
      default:
        return null;
    }
  });
  const push = (event: AppEvent) => {
    if (events == null) throw new Error('not subscribed');
    events.onmessage(event);
  };
  return { calls, push };
}

function byState(state: string): HTMLElement[] {
  return [...document.querySelectorAll<HTMLElement>(`[data-testid=message][data-state=${state}]`)];
}

describe('App', () => {
  it('opens the first channel with its history and sends through the outbox', async () => {
    const app = fakeApp();
    render(App);
    const title = await screen.findByTestId('channel-title');
    expect(title.textContent).toBe('general');
    await waitFor(() => expect(byState('sent')).toHaveLength(3));
    expect(byState('sent')[0].dataset.seq).toBe('1');
    expect(byState('sent')[0].querySelector('[data-testid=message-text] strong')?.textContent).toBe('general');
    await waitFor(() => expect(app.calls).toContainEqual({ cmd: 'open_channel', args: { name: 'general', also: [] } }));

    // Send: pending at once.
    const box = screen.getByTestId('composer');
    await fireEvent.input(box, { target: { value: 'on my way' } });
    await fireEvent.keyDown(box, { key: 'Enter' });
    await waitFor(() => expect(byState('pending')).toHaveLength(1));
    const pending = byState('pending')[0];
    expect(pending.dataset.localId).toBe('1');
    expect(pending.querySelector('[data-testid=message-text]')?.textContent).toContain('on my way');

    // The server acknowledged it: the pending row becomes the server's message.
    const sentEntry: OutboxEntry = entry(1, { body: 'on my way', client_id: 'local1' });
    app.push({
      kind: 'client',
      event: {
        kind: 'outbox',
        change: 'sent',
        entry: sentEntry,
        message: message(5, { author: alice, text: 'on my way', client_id: 'local1' }),
      },
    });
    await waitFor(() => expect(byState('pending')).toHaveLength(0));
    expect(byState('sent').map((m) => m.dataset.seq)).toEqual(['1', '2', '4', '5']);
  });

  it('marks a failed send with Retry', async () => {
    const app = fakeApp();
    render(App);
    await screen.findByTestId('channel-title');
    const box = screen.getByTestId('composer');
    await fireEvent.input(box, { target: { value: 'doomed' } });
    await fireEvent.keyDown(box, { key: 'Enter' });
    await waitFor(() => expect(byState('pending')).toHaveLength(1));
    app.push({
      kind: 'client',
      event: {
        kind: 'outbox',
        change: 'failed',
        entry: entry(1, { body: 'doomed', state: 'failed', error: 'you may not post here' }),
        message: null,
      },
    });
    await waitFor(() => expect(byState('failed')).toHaveLength(1));
    expect(byState('failed')[0].textContent).toContain('you may not post here');
    await fireEvent.click(screen.getByTestId('retry'));
    await waitFor(() => expect(app.calls).toContainEqual({ cmd: 'retry_message', args: { localId: 1 } }));
  });

  it('shows the connection banner and unread badges from events', async () => {
    const app = fakeApp();
    render(App);
    await screen.findByTestId('channel-title');
    expect(screen.queryByTestId('connection-banner')).toBeNull();

    app.push({
      kind: 'client',
      event: { kind: 'connection', state: { state: 'offline', retry_at_ms: Date.now() + 3000, reason: 'refused' } },
    });
    const banner = await screen.findByTestId('connection-banner');
    expect(banner.dataset.state).toBe('offline');
    expect(banner.textContent).toMatch(/Offline — reconnecting in \d s/);

    app.push({ kind: 'client', event: { kind: 'outbox', change: 'queued', entry: entry(9, { target: 'random' }), message: null } });
    await waitFor(() => expect(screen.getByTestId('queued-count').textContent).toBe('1 message queued'));

    // What the app sends for a channel not on screen: the mention, then the channel's summary
    // with the client's counts.
    app.push({ kind: 'client', event: { kind: 'mention', message: message(3, { channel: 'random' }), muted: false } });
    app.push({ kind: 'activity', channel: 'random', head: 3, unread: 1, mentions: 1 });
    const random = document.querySelector('[data-testid=channel-item][data-channel=random]');
    await waitFor(() => expect(random?.querySelector('[data-testid=unread-badge]')?.textContent).toBe('1'));
    expect(random?.querySelector('[data-testid=mention-badge]')?.textContent).toBe('@1');

    app.push({ kind: 'client', event: { kind: 'typing', channel: 'general', user: bob, typing: true } });
    await screen.findByText('bob is typing…');
  });

  it('opens search with Ctrl+K and the documents view with Ctrl+N', async () => {
    const app = fakeApp();
    render(App);
    await screen.findByTestId('channel-title');
    await fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    expect(screen.getByTestId('search-input')).toBeTruthy();
    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(screen.queryByTestId('search-input')).toBeNull();
    await fireEvent.keyDown(window, { key: 'n', ctrlKey: true });
    await waitFor(() => expect(app.calls).toContainEqual({ cmd: 'open_channel', args: { name: null, also: [] } }));
  });
});
