// The comment list of one document: loaded with api.comments, kept current from the comment
// events (protocol §14.9), plus this user's comments still in the outbox (written offline, or
// not answered yet), grouped into threads.
import type { Comment, CommentAnchor, OutboxEntry } from '../lib/api';

/** A comment or reply of ours that the server has not confirmed yet. */
export interface PendingComment {
  localId: number;
  clientId: string;
  body: string;
  anchor: CommentAnchor | null;
  quote: string | null;
  parent: number | null;
  /** `pending` (waiting to be sent) or `failed` (refused; retry or discard). */
  state: string;
  error: string | null;
  createdAt: number;
}

export interface Thread {
  /** The top-level comment; `pending` set when it is still in the outbox. */
  root: Comment | null;
  pending: PendingComment | null;
  replies: Comment[];
  pendingReplies: PendingComment[];
}

/** The server's comment events, as carried by ClientEvent `comment`. */
export type CommentEvent =
  | { kind: 'comment_created' | 'comment_edited' | 'comment_resolved'; comment: Comment }
  | { kind: 'comment_deleted'; comment_id: number };

/** A comment event from the untyped JSON of ClientEvent `comment`, or null if it is none. */
export function parseCommentEvent(value: unknown): CommentEvent | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  switch (v.kind) {
    case 'comment_created':
    case 'comment_edited':
    case 'comment_resolved': {
      const c = v.comment as Comment | undefined;
      if (!c || typeof c !== 'object' || typeof c.id !== 'number') return null;
      return { kind: v.kind, comment: normalize(c) };
    }
    case 'comment_deleted':
      return typeof v.comment_id === 'number' ? { kind: 'comment_deleted', comment_id: v.comment_id } : null;
    default:
      return null;
  }
}

/** Fills the fields the server may leave out (serde defaults). */
function normalize(c: Comment): Comment {
  return {
    ...c,
    parent: c.parent ?? null,
    anchor: c.anchor ?? null,
    quote: c.quote ?? null,
    mentions: c.mentions ?? [],
    resolved_by: c.resolved_by ?? null,
    edited_at: c.edited_at ?? null,
  };
}

/** The list after one event: replace by id (or add), remove a deleted comment with its replies.
 * Applying an event the list already reflects changes nothing. Returns a new array. */
export function applyCommentEvent(list: Comment[], event: CommentEvent): Comment[] {
  if (event.kind === 'comment_deleted') {
    const id = event.comment_id;
    return list.filter((c) => c.id !== id && c.parent !== id);
  }
  const comment = event.comment;
  const at = list.findIndex((c) => c.id === comment.id);
  if (at === -1) return [...list, comment];
  const next = list.slice();
  next[at] = comment;
  return next;
}

/** A comment outbox entry of document `doc`, as a pending comment (null: not one). */
export function pendingFromOutbox(entry: OutboxEntry, doc: string): PendingComment | null {
  if (entry.kind !== 'comment' || entry.target !== doc) return null;
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(entry.body) as Record<string, unknown>;
  } catch {
    return null;
  }
  const anchor = body.anchor as CommentAnchor | null | undefined;
  return {
    localId: entry.local_id,
    clientId: entry.client_id,
    body: typeof body.body === 'string' ? body.body : '',
    anchor: anchor && typeof anchor.start === 'string' ? anchor : null,
    quote: typeof body.quote === 'string' ? body.quote : null,
    parent: typeof body.parent === 'number' ? body.parent : null,
    state: entry.state,
    error: entry.error,
    createdAt: entry.created_at,
  };
}

function sameAnchor(a: CommentAnchor | null, b: CommentAnchor | null): boolean {
  if (a === null || b === null) return a === b;
  return a.start === b.start && a.end === b.end;
}

/** Whether `comment` (from a comment_created event) is what `pending` became. Comments carry no
 * client id, so this compares what they do carry. */
export function isConfirmation(pending: PendingComment, comment: Comment, me: string | null): boolean {
  return (
    (me === null || comment.author.name === me) &&
    comment.body === pending.body &&
    (comment.parent ?? null) === pending.parent &&
    sameAnchor(comment.anchor ?? null, pending.anchor)
  );
}

/** Pending comments minus the one `comment` confirms (the oldest match). */
export function dropConfirmed(
  pending: PendingComment[],
  comment: Comment,
  me: string | null,
): PendingComment[] {
  const at = pending.findIndex((p) => isConfirmation(p, comment, me));
  if (at === -1) return pending;
  return [...pending.slice(0, at), ...pending.slice(at + 1)];
}

function byCreation(a: Comment, b: Comment): number {
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? -1 : 1;
  return a.id - b.id;
}

/**
 * Threads: each top-level comment with its replies (oldest first) and pending replies; pending
 * top-level comments are threads of their own. Order: open threads by where their text is in
 * the document (`position`: id -> offset; threads whose text is gone follow, oldest first), then
 * pending ones, then resolved ones (oldest first). Replies to a comment that is not in the list
 * (deleted) are dropped.
 */
export function buildThreads(
  comments: Comment[],
  pending: PendingComment[] = [],
  position: (comment: Comment) => number | null = () => null,
): Thread[] {
  const replies = new Map<number, Comment[]>();
  const roots: Comment[] = [];
  for (const c of comments) {
    if (c.parent === null || c.parent === undefined) roots.push(c);
    else {
      const list = replies.get(c.parent) ?? [];
      list.push(c);
      replies.set(c.parent, list);
    }
  }
  const pendingReplies = new Map<number, PendingComment[]>();
  const pendingRoots: PendingComment[] = [];
  for (const p of pending) {
    if (p.parent === null) pendingRoots.push(p);
    else {
      const list = pendingReplies.get(p.parent) ?? [];
      list.push(p);
      pendingReplies.set(p.parent, list);
    }
  }

  const threadOf = (root: Comment): Thread => ({
    root,
    pending: null,
    replies: (replies.get(root.id) ?? []).slice().sort(byCreation),
    pendingReplies: (pendingReplies.get(root.id) ?? []).slice().sort((a, b) => a.createdAt - b.createdAt),
  });

  const open = roots.filter((c) => !c.resolved);
  const resolved = roots.filter((c) => c.resolved).sort(byCreation);
  const positions = new Map(open.map((c) => [c.id, position(c)]));
  open.sort((a, b) => {
    const pa = positions.get(a.id) ?? null;
    const pb = positions.get(b.id) ?? null;
    if (pa !== null && pb !== null && pa !== pb) return pa - pb;
    if (pa !== null && pb === null) return -1;
    if (pa === null && pb !== null) return 1;
    return byCreation(a, b);
  });

  return [
    ...open.map(threadOf),
    ...pendingRoots
      .slice()
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((p) => ({ root: null, pending: p, replies: [], pendingReplies: [] })),
    ...resolved.map(threadOf),
  ];
}

/** The anchors to highlight: open top-level comments with an anchor, plus pending ones
 * (keyed `p<localId>`). */
export function highlightAnchors(
  comments: Comment[],
  pending: PendingComment[],
): { id: string; anchor: CommentAnchor }[] {
  const out: { id: string; anchor: CommentAnchor }[] = [];
  for (const c of comments) {
    if (c.parent === null && !c.resolved && c.anchor) out.push({ id: String(c.id), anchor: c.anchor });
  }
  for (const p of pending) {
    if (p.parent === null && p.anchor) out.push({ id: `p${p.localId}`, anchor: p.anchor });
  }
  return out;
}

/** A short relative time for a comment header ("just now", "5 min", "3 h", or the date). */
export function shortTime(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return new Date(t).toLocaleDateString();
}
