import { describe, expect, it } from 'vitest';
import { alice, bob, channelView, entry, message } from '../../test/fixtures';
import { ChatStore, TYPING_TTL_MS, Timeline } from './chat.svelte';

/** A store signed in as alice with #general and #random, #general's timeline loaded. */
function store(): ChatStore {
  const s = new ChatStore();
  s.me = alice;
  s.setChannels([
    channelView('general', { info: { ...channelView('general').info, head: 10 }, last_read: 10 }),
    channelView('random', { info: { ...channelView('random').info, head: 5 }, last_read: 5 }),
  ]);
  const t = s.timeline('general');
  t.messages = [message(9), message(10)];
  t.loaded = true;
  t.hasOlder = false;
  return s;
}

describe('outbox: pending, sent, failed', () => {
  it('replaces the pending entry by the server message when sent', () => {
    const s = store();
    const e = entry(7, { body: 'hello', client_id: 'cX' });
    s.upsertOutbox(e);
    expect(s.pending('general')).toHaveLength(1);
    expect(s.queued).toBe(1);

    const sent = message(11, { author: alice, text: 'hello', client_id: 'cX' });
    s.apply({ kind: 'outbox', change: 'sent', entry: e, message: sent });
    expect(s.pending('general')).toHaveLength(0);
    expect(s.queued).toBe(0);
    expect(s.timeline('general').messages.map((m) => m.seq)).toEqual([9, 10, 11]);

    // The same message as a live event afterwards is not duplicated.
    s.apply({ kind: 'message', message: sent });
    expect(s.timeline('general').messages.map((m) => m.seq)).toEqual([9, 10, 11]);
  });

  it('drops the pending entry when its message arrives live before the outbox event', () => {
    const s = store();
    s.upsertOutbox(entry(3, { client_id: 'cY' }));
    s.apply({ kind: 'message', message: message(11, { author: alice, client_id: 'cY' }) });
    expect(s.pending('general')).toHaveLength(0);
  });

  it('marks a failed entry with its error, and a retried one pending again', () => {
    const s = store();
    const e = entry(4);
    s.apply({ kind: 'outbox', change: 'queued', entry: e, message: null });
    s.apply({
      kind: 'outbox',
      change: 'failed',
      entry: { ...e, error: 'too long', error_code: 'invalid' },
      message: null,
    });
    const [failed] = s.pending('general');
    expect(failed.state).toBe('failed');
    expect(failed.error).toBe('too long');
    expect(s.queued).toBe(0);

    s.apply({ kind: 'outbox', change: 'retried', entry: failed, message: null });
    expect(s.pending('general')[0].state).toBe('pending');
    expect(s.queued).toBe(1);

    s.apply({ kind: 'outbox', change: 'discarded', entry: failed, message: null });
    expect(s.pending('general')).toHaveLength(0);
  });

  it('keeps edits, deletions and reactions out of the pending messages', () => {
    const s = store();
    s.upsertOutbox(entry(1, { kind: 'edit', body: '{"message_id":1009,"text":"x"}', state: 'failed' }));
    expect(s.pending('general')).toHaveLength(0);
    expect(s.failedActions('general')).toHaveLength(1);
  });
});

describe('unread and mention counts', () => {
  // The client core counts (parley-client's `reads`: once per seq, not the user's own, not
  // what is read); the store shows what it reports.
  it('counts nothing itself: a message moves the head only', () => {
    const s = store();
    s.visible = 'general';
    s.apply({ kind: 'message', message: message(6, { channel: 'random' }) });
    s.apply({ kind: 'message', message: message(6, { channel: 'random' }) }); // replayed
    s.apply({ kind: 'message', message: message(7, { channel: 'random', author: alice }) }); // mine
    s.apply({ kind: 'message', message: message(11) }); // on screen
    expect(s.channel('random')?.unread).toBe(0);
    expect(s.channel('random')?.info.head).toBe(7);
    expect(s.channel('general')?.unread).toBe(0);
    expect(s.channel('general')?.info.head).toBe(11);
  });

  it('takes the counts of channels not on screen from activity summaries', () => {
    const s = store();
    s.visible = 'general';
    s.activity('random', 500, 42, 3);
    expect(s.channel('random')).toMatchObject({ unread: 42, mentions: 3 });
    expect(s.channel('random')?.info.head).toBe(500);
    // A message replayed later (the channel opened meanwhile) changes no count.
    s.apply({ kind: 'message', message: message(450, { channel: 'random' }) });
    expect(s.channel('random')?.unread).toBe(42);
    // The head never goes back; the channel on screen shows no unread.
    s.activity('random', 400, 43, 3);
    expect(s.channel('random')?.info.head).toBe(500);
    expect(s.channel('random')?.unread).toBe(43);
    s.activity('general', 11, 1, 1);
    expect(s.channel('general')).toMatchObject({ unread: 0, mentions: 0 });
    expect(s.channel('general')?.info.head).toBe(11);
  });

  it('does not count backlog already read', () => {
    const s = store();
    s.apply({ kind: 'message', message: message(4, { channel: 'random' }) });
    expect(s.channel('random')?.unread).toBe(0);
  });

  it('takes mentions from the summary that follows a mention, and mark read resets both', () => {
    const s = store();
    const m = message(8, { channel: 'random', mentions: [alice.id] });
    s.apply({ kind: 'message', message: m });
    s.apply({ kind: 'mention', message: m, muted: false });
    expect(s.channel('random')).toMatchObject({ unread: 0, mentions: 0 });
    s.activity('random', 8, 1, 1);
    expect(s.channel('random')).toMatchObject({ unread: 1, mentions: 1 });

    s.markReadLocal('random', 8);
    expect(s.channel('random')).toMatchObject({ unread: 0, mentions: 0, last_read: 8 });
  });

  it('takes read state from read events (other devices)', () => {
    const s = store();
    s.apply({ kind: 'message', message: message(6, { channel: 'random' }) });
    s.apply({
      kind: 'read',
      read: { channel: 'random', last_read: 6, unread: 0, mentions: 0, muted_until: 123 },
    });
    expect(s.channel('random')).toMatchObject({ unread: 0, last_read: 6, muted_until: 123 });
  });
});

describe('edits, deletions, reactions, threads', () => {
  it('applies an edit and keeps the reactions', () => {
    const s = store();
    s.timeline('general').update(1010, (m) => ({
      ...m,
      reactions: [{ emoji: '👍', count: 1, users: [2] }],
    }));
    const edited = message(10, { text: 'fixed', edited_at: '2026-03-14T10:01:00Z' });
    // An edited message without reactions in it (the field may be absent).
    const { reactions: _r, ...rest } = edited;
    s.apply({ kind: 'message_edited', message: rest as typeof edited });
    const m = s.timeline('general').messages.find((x) => x.id === 1010);
    expect(m?.text).toBe('fixed');
    expect(m?.edited_at).not.toBeNull();
    expect(m?.reactions).toHaveLength(1);
  });

  it('removes a deleted message', () => {
    const s = store();
    s.apply({ kind: 'message_deleted', channel: 'general', message_id: 1009, seq: 9 });
    expect(s.timeline('general').messages.map((m) => m.seq)).toEqual([10]);
  });

  it('applies reaction changes with the totals from the server', () => {
    const s = store();
    const change = { channel: 'general', message_id: 1010, emoji: '🎉', user: bob, added: true, count: 1 };
    s.apply({ kind: 'reaction', reaction: change });
    s.apply({ kind: 'reaction', reaction: { ...change, user: alice, count: 2 } });
    let m = s.timeline('general').messages[1];
    expect(m.reactions).toEqual([{ emoji: '🎉', count: 2, users: [2, 1] }]);
    s.apply({ kind: 'reaction', reaction: { ...change, added: false, count: 1 } });
    m = s.timeline('general').messages[1];
    expect(m.reactions).toEqual([{ emoji: '🎉', count: 1, users: [1] }]);
    s.apply({ kind: 'reaction', reaction: { ...change, user: alice, added: false, count: 0 } });
    expect(s.timeline('general').messages[1].reactions).toEqual([]);
  });

  it('puts a thread summary on its root', () => {
    const s = store();
    const thread = { root_id: 1009, channel: 'thread#1009', reply_count: 3, last_reply_at: null, participants: [2] };
    s.apply({ kind: 'thread_updated', channel: 'general', thread });
    expect(s.timeline('general').messages[0].thread?.reply_count).toBe(3);
  });
});

describe('typing, presence, receipts', () => {
  it('shows who is typing until it expires or their message arrives', () => {
    const s = store();
    s.apply({ kind: 'typing', channel: 'general', user: bob, typing: true }, 1000);
    s.apply({ kind: 'typing', channel: 'general', user: alice, typing: true }, 1000); // me
    expect(s.typingNames('general', 1000)).toEqual(['bob']);
    expect(s.typingNames('general', 1000 + TYPING_TTL_MS + 1)).toEqual([]);
    expect(s.pruneTyping(1000 + TYPING_TTL_MS + 1)).toBe(true);
    expect(s.typing).toEqual({});

    s.apply({ kind: 'typing', channel: 'general', user: bob, typing: true }, 5000);
    s.apply({ kind: 'message', message: message(11) });
    expect(s.typingNames('general', 5000)).toEqual([]);

    s.apply({ kind: 'typing', channel: 'general', user: bob, typing: true }, 5000);
    s.apply({ kind: 'typing', channel: 'general', user: bob, typing: false }, 5001);
    expect(s.typingNames('general', 5001)).toEqual([]);
  });

  it('keeps presence lists up to date', () => {
    const s = store();
    s.setPresence('general', [{ user: alice, status: 'online', status_text: null, sessions: 1 }]);
    s.apply({ kind: 'presence', channel: 'general', user: bob, state: 'joined', status: 'online' });
    s.apply({ kind: 'presence', channel: 'general', user: bob, state: 'status', status: 'away' });
    expect(s.presence.general.map((p) => `${p.user.name}:${p.status}`)).toEqual(['alice:online', 'bob:away']);
    s.apply({ kind: 'presence', channel: 'general', user: bob, state: 'left', status: 'online' });
    expect(s.presence.general.map((p) => p.user.name)).toEqual(['alice']);
  });

  it('counts read receipts of others', () => {
    const s = store();
    s.apply({ kind: 'read_receipt', channel: 'general', user: bob, seq: 10 });
    s.apply({ kind: 'read_receipt', channel: 'general', user: alice, seq: 10 });
    expect(s.seenBy('general', 10).map((u) => u.name)).toEqual(['bob']);
    expect(s.seenBy('general', 11)).toEqual([]);
  });
});

describe('side effects', () => {
  it('asks for a reload on channel reset and when this user joins a channel', () => {
    const s = store();
    const calls: string[] = [];
    s.effects = {
      reloadChannels: () => calls.push('channels'),
      reloadTimeline: (c) => calls.push(`timeline:${c}`),
      synced: (c) => calls.push(`synced:${c}`),
      unsubscribed: (c) => calls.push(`unsubscribed:${c}`),
    };
    s.apply({ kind: 'channel_reset', channel: 'general' });
    expect(s.timeline('general').messages).toEqual([]);
    s.apply({ kind: 'member', channel: 'new', user: alice, joined: true });
    s.apply({ kind: 'member', channel: 'general', user: bob, joined: true });
    s.apply({ kind: 'synced', channel: 'general', seq: 10 });
    expect(calls).toEqual(['timeline:general', 'channels', 'synced:general']);
    expect(s.channel('general')?.info.member_count).toBe(3);
  });
});

describe('channel topics', () => {
  it('applies channel_updated to the channel, and a cleared topic is none', () => {
    const s = store();
    const calls: string[] = [];
    s.effects = { ...s.effects, reloadChannels: () => calls.push('channels') };
    const before = s.channel('random');
    s.apply({ kind: 'channel_updated', channel: 'general', topic: 'Release on Friday', by: bob });
    expect(s.channel('general')?.info.topic).toBe('Release on Friday');
    // The other channels are untouched, the timeline stays, nothing is reloaded.
    expect(s.channel('random')).toBe(before);
    expect(s.timeline('general').messages.map((m) => m.seq)).toEqual([9, 10]);
    expect(calls).toEqual([]);

    s.apply({ kind: 'channel_updated', channel: 'general', topic: null, by: alice });
    expect(s.channel('general')?.info.topic).toBeNull();
    s.setTopic('general', 'again');
    s.setTopic('general', '');
    expect(s.channel('general')?.info.topic).toBeNull();

    // A channel not in the list (not a member) is ignored.
    s.apply({ kind: 'channel_updated', channel: 'elsewhere', topic: 'x', by: bob });
    expect(s.channel('elsewhere')).toBeUndefined();
  });
});

describe('Timeline window', () => {
  it('ignores live messages while newer ones are not loaded, and trims when too long', () => {
    const t = new Timeline('general');
    t.loaded = true;
    t.hasNewer = true;
    t.insertLive(message(5));
    expect(t.messages).toEqual([]);
    t.hasNewer = false;
    for (let i = 1; i <= 460; i++) t.insertLive(message(i));
    expect(t.messages.length).toBeLessThanOrEqual(450);
    expect(t.hasOlder).toBe(true);
    expect(t.newestSeq).toBe(460);
  });

  it('inserts out-of-order messages in seq order', () => {
    const t = new Timeline('general');
    t.loaded = true;
    t.hasOlder = false; // the window reaches the channel's start
    t.insertLive(message(3));
    t.insertLive(message(1));
    t.insertLive(message(2));
    expect(t.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  it('leaves a message older than the window to paging when older ones exist beyond it', () => {
    // The newest page shows while the channel's backlog streams in from its start.
    const t = new Timeline('general');
    t.loaded = true;
    t.hasOlder = true;
    t.messages = [message(9951), message(9952)];
    const shown = t.messages;
    t.insertLive(message(1));
    t.insertLive(message(2));
    expect(t.messages).toBe(shown); // unchanged: nothing re-renders
    t.insertLive(message(9953));
    expect(t.messages.map((m) => m.seq)).toEqual([9951, 9952, 9953]);
    // Between the first and the newest: in its place.
    t.messages = [message(9951), message(9953)];
    t.insertLive(message(9952));
    expect(t.messages.map((m) => m.seq)).toEqual([9951, 9952, 9953]);
  });
});

describe('timelines kept in memory', () => {
  it('keeps the timelines of the channels shown only; one dropped is a new, empty one on return', () => {
    const s = store();
    const general = s.timeline('general');
    const random = s.timeline('random');
    random.messages = [message(5, { channel: 'random' })];
    random.loaded = true;
    s.timeline('thread#7');
    // #random on screen, with a thread of #general beside it.
    s.dropTimelinesExcept(['random', 'thread#7']);
    expect(s.existingTimeline('general')).toBeUndefined();
    expect(s.existingTimeline('random')).toBe(random);
    expect(s.existingTimeline('thread#7')).toBeDefined();
    // Events for a dropped channel touch no timeline (the counts still move).
    s.apply({ kind: 'message', message: message(11) });
    expect(s.existingTimeline('general')).toBeUndefined();
    expect(s.channel('general')?.info.head).toBe(11);
    // Back to #general: a timeline of its own again, not loaded (the view loads its newest
    // page from the app's cache), not the one dropped.
    s.dropTimelinesExcept(['general']);
    const again = s.timeline('general');
    expect(again).not.toBe(general);
    expect(again.loaded).toBe(false);
    expect(again.messages).toEqual([]);
    expect(s.existingTimeline('random')).toBeUndefined();
    expect(s.existingTimeline('thread#7')).toBeUndefined();
  });
});

describe('channel list changes', () => {
  it('keeps the list as it is when an event changes nothing in it', () => {
    const s = store();
    s.visible = 'general';
    const list = s.channels;
    // A replayed message behind the head, and a summary with the counts already shown.
    s.apply({ kind: 'message', message: message(3, { channel: 'random' }) });
    s.activity('random', 5, 0, 0);
    s.activity('general', 10, 4, 1); // on screen: its counts are not shown
    expect(s.channels).toBe(list);
    s.activity('random', 6, 1, 0);
    expect(s.channels).not.toBe(list);
    expect(s.channel('random')).toMatchObject({ unread: 1, mentions: 0, info: { head: 6 } });
  });
});
