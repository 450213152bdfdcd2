// Pure translations from the SDK's frames and results to the app's types (bindings.ts), as
// the desktop core (client/src, src-tauri/src) makes them. Tested on their own.
import type { EventFrame, ReadState as WireReadState } from '@parley/client';
import type { ChannelInfo, ChannelView, ClientEvent, CommentEvent, Message, ReadState } from '../bindings';

/** A channel event as the desktop core's ClientEvent (null: nothing the UI uses).
 * `docOf` names the document of a comments channel (`doc#<id>`). */
export function frameToEvent(frame: EventFrame, docOf: (channel: string) => string | null): ClientEvent | null {
  const channel = frame.channel;
  switch (frame.kind) {
    case 'message':
      return { kind: 'message', message: frame.message as Message };
    case 'message_edited':
      return { kind: 'message_edited', message: frame.message as Message };
    case 'message_deleted':
      return { kind: 'message_deleted', channel, message_id: frame.message_id, seq: frame.message_seq };
    case 'reaction':
      return { kind: 'reaction', reaction: frame.reaction };
    case 'thread_updated':
      return { kind: 'thread_updated', channel, thread: frame.thread };
    case 'mention':
      return { kind: 'mention', message: frame.message as Message, muted: frame.muted };
    case 'read_receipt':
      return { kind: 'read_receipt', channel, user: frame.user, seq: frame.seq };
    case 'read':
      return { kind: 'read', read: frame.read as ReadState };
    case 'typing':
      return { kind: 'typing', channel, user: frame.user, typing: frame.typing };
    case 'presence':
      return { kind: 'presence', channel, user: frame.user, state: frame.state, status: frame.status };
    case 'member_joined':
      return { kind: 'member', channel, user: frame.user, joined: true };
    case 'member_left':
      return { kind: 'member', channel, user: frame.user, joined: false };
    case 'channel_updated':
      return { kind: 'channel_updated', channel, topic: frame.topic ?? null, by: frame.by };
    case 'unsubscribed':
      return { kind: 'unsubscribed', channel, reason: frame.reason };
    case 'custom':
      return {
        kind: 'custom',
        channel,
        seq: frame.seq ?? null,
        event: frame.event,
        data: frame.data,
        publisher: frame.publisher,
      };
    case 'comment_created':
    case 'comment_edited':
    case 'comment_resolved': {
      const event = { kind: frame.kind, comment: frame.comment } as CommentEvent;
      return { kind: 'comment', doc: docOf(channel) ?? frame.comment.doc, event };
    }
    case 'comment_deleted': {
      const doc = docOf(channel);
      if (doc == null) return null;
      return { kind: 'comment', doc, event: { kind: 'comment_deleted', comment_id: frame.comment_id } };
    }
  }
  return null;
}

/** A DM's other people, from its topic (`alice, bob`), as the desktop's sidebar derives them. */
export function dmWith(info: ChannelInfo, me: string | null): string[] {
  if (!info.name.startsWith('dm:')) return [];
  return (info.topic ?? '')
    .split(', ')
    .filter((n) => n !== '' && n !== me);
}

/** The sidebar's channels: the list without the personal channels (`@me`), with read state. */
export function channelViews(infos: ChannelInfo[], reads: WireReadState[], me: string | null): ChannelView[] {
  return infos
    .filter((info) => !info.name.startsWith('@'))
    .map((info) => {
      const read = reads.find((r) => r.channel === info.name);
      return {
        info,
        dm_with: dmWith(info, me),
        last_read: read?.last_read ?? 0,
        unread: read?.unread ?? 0,
        mentions: read?.mentions ?? 0,
        muted_until: read?.muted_until ?? null,
      };
    });
}

/** The invite code of a pasted link: the desktop's `parley://join?server=…&invite=inv_…`, the
 * web app's `https://host/?invite=inv_…`, or the bare code. */
export function inviteCode(link: string): string | null {
  const text = link.trim();
  if (/^inv_[A-Za-z0-9]+$/.test(text)) return text;
  try {
    const code = new URL(text).searchParams.get('invite');
    return code != null && /^inv_[A-Za-z0-9]+$/.test(code) ? code : null;
  } catch {
    return null;
  }
}

/** Whether a message mentions `me` in its text (`@me`, `@channel`, `@here`), as the desktop's
 * notification rules test it. */
export function mentionsMe(text: string, me: string): boolean {
  return text.split(/\s+/).some((w) => {
    const word = w.replace(/[^\p{L}\p{N}_-]+$/u, '');
    return word === `@${me}` || word === '@channel' || word === '@here';
  });
}
