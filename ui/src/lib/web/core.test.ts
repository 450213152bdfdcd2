import { describe, expect, it } from 'vitest';
import type { AppEvent, Message, UserRef } from '../bindings';
import { WebCore, type ClientLike } from './core';
import type { SessionStore, TabSession } from './session';

const alice: UserRef = { id: 1, name: 'alice', display_name: null, avatar: null };
const bob: UserRef = { id: 2, name: 'bob', display_name: null, avatar: null };

function msg(channel: string, seq: number, author = bob): Message {
  return {
    id: 100 + seq,
    channel,
    seq,
    author,
    text: `m${seq}`,
    client_id: `c${seq}`,
    created_at: '2026-11-28T09:00:00.000Z',
    ts: Date.now() - 1_000_000,
  };
}

/** A ParleyClient stand-in: listeners by name, and what was asked of it. */
class FakeClient {
  listeners = new Map<string, ((v: unknown) => void)[]>();
  subscribed: string[] = [];
  closed = false;
  on(name: string, fn: (v: unknown) => void) {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn]);
    return () => this.listeners.set(name, (this.listeners.get(name) ?? []).filter((f) => f !== fn));
  }
  fire(name: string, value: unknown) {
    for (const fn of this.listeners.get(name) ?? []) fn(value);
  }
  frame(frame: Record<string, unknown>) {
    this.fire(String(frame.kind), frame);
  }
  connect() {
    return new Promise(() => {});
  }
  close() {
    this.closed = true;
  }
  subscribe(channel: string) {
    this.subscribed.push(channel);
    return Promise.resolve({});
  }
  position() {
    return { epoch: 'e', seq: 9 };
  }
  requests: { type: string; fields: unknown }[] = [];
  request(type: string, fields: unknown) {
    this.requests.push({ type, fields });
    return Promise.resolve({});
  }
}

function memoryStore(): SessionStore & { saved: TabSession | null } {
  return {
    saved: null,
    load() {
      return this.saved;
    },
    save(s) {
      this.saved = s;
    },
    clear() {
      this.saved = null;
    },
  };
}

function setup(token: string | null = 'pl_1') {
  const fake = new FakeClient();
  const store = memoryStore();
  const core = new WebCore(() => fake as unknown as ClientLike, store);
  const events: AppEvent[] = [];
  core.setSink((e) => events.push(e));
  core.start(token, alice);
  return { fake, core, events, store };
}

const clientEvents = (events: AppEvent[]) => events.flatMap((e) => (e.kind === 'client' ? [e.event] : []));

describe('the web core', () => {
  it("gives each connection the user's status, and forgets an expired one", () => {
    const { fake, core, events } = setup();
    core.settings = { ...core.settings, status: { status: 'away', text: 'lunch', until: Date.now() + 60_000 } };
    fake.fire('hello', { user: alice });
    expect(fake.requests.at(-1)).toEqual({ type: 'set_status', fields: { status: 'away', text: 'lunch' } });
    core.settings = { ...core.settings, status: { status: 'dnd', text: null, until: Date.now() - 1 } };
    fake.fire('hello', { user: alice });
    expect(fake.requests.at(-1)).toEqual({ type: 'set_status', fields: { status: 'online' } });
    expect(core.settings.status).toBeNull();
    expect(events.some((e) => e.kind === 'settings' && e.settings.status === null)).toBe(true);
  });

  it('tells the connection as the desktop does: connecting, online, offline, unauthorized', () => {
    const { fake, core, events, store } = setup();
    expect(core.status()).toMatchObject({
      workspace: { server: location.origin, hosted: false },
      user: alice,
      keyring: { state: 'available' },
      connection: { state: 'connecting', attempt: 1 },
    });
    fake.fire('state', 'connecting');
    fake.fire('hello', { user: alice });
    fake.fire('disconnect', { code: 1006, reason: '' });
    fake.fire('state', 'reconnecting');
    fake.fire('error', { code: 'invalid_credentials', message: 'signed out' });
    const states = clientEvents(events).flatMap((e) => (e.kind === 'connection' ? [e.state.state] : []));
    expect(states).toEqual(['connecting', 'online', 'offline', 'unauthorized']);
    // The tab's session is kept with the user the server named.
    expect(store.saved).toEqual({ token: 'pl_1', user: alice });
  });

  it('keeps nothing in the tab for a cookie session, and an anonymous hello is signed out', () => {
    const { fake, events, store } = setup(null);
    fake.fire('hello', { user: null });
    expect(store.saved).toBe(null);
    expect(clientEvents(events).at(-1)).toEqual({ kind: 'connection', state: { state: 'unauthorized' } });
  });

  it('pushes the messages of channels on screen, and sums up the others as activity', () => {
    const { fake, core, events } = setup();
    core.setRead({ channel: 'random', last_read: 3, unread: 1, mentions: 0, muted_until: null }, 4);
    core.show('general', []);
    expect(fake.subscribed).toEqual(['@me', 'general']);
    fake.frame({ kind: 'message', channel: 'general', seq: 1, message: msg('general', 1) });
    fake.frame({ kind: 'message', channel: 'random', seq: 5, message: msg('random', 5) });
    fake.frame({ kind: 'message', channel: 'random', seq: 6, message: msg('random', 6) });
    // Mine: read by writing it.
    fake.frame({ kind: 'message', channel: 'random', seq: 7, message: msg('random', 7, alice) });
    fake.frame({ kind: 'message', channel: 'thread#9', seq: 1, message: msg('thread#9', 1) });
    core.flushActivity();
    const pushed = clientEvents(events).filter((e) => e.kind === 'message');
    expect(pushed.map((e) => e.kind === 'message' && e.message.channel)).toEqual(['general']);
    expect(events.filter((e) => e.kind === 'activity')).toEqual([
      { kind: 'activity', channel: 'random', head: 7, unread: 3, mentions: 0 },
    ]);
  });

  it('counts mentions, takes read state from read events, and passes other events on', () => {
    const { fake, core, events } = setup();
    fake.frame({ kind: 'mention', channel: '@me', seq: 2, message: msg('random', 8), muted: false });
    core.flushActivity();
    expect(events.filter((e) => e.kind === 'activity').at(-1)).toEqual({
      kind: 'activity',
      channel: 'random',
      head: 8,
      unread: 0,
      mentions: 1,
    });
    fake.frame({ kind: 'read', channel: '@me', seq: 3, read: { channel: 'random', last_read: 8, unread: 0, mentions: 0 } });
    fake.fire('synced', 'general');
    fake.fire('reset', { channel: 'general' });
    const kinds = clientEvents(events).map((e) => e.kind);
    expect(kinds.slice(-4)).toEqual(['mention', 'read', 'synced', 'channel_reset']);
    expect(clientEvents(events).find((e) => e.kind === 'synced')).toEqual({ kind: 'synced', channel: 'general', seq: 9 });
  });

  it('forgets the session when stopped', () => {
    const { fake, core } = setup();
    core.show('general', []);
    core.stop();
    expect(fake.closed).toBe(true);
    expect(core.status()).toMatchObject({ user: null, connection: null });
    expect(core.isFollowed('general')).toBe(false);
  });
});
