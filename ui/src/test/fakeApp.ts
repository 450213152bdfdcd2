// A fake desktop app for whole-UI tests (keyboard, accessibility audit): alice signed in,
// #general with three messages (the last hers) and #random.
import type { Channel } from '@tauri-apps/api/core';
import { mockIPC } from '@tauri-apps/api/mocks';
import type { AppEvent, ChannelView, DesktopInfo, Message, SessionStatus } from '../lib/api';
import { alice, bob, channelView, entry, message } from './fixtures';

export type FakeOptions = {
  history?: Message[];
  lastRead?: number;
  unread?: number;
  /** More channels in the list, after #general and #random. */
  channels?: ChannelView[];
  /** false: alice is no workspace admin (the Dashboard is refused). */
  admin?: boolean;
  /** The desktop's tray and autostart entry (default: a tray, ~/.config/autostart). */
  desktop?: DesktopInfo;
};

export function fakeApp(opts: FakeOptions = {}) {
  const history = opts.history ?? [message(1, { text: 'welcome' }), message(2), message(4, { author: alice, text: 'mine' })];
  const head = history[history.length - 1]?.seq ?? 0;
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
        return {
          notifications: true,
          do_not_disturb: false,
          channel_notifications: {},
          theme: 'system',
          status: null,
          close_to_tray: true,
          start_at_login: false,
        };
      case 'set_settings':
        return args.settings;
      case 'desktop_info':
        return opts.desktop ?? { tray: true, autostart_file: '/home/alice/.config/autostart/parley.desktop' };
      case 'subscribe_events':
        events = args.onEvent as Channel<AppEvent>;
        return null;
      case 'list_channels':
        return [
          channelView('general', {
            info: { ...channelView('general').info, head },
            last_read: opts.lastRead ?? head,
            unread: opts.unread ?? 0,
          }),
          channelView('random', { info: { ...channelView('random').info, head: 2 }, last_read: 2 }),
          ...(opts.channels ?? []),
        ];
      case 'outbox':
      case 'list_invites':
      case 'list_users':
        return [];
      case 'history':
        return args.channel === 'general' && args.before == null ? history : [];
      case 'presence':
        return [{ user: bob, status: 'online', status_text: null, sessions: 1 }];
      case 'send_message':
        return entry(nextLocal++, { body: args.text as string, target: args.channel as string });
      case 'dashboard':
        if (opts.admin === false) throw { code: 'forbidden', message: 'only workspace admins see the dashboard' };
        return null;
      case 'set_channel_topic': {
        const topic = String(args.topic).trim();
        return { ...channelView(String(args.name)).info, topic: topic === '' ? null : topic };
      }
      case 'edit_message':
      case 'delete_message':
      case 'react':
        return entry(nextLocal++, { kind: cmd === 'react' ? 'react' : cmd === 'edit_message' ? 'edit' : 'delete' });
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
