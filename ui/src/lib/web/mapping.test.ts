import { describe, expect, it } from 'vitest';
import type { EventFrame } from '@parley/client';
import type { ChannelInfo } from '../bindings';
import { channelViews, dmWith, frameToEvent, inviteCode, mentionsMe } from './mapping';

const bob = { id: 2, name: 'bob', display_name: null, avatar: null };
const message = {
  id: 10,
  channel: 'general',
  seq: 5,
  author: bob,
  text: 'hi',
  client_id: 'c1',
  created_at: '2026-11-28T09:00:00.000Z',
  ts: 1,
};

function info(name: string, extra: Partial<ChannelInfo> = {}): ChannelInfo {
  return {
    name,
    channel_type: 'public',
    authentication: 'required',
    presence: true,
    user_specific: false,
    auto_subscribe: false,
    max_participants: null,
    message_history: 0,
    message_retention_secs: 0,
    topic: null,
    epoch: 'e1',
    head: 7,
    member: true,
    member_count: 2,
    publish: 'members',
    ...extra,
  };
}

const none = () => null;

describe('frames as the desktop core’s client events', () => {
  it('maps messages, deletions, members and custom events', () => {
    expect(frameToEvent({ channel: 'general', seq: 5, kind: 'message', message } as EventFrame, none)).toEqual({
      kind: 'message',
      message,
    });
    expect(
      frameToEvent(
        { channel: 'general', seq: 9, kind: 'message_deleted', message_id: 10, message_seq: 5, by: bob } as EventFrame,
        none,
      ),
    ).toEqual({ kind: 'message_deleted', channel: 'general', message_id: 10, seq: 5 });
    expect(frameToEvent({ channel: 'general', seq: 3, kind: 'member_left', user: bob } as EventFrame, none)).toEqual({
      kind: 'member',
      channel: 'general',
      user: bob,
      joined: false,
    });
    expect(
      frameToEvent(
        { channel: 'general', kind: 'custom', event: 'poll', data: { a: 1 }, publisher: bob } as EventFrame,
        none,
      ),
    ).toEqual({ kind: 'custom', channel: 'general', seq: null, event: 'poll', data: { a: 1 }, publisher: bob });
    expect(
      frameToEvent(
        { channel: 'general', kind: 'typing', user: bob, typing: true, expires_in_ms: 5000 } as EventFrame,
        none,
      ),
    ).toEqual({ kind: 'typing', channel: 'general', user: bob, typing: true });
  });

  it('maps a topic change, and a cleared topic is null', () => {
    expect(
      frameToEvent({ channel: 'general', seq: 4, kind: 'channel_updated', topic: 'Ship it', by: bob } as EventFrame, none),
    ).toEqual({ kind: 'channel_updated', channel: 'general', topic: 'Ship it', by: bob });
    expect(
      frameToEvent({ channel: 'general', seq: 5, kind: 'channel_updated', topic: null, by: bob } as EventFrame, none),
    ).toEqual({ kind: 'channel_updated', channel: 'general', topic: null, by: bob });
  });

  it('names the document of comment events by their comments channel', () => {
    const docOf = (ch: string) => (ch === 'doc#3' ? 'design' : null);
    expect(frameToEvent({ channel: 'doc#3', seq: 6, kind: 'comment_deleted', comment_id: 12 } as EventFrame, docOf)).toEqual({
      kind: 'comment',
      doc: 'design',
      event: { kind: 'comment_deleted', comment_id: 12 },
    });
    // A deletion of a document not open here has nothing to name it by.
    expect(frameToEvent({ channel: 'doc#4', seq: 1, kind: 'comment_deleted', comment_id: 1 } as EventFrame, docOf)).toBe(
      null,
    );
  });
});

describe('the sidebar’s channels', () => {
  it('leaves out personal channels, names DM partners and carries read state', () => {
    const dm = info('dm:1:2', { topic: 'alice, bob' });
    const views = channelViews(
      [info('general'), info('@me'), dm],
      [{ channel: 'general', last_read: 3, unread: 4, mentions: 1, muted_until: null }],
      'alice',
    );
    expect(views.map((v) => v.info.name)).toEqual(['general', 'dm:1:2']);
    expect(views[0]).toMatchObject({ last_read: 3, unread: 4, mentions: 1, dm_with: [] });
    expect(views[1]).toMatchObject({ unread: 0, dm_with: ['bob'] });
    expect(dmWith(info('general', { topic: 'x, y' }), 'alice')).toEqual([]);
  });
});

describe('invite links', () => {
  it('takes the code of web links, desktop links and bare codes', () => {
    expect(inviteCode('https://chat.example.org/?invite=inv_abc123')).toBe('inv_abc123');
    expect(inviteCode('parley://join?server=https%3A%2F%2Fh&invite=inv_9f')).toBe('inv_9f');
    expect(inviteCode('  inv_77  ')).toBe('inv_77');
    expect(inviteCode('https://chat.example.org/')).toBe(null);
    expect(inviteCode('not a link')).toBe(null);
  });
});

describe('mentions in text', () => {
  it('finds @me, @channel and @here as words', () => {
    expect(mentionsMe('hey @alice, look', 'alice')).toBe(true);
    expect(mentionsMe('@here now', 'alice')).toBe(true);
    expect(mentionsMe('@alicex', 'alice')).toBe(false);
    expect(mentionsMe('mail alice@example.org', 'alice')).toBe(false);
  });
});
