// Builders for test data.
import type { ChannelInfo, ChannelView, Comment, Message, OutboxEntry, UserRef } from '../lib/api';

export const alice: UserRef = { id: 1, name: 'alice', display_name: null, avatar: null };
export const bob: UserRef = { id: 2, name: 'bob', display_name: null, avatar: null };

export function info(name: string, patch: Partial<ChannelInfo> = {}): ChannelInfo {
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
    head: 0,
    member: true,
    member_count: 2,
    publish: 'members',
    ...patch,
  };
}

export function channelView(name: string, patch: Partial<ChannelView> = {}): ChannelView {
  return {
    info: info(name),
    dm_with: [],
    last_read: 0,
    unread: 0,
    mentions: 0,
    muted_until: null,
    ...patch,
  };
}

export const BASE_TS = Date.UTC(2026, 2, 14, 10, 0, 0);

export function message(seq: number, patch: Partial<Message> = {}): Message {
  const ts = patch.ts ?? BASE_TS + seq * 1000;
  return {
    id: 1000 + seq,
    channel: 'general',
    seq,
    author: bob,
    text: `message ${seq}`,
    client_id: `c${seq}`,
    created_at: new Date(ts).toISOString(),
    ts,
    edited_at: null,
    deleted: false,
    thread: null,
    attachments: [],
    mentions: [],
    reactions: [],
    ...patch,
  };
}

export function entry(localId: number, patch: Partial<OutboxEntry> = {}): OutboxEntry {
  return {
    local_id: localId,
    kind: 'message',
    target: 'general',
    body: `pending ${localId}`,
    client_id: `local${localId}`,
    created_at: BASE_TS + 1_000_000,
    state: 'pending',
    error_code: null,
    error: null,
    attempts: 0,
    ...patch,
  };
}

/** A document comment by alice (a root with an anchor unless `parent` is given). */
export function docComment(id: number, extra: Partial<Comment> = {}): Comment {
  return {
    id,
    doc: 'notes',
    parent: null,
    anchor: extra.parent ? null : { start: `s${id}`, end: `e${id}` },
    quote: null,
    author: alice,
    body: `comment ${id}`,
    mentions: [],
    resolved: false,
    resolved_by: null,
    created_at: '2026-01-01T00:00:00.000Z',
    edited_at: null,
    ...extra,
  };
}

