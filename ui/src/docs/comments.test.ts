import { describe, expect, it } from 'vitest';
import type { Comment, OutboxEntry } from '../lib/api';
import {
  applyCommentEvent,
  buildThreads,
  dropConfirmed,
  highlightAnchors,
  parseCommentEvent,
  pendingFromOutbox,
} from './comments';
import type { PendingComment } from './comments';
import { docComment } from '../test/fixtures';

const alice = { id: 1, name: 'alice', display_name: 'Alice', avatar: null };
const bob = { id: 2, name: 'bob', display_name: null, avatar: null };

let clock = 0;
function comment(id: number, extra: Partial<Comment> = {}): Comment {
  clock++;
  return docComment(id, {
    author: alice,
    created_at: `2026-01-01T00:00:${String(clock).padStart(2, '0')}.000Z`,
    ...extra,
  });
}

function pending(localId: number, extra: Partial<PendingComment> = {}): PendingComment {
  return {
    localId,
    clientId: `c${localId}`,
    body: `pending ${localId}`,
    anchor: null,
    quote: null,
    parent: null,
    state: 'pending',
    error: null,
    createdAt: localId,
    ...extra,
  };
}

describe('comment threads', () => {
  it('group replies under their comment, oldest first, and drop orphans', () => {
    const c1 = comment(1);
    const c2 = comment(2);
    const r1 = comment(3, { parent: 1, author: bob });
    const r2 = comment(4, { parent: 2 });
    const r3 = comment(5, { parent: 1 });
    const orphan = comment(6, { parent: 99 });
    // The list in any order.
    const threads = buildThreads([r3, orphan, c2, r1, c1, r2]);
    expect(threads.map((t) => t.root!.id)).toEqual([1, 2]);
    expect(threads[0].replies.map((r) => r.id)).toEqual([3, 5]);
    expect(threads[1].replies.map((r) => r.id)).toEqual([4]);
  });

  it('order open threads by document position, then pending, then resolved', () => {
    const a = comment(1);
    const b = comment(2);
    const c = comment(3); // its text is gone: no position
    const d = comment(4, { resolved: true, resolved_by: bob });
    const e = comment(5);
    const where: Record<number, number | null> = { 1: 40, 2: 5, 3: null, 5: 5 };
    const threads = buildThreads(
      [a, b, c, d, e],
      [pending(8, { anchor: { start: 'x', end: 'y' } }), pending(7, { parent: 2 })],
      (cm) => where[cm.id] ?? null,
    );
    expect(threads.map((t) => t.root?.id ?? `p${t.pending!.localId}`)).toEqual([2, 5, 1, 3, 'p8', 4]);
    expect(threads[0].pendingReplies.map((p) => p.localId)).toEqual([7]);
  });

  it('apply events: add, replace, resolve, delete with replies; replays change nothing', () => {
    const c1 = comment(1);
    const r1 = comment(2, { parent: 1 });
    const c3 = comment(3);
    let list: Comment[] = [c1, r1];
    const created = parseCommentEvent({ kind: 'comment_created', comment: c3 })!;
    list = applyCommentEvent(list, created);
    list = applyCommentEvent(list, created);
    expect(list.map((c) => c.id)).toEqual([1, 2, 3]);

    const edited = parseCommentEvent({ kind: 'comment_edited', comment: { ...c1, body: 'new' } })!;
    list = applyCommentEvent(list, edited);
    expect(list[0].body).toBe('new');

    const resolved = parseCommentEvent({
      kind: 'comment_resolved',
      comment: { ...c1, body: 'new', resolved: true, resolved_by: bob },
    })!;
    list = applyCommentEvent(list, resolved);
    expect(list[0].resolved).toBe(true);
    expect(buildThreads(list).map((t) => t.root!.id)).toEqual([3, 1]);

    list = applyCommentEvent(list, parseCommentEvent({ kind: 'comment_deleted', comment_id: 1 })!);
    expect(list.map((c) => c.id)).toEqual([3]);
  });

  it('parse only comment events, filling left-out fields', () => {
    expect(parseCommentEvent({ kind: 'message' })).toBeNull();
    expect(parseCommentEvent(null)).toBeNull();
    expect(parseCommentEvent({ kind: 'comment_deleted' })).toBeNull();
    const sparse = { id: 9, doc: 'notes', author: alice, body: 'x', resolved: false, created_at: 'z' };
    const ev = parseCommentEvent({ kind: 'comment_created', comment: sparse });
    expect(ev).toMatchObject({ comment: { parent: null, anchor: null, mentions: [], edited_at: null } });
  });

  it('turn comment outbox entries into pending comments, confirmed by their created event', () => {
    const anchor = { start: 'AAA=', end: 'BBB=' };
    const entry: OutboxEntry = {
      local_id: 12,
      kind: 'comment',
      target: 'notes',
      body: JSON.stringify({ body: 'offline thought', anchor, quote: 'words', parent: null, client_id: 'abc' }),
      client_id: 'abc',
      created_at: 1000,
      state: 'pending',
      error_code: null,
      error: null,
      attempts: 0,
    };
    expect(pendingFromOutbox({ ...entry, target: 'other' }, 'notes')).toBeNull();
    expect(pendingFromOutbox({ ...entry, kind: 'message' }, 'notes')).toBeNull();
    const p = pendingFromOutbox(entry, 'notes')!;
    expect(p).toMatchObject({ localId: 12, body: 'offline thought', anchor, quote: 'words', parent: null });
    expect(highlightAnchors([], [p])).toEqual([{ id: 'p12', anchor }]);

    const other = comment(20, { body: 'offline thought', anchor: { start: 'x', end: 'y' } });
    expect(dropConfirmed([p], other, 'alice')).toHaveLength(1);
    const byBob = comment(21, { body: 'offline thought', anchor, author: bob });
    expect(dropConfirmed([p], byBob, 'alice')).toHaveLength(1);
    const mine = comment(22, { body: 'offline thought', anchor });
    expect(dropConfirmed([p], mine, 'alice')).toHaveLength(0);
  });

  it('highlight open top-level comments only', () => {
    const open = comment(1);
    const done = comment(2, { resolved: true });
    const reply = comment(3, { parent: 1 });
    expect(highlightAnchors([open, done, reply], []).map((h) => h.id)).toEqual(['1']);
  });
});
