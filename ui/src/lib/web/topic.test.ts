// The web app's topic change end to end on the SDK: `setChannelTopic` sends the protocol's
// `channel_update` op, a refusal keeps the server's code and words, and the `channel_updated`
// event reaches the UI as the desktop's ClientEvent.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AppEvent, ChannelInfo } from '../bindings';
import { api, CommandError } from './api';

const alice = { id: 1, name: 'alice', display_name: null, avatar: null };

const info = (name: string, topic: string | null): ChannelInfo => ({
  name,
  channel_type: 'public',
  authentication: 'required',
  presence: true,
  user_specific: false,
  auto_subscribe: false,
  max_participants: null,
  message_history: 0,
  message_retention_secs: 0,
  topic,
  epoch: 'e1',
  head: 3,
  member: true,
  member_count: 2,
  publish: 'members',
});

/** Every op the server was sent. */
const ops: Record<string, unknown>[] = [];
let socket: TalkingSocket | null = null;

/** A server on a socket: greets, answers `channel_update` (refusing `dm:` channels) and
 * `subscribe`, and lets the test push event frames. */
class TalkingSocket {
  readyState = 1;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor() {
    socket = this;
    setTimeout(() =>
      this.push({
        type: 'hello',
        protocol: 1,
        server_version: 'test',
        session_id: 's1',
        user: alice,
        ping_interval_ms: 30_000,
        limits: { max_frame_size: 65536, max_message_length: 4000, channel_limit: 100, typing_ttl_ms: 5000 },
        subscriptions: [],
      }),
    );
  }

  push(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  send(data: string): void {
    const op = JSON.parse(data) as Record<string, unknown>;
    ops.push(op);
    const id = op.id;
    if (op.type === 'channel_update') {
      const channel = String(op.channel);
      if (channel.startsWith('dm:')) {
        this.push({ type: 'error', id, code: 'forbidden', message: 'a direct message has no topic to set' });
      } else {
        const topic = String(op.topic).trim();
        this.push({ type: 'reply', id, result: { channel: info(channel, topic === '' ? null : topic) } });
      }
    } else if (op.type === 'subscribe') {
      this.push({ type: 'reply', id, result: { channel: op.channel, epoch: 'e1', head: 3, reset: null } });
    } else {
      this.push({ type: 'reply', id, result: {} });
    }
  }

  close(): void {
    this.readyState = 3;
  }
}

function answer(status: number, body: unknown) {
  return {
    status,
    ok: status >= 200 && status < 300,
    statusText: String(status),
    text: async () => (body == null ? '' : JSON.stringify(body)),
  };
}

beforeAll(() => {
  vi.stubGlobal('WebSocket', TalkingSocket);
  vi.stubGlobal('fetch', async (url: string) => {
    if (url.endsWith('/api/login')) return answer(200, { token: 'pl_tab', user: alice });
    if (url.endsWith('/api/logout')) return answer(204, null);
    return answer(404, { code: 'not_found', message: url });
  });
});

afterAll(async () => {
  await api.signOut();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe('channel topics in the web app', () => {
  it('sets and clears a topic with channel_update, and keeps the server’s refusal', async () => {
    await api.signIn('alice', 'pw');
    const set = await api.setChannelTopic('general', 'Release on Friday');
    expect(set).toMatchObject({ name: 'general', topic: 'Release on Friday' });
    expect(ops.find((o) => o.type === 'channel_update')).toMatchObject({
      type: 'channel_update',
      channel: 'general',
      topic: 'Release on Friday',
    });
    expect((await api.setChannelTopic('general', '  ')).topic).toBeNull();

    const refused = api.setChannelTopic('dm:1:2', 'x');
    await expect(refused).rejects.toBeInstanceOf(CommandError);
    await expect(refused).rejects.toMatchObject({ code: 'forbidden', message: 'a direct message has no topic to set' });
  });

  it('turns the channel_updated event into the desktop’s client event', async () => {
    const seen: AppEvent[] = [];
    await api.subscribe((e) => seen.push(e));
    socket?.push({ type: 'event', channel: 'general', seq: 4, kind: 'channel_updated', topic: 'Ship it', by: alice });
    socket?.push({ type: 'event', channel: 'general', seq: 5, kind: 'channel_updated', topic: null, by: alice });
    const updates = seen.flatMap((e) => (e.kind === 'client' && e.event.kind === 'channel_updated' ? [e.event] : []));
    expect(updates).toEqual([
      { kind: 'channel_updated', channel: 'general', topic: 'Ship it', by: alice },
      { kind: 'channel_updated', channel: 'general', topic: null, by: alice },
    ]);
  });
});
