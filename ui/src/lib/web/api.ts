// The web app's door from the UI to Parley: the same `api` as ../api.ts (whose Tauri commands
// run the desktop's Rust core), implemented in the browser on the SDK (@parley/client) and
// the HTTP API. The web build (`npm run build:web`) swaps this module in for ../api.ts
// (vite.config.ts); nothing else of the UI changes. The workspace is always the page's own
// server. What a browser cannot do (host a server, read files by path) is refused with
// CommandError `unsupported`.
import { apiRequest, login, logout, me, register, type ParleyClient } from '@parley/client';
import type {
  AnalyticsHistory,
  AppEvent,
  ChannelInfo,
  ChannelMember,
  ChannelView,
  Comment,
  DesktopInfo,
  DocContent,
  DocInfo,
  DocPush,
  DocRole,
  DocRoleEntry,
  HostInfo,
  InviteInfo,
  InviteLinkView,
  Message,
  OutboxEntry,
  PresenceEntry,
  ResetCode,
  SearchResults,
  SessionStatus,
  Settings,
  ThreadOpened,
  ThreadPlace,
  UploadProgress,
  UserInfo,
  UserRef,
  VersionInfo,
} from '../bindings';
import { WebCore } from './core';
import { WebDocs } from './docs';
import { CommandError, guard, invalid, toCommandError, unsupported } from './errors';
import { fetchBytes, uploadFile } from './files';
import { channelViews, inviteCode } from './mapping';
import { askPermission } from './notify';
import { isSignedOut } from './session';
import { saveSettings } from './settings';

export type * from '../bindings';
export { CommandError };

/** Which build this is: components hide what only the desktop app can do. */
export type Platform = 'desktop' | 'web';

const core = new WebCore();
/** The most members one `channelMembers` call gathers (as the desktop app). */
const MAX_MEMBERS = 5000;
const docs = new WebDocs(() => core.requireClient() as ParleyClient, docFate);

let restoring: Promise<void> | null = null;

/** The session this tab had: its token (sessionStorage), or the server's cookie. */
async function restore(): Promise<void> {
  const saved = core.store.load();
  if (saved != null) {
    try {
      core.start(saved.token, await me({ url: '', token: saved.token }));
    } catch (err) {
      if (isSignedOut(toCommandError(err).code)) core.store.clear();
      // The server is away: signed in as before; the client connects when it can.
      else core.start(saved.token, saved.user);
    }
    return;
  }
  try {
    core.start(null, await me({ url: '' }));
  } catch (err) {
    const e = toCommandError(err);
    if (!isSignedOut(e.code)) throw e;
  }
}

async function signedIn(session: { token: string; user: UserRef }, stay: boolean): Promise<SessionStatus> {
  docs.closeAll();
  if (stay) {
    // The HttpOnly cookie carries the session: no token is kept where scripts can read it.
    core.store.clear();
    core.start(null, session.user);
  } else {
    core.store.save(session);
    core.start(session.token, session.user);
  }
  return core.status();
}

function client() {
  return core.requireClient();
}

function http<T>(method: string, path: string, body?: unknown): Promise<T> {
  return guard(() => client().api<T>(method, path, body));
}

function request<T>(action: (c: ReturnType<typeof client>) => Promise<T>): Promise<T> {
  return guard(() => action(client()));
}

const enc = encodeURIComponent;

/** What became of an open document whose connection the server closed (4005, 4007). */
async function docFate(info: DocInfo): Promise<DocPush | null> {
  try {
    const now = await client().api<DocInfo>('GET', `/api/docs/${enc(info.name)}`);
    return now.id === info.id ? null : { kind: 'gone', reason: 'deleted' };
  } catch (err) {
    const code = toCommandError(err).code;
    if (code === 'forbidden') return { kind: 'gone', reason: 'forbidden' };
    if (code !== 'doc_not_found') return null;
  }
  try {
    const list = await client().api<{ docs: DocInfo[] }>('GET', '/api/docs');
    const renamed = list.docs.find((d) => d.id === info.id);
    return renamed != null ? { kind: 'renamed', name: renamed.name } : { kind: 'gone', reason: 'deleted' };
  } catch {
    return null;
  }
}

function queue(kind: string, target: string, body: string): Promise<OutboxEntry> {
  return guard(async () => {
    client();
    return core.outbox.queue(kind, target, body);
  });
}

function noteUser(user: UserRef): UserRef {
  if (core.user?.id === user.id) {
    core.user = user;
    core.emit({ kind: 'session', status: core.status() });
  }
  return user;
}

export const api = {
  platform: 'web' as Platform,

  // --- session: workspace, account, events
  status: async (): Promise<SessionStatus> => {
    restoring ??= restore().catch((err: unknown) => {
      restoring = null;
      throw toCommandError(err);
    });
    await restoring;
    return core.status();
  },
  hostWorkspace: (_username: string, _password: string, _lan = false): Promise<SessionStatus> =>
    unsupported('Hosting a workspace'),
  hostInfo: (): Promise<HostInfo | null> => unsupported('Hosting'),
  hostLog: (): Promise<string[]> => unsupported('Hosting'),
  restartHost: (): Promise<SessionStatus> => unsupported('Hosting'),
  /** Joins with an invite link (`?invite=` of a web link, a desktop `parley://join?` link, or
   * the bare code): creates the account and signs in. */
  acceptInvite: async (link: string, username: string, password: string, staySignedIn = false) => {
    const code = inviteCode(link);
    if (code == null) throw invalid('Paste the whole invite link (it has an invite=inv_… code).');
    const session = await guard(() =>
      register('', { name: username, password, invite: code }, { cookie: staySignedIn }),
    );
    // The invite is used: the address no longer offers it.
    if (globalThis.location?.search.includes('invite=')) history.replaceState(null, '', location.pathname);
    return signedIn(session, staySignedIn);
  },
  resetPassword: async (username: string, code: string, newPassword: string) => {
    await guard(() =>
      apiRequest({ url: '' }, 'POST', '/api/password-reset', { name: username, code, new_password: newPassword }),
    );
    return api.signIn(username, newPassword);
  },
  changePassword: async (currentPassword: string, newPassword: string, signOutOthers: boolean) => {
    const r = await http<{ signed_out: number }>('POST', '/api/me/password', {
      current_password: currentPassword,
      new_password: newPassword,
      sign_out_others: signOutOthers,
    });
    return r.signed_out;
  },
  joinWorkspace: (_server: string): Promise<SessionStatus> => unsupported('Choosing another server'),
  register: async (username: string, password: string, staySignedIn = false) =>
    signedIn(await guard(() => register('', { name: username, password }, { cookie: staySignedIn })), staySignedIn),
  /** Signs in; `staySignedIn` keeps the session in the server's HttpOnly cookie (across tabs
   * and restarts) instead of this tab's storage. */
  signIn: async (username: string, password: string, staySignedIn = false) =>
    signedIn(
      await guard(() => login('', username, password, { cookie: staySignedIn, device: 'web' })),
      staySignedIn,
    ),
  signOut: async (): Promise<SessionStatus> => {
    const token = core.token;
    // Revokes the token, or the cookie's (and the server clears the cookie).
    await logout({ url: '', token }).catch(() => undefined);
    docs.closeAll();
    core.stop();
    core.store.clear();
    const status = core.status();
    core.emit({ kind: 'session', status });
    return status;
  },
  leaveWorkspace: (): Promise<SessionStatus> => unsupported('Leaving the workspace'),
  addPerson: (_username: string, _password: string): Promise<null> => unsupported('Adding people to a hosted workspace'),
  subscribe: async (onEvent: (event: AppEvent) => void): Promise<void> => {
    core.setSink(onEvent);
  },

  // --- chat
  channels: () =>
    request(async (c): Promise<ChannelView[]> => {
      const [list, unread] = await Promise.all([c.request('channel_list', {}), c.request('unread', {})]);
      const views = channelViews(list.channels, unread.channels, core.user?.name ?? null);
      for (const v of views) {
        core.setRead(
          { channel: v.info.name, last_read: v.last_read, unread: v.unread, mentions: v.mentions, muted_until: v.muted_until },
          v.info.head,
        );
        if (v.info.member) core.follow(v.info.name);
      }
      return views;
    }),
  createChannel: (name: string, isPrivate: boolean, topic: string | null) =>
    request(async (c): Promise<ChannelInfo> => {
      const channel = name.trim().replace(/^#+/, '');
      const r = await c.request('channel_create', {
        channel,
        channel_type: isPrivate ? 'private' : 'public',
        presence: true,
        topic: topic != null && topic.trim() !== '' ? topic : null,
      });
      core.follow(r.channel.name);
      return r.channel;
    }),
  joinChannel: (name: string) =>
    request(async (c): Promise<ChannelInfo> => {
      const r = await c.request('channel_join', { channel: name });
      core.follow(r.channel.name);
      return r.channel;
    }),
  leaveChannel: (name: string) =>
    request(async (c): Promise<void> => {
      await c.request('channel_leave', { channel: name });
      core.unfollow(name);
    }),
  deleteChannel: (name: string) =>
    request(async (c): Promise<void> => {
      await c.api<null>('DELETE', `/api/channels/${enc(name)}`);
      core.unfollow(name);
    }),
  setChannelTopic: (name: string, topic: string) =>
    request(async (c): Promise<ChannelInfo> => (await c.request('channel_update', { channel: name, topic })).channel),
  channelMembers: (channel: string) =>
    request(async (c): Promise<ChannelMember[]> => {
      const all: ChannelMember[] = [];
      let after: number | undefined;
      for (;;) {
        const page = await c.request('channel_members', { channel, after, limit: 500 });
        all.push(...page.members);
        after = page.members.at(-1)?.user.id;
        if (!page.has_more || after === undefined || all.length >= MAX_MEMBERS) return all.slice(0, MAX_MEMBERS);
      }
    }),
  invite: (channel: string, user: string) =>
    request(async (c): Promise<UserRef> => {
      const name = user.trim().replace(/^@+/, '');
      if (name === '' || name.length > 64) throw invalid('enter the name of the person to invite');
      return (await c.request('channel_invite', { channel, user: name })).user;
    }),
  openChannel: async (name: string | null, also: string[]): Promise<void> => {
    core.show(name, also);
  },
  /** Newest `limit` messages before `before` (a seq), oldest first. */
  history: (channel: string, before: number | null, limit: number) =>
    request(async (c): Promise<Message[]> => {
      const page = await c.history(channel, {
        before: before ?? undefined,
        limit: Math.min(Math.max(limit, 1), 200),
      });
      const messages = (page.messages as Message[]).slice().reverse();
      for (const m of messages) core.notePlace(m);
      return messages;
    }),
  send: (channel: string, text: string, attachments: number[]) =>
    attachments.length > 0
      ? queue('message_files', channel, JSON.stringify({ text, attachments }))
      : queue('message', channel, text),
  outbox: async (): Promise<OutboxEntry[]> => core.outbox.list(),
  retry: async (localId: number): Promise<boolean> => core.outbox.retry(localId),
  discard: async (localId: number): Promise<boolean> => core.outbox.discard(localId),
  edit: (channel: string, messageId: number, text: string) =>
    queue('edit', channel, JSON.stringify({ message_id: messageId, text })),
  remove: (channel: string, messageId: number) => queue('delete', channel, JSON.stringify({ message_id: messageId })),
  react: (channel: string, messageId: number, emoji: string, add: boolean) =>
    queue('react', channel, JSON.stringify({ message_id: messageId, emoji, add })),
  typing: async (channel: string): Promise<void> => {
    core.client?.typing(channel);
  },
  markRead: (channel: string, seq: number) =>
    request(async (c): Promise<void> => {
      core.setRead(await c.request('mark_read', { channel, seq }));
    }),
  mute: (channel: string, until: number | null) =>
    request(async (c): Promise<void> => {
      // The server tells every session with a `read` event on @me as well.
      core.setRead(await c.request('mute', until == null ? { channel } : { channel, until }));
    }),
  unmute: (channel: string) =>
    request(async (c): Promise<void> => {
      // The server tells every session with a `read` event on @me as well.
      core.setRead(await c.request('unmute', { channel }));
    }),
  presence: (channel: string) =>
    request(async (c): Promise<PresenceEntry[]> => {
      try {
        return await c.presence(channel);
      } catch (err) {
        const code = toCommandError(err).code;
        if (code === 'disconnected' || code === 'timeout') return [];
        throw err;
      }
    }),
  openDm: (users: string[]) =>
    request(async (c): Promise<ChannelInfo> => {
      const names = users.map((u) => u.trim().replace(/^@+/, '')).filter((u) => u !== '');
      if (names.length === 0) throw invalid('name at least one person');
      const r = await c.request('dm_open', { users: names });
      core.follow(r.channel.name);
      return r.channel;
    }),
  /** Where `thread#<id>` lives: its root message's channel, from the messages seen here. */
  threadPlace: async (channel: string): Promise<ThreadPlace> => {
    const id = Number(channel.startsWith('thread#') ? channel.slice('thread#'.length) : NaN);
    if (!Number.isInteger(id)) throw invalid('not a thread channel (thread#<message id>)');
    const place = core.placeOf(id);
    if (place == null) {
      throw new CommandError({
        code: 'not_cached',
        message: "this thread's message has not been loaded here yet: open its channel first",
      });
    }
    return { channel: place, message_id: id };
  },
  openThread: (channel: string, messageId: number) =>
    request(async (c): Promise<ThreadOpened> => {
      const r = await c.request('thread_open', { channel, message_id: messageId });
      core.notePlace(r.root as Message);
      core.follow(r.thread.channel);
      return { channel: r.thread.channel, root: r.root as Message, thread: r.thread };
    }),
  /** The server's search (the web app keeps no local cache: `local` is empty). */
  search: async (query: string, channel: string | null): Promise<SearchResults> => {
    if (query.trim() === '') return { local: [], server: [], server_error: null };
    try {
      const r = await client().request('search', { query, channel, limit: 50 });
      return { local: [], server: r.hits as SearchResults['server'], server_error: null };
    } catch (err) {
      return { local: [], server: [], server_error: toCommandError(err).message };
    }
  },
  uploadPath: (_path: string, _onProgress: (p: UploadProgress) => void): Promise<number> =>
    unsupported('Uploading a file by its path'),
  uploadBytes: (file: File, onProgress: (p: UploadProgress) => void) =>
    guard(() => {
      client();
      return uploadFile(file, core.token, onProgress);
    }),
  attachment: (id: number, thumbnail: boolean) =>
    fetchBytes(`/api/attachments/${id}${thumbnail ? '/thumbnail' : ''}`, core.token),

  // --- people
  setDisplayName: async (name: string) => noteUser(await http<UserRef>('PATCH', '/api/me', { display_name: name })),
  setAvatar: async (file: Blob) => noteUser(await http<UserRef>('PUT', '/api/me/avatar', file)),
  removeAvatar: async () => noteUser(await http<UserRef>('DELETE', '/api/me/avatar')),
  avatar: (path: string) => fetchBytes(path, core.token),
  /** A new invite and its web link (`https://this-server/?invite=inv_…`). */
  createInviteLink: async (uses?: number, expiresIn?: string): Promise<InviteLinkView> => {
    const created = await http<{ code: string; uses_left: number; expires_at: number }>('POST', '/api/invites', {
      uses: Math.max(uses ?? 1, 1),
      expires_in: expiresIn ?? '7d',
    });
    const server = globalThis.location?.origin ?? '';
    return {
      link: `${server}/?invite=${enc(created.code)}`,
      server,
      fingerprint: null,
      expires_at: created.expires_at,
      uses: created.uses_left,
      this_computer_only: false,
    };
  },
  invites: async () => (await http<{ invites: InviteInfo[] }>('GET', '/api/invites')).invites,
  revokeInvite: async (id: number): Promise<void> => {
    await http('DELETE', `/api/invites/${id}`);
  },
  people: async (): Promise<UserInfo[]> => {
    const users: UserInfo[] = [];
    let after: number | null = null;
    for (let page = 0; page < 50; page++) {
      const q: string = after == null ? '' : `?after=${after}`;
      const r: { users: UserInfo[]; next?: number | null } = await http('GET', `/api/users${q}`);
      users.push(...r.users);
      if (r.next == null || r.next === after) break;
      after = r.next;
    }
    return users;
  },
  dashboard: async (): Promise<AnalyticsHistory> => {
    const first = await http<AnalyticsHistory>('GET', '/api/analytics');
    // Followed first, so every later update arrives as a `custom` event.
    await guard(() => client().subscribe(first.channel, {}));
    return http<AnalyticsHistory>('GET', '/api/analytics');
  },
  setUserDisabled: async (id: number, disabled: boolean): Promise<void> => {
    await http('POST', `/api/users/${id}/${disabled ? 'disable' : 'enable'}`);
  },
  deleteUser: async (id: number): Promise<void> => {
    await http('DELETE', `/api/users/${id}`);
  },
  resetCode: (id: number) => http<ResetCode>('POST', `/api/users/${id}/reset-code`),

  // --- documents and comments
  docs: async () => (await http<{ docs: DocInfo[] }>('GET', '/api/docs')).docs,
  createDoc: (name: string, title: string | null, channel: string | null) =>
    http<DocInfo>('POST', '/api/docs', {
      name: name.trim(),
      ...(title != null ? { title } : {}),
      ...(channel != null ? { channel } : {}),
    }),
  renameDoc: async (name: string, newName: string | null, title: string | null) => {
    const info = await http<DocInfo>('PATCH', `/api/docs/${enc(name)}`, {
      ...(newName != null ? { name: newName } : {}),
      ...(title != null ? { title } : {}),
    });
    if (info.name !== name) docs.close(name);
    return info;
  },
  deleteDoc: async (name: string): Promise<void> => {
    docs.close(name);
    await http('DELETE', `/api/docs/${enc(name)}`);
  },
  /** Opens the document with y-websocket; resolves to its whole state once synced, then
   * pushes remote updates, other people's awareness and connection changes. */
  openDoc: async (name: string, onPush: (push: DocPush) => void) => {
    const info = await http<DocInfo>('GET', `/api/docs/${enc(name)}`);
    core.commentDocs.set(info.comments_channel, info.name);
    core.follow(info.comments_channel);
    return guard(() => docs.openDoc(info, onPush));
  },
  docUpdate: async (name: string, update: Uint8Array): Promise<void> => {
    await guard(async () => docs.update(name, update));
  },
  docAwareness: async (name: string, update: Uint8Array): Promise<void> => {
    await guard(async () => docs.awareness(name, update));
  },
  closeDoc: async (name: string): Promise<void> => {
    docs.close(name);
  },
  docVersions: async (name: string) =>
    (await http<{ versions: VersionInfo[] }>('GET', `/api/docs/${enc(name)}/versions`)).versions,
  saveDocVersion: async (name: string, version: string) => {
    const v = version.trim();
    if (v === '') throw invalid('a version needs a name');
    return http<VersionInfo>('POST', `/api/docs/${enc(name)}/versions`, { name: v });
  },
  docVersion: (name: string, id: number) => http<DocContent>('GET', `/api/docs/${enc(name)}/versions/${id}`),
  docRoles: async (name: string) =>
    (await http<{ roles: DocRoleEntry[] }>('GET', `/api/docs/${enc(name)}/roles`)).roles,
  setDocRole: async (name: string, user: string, role: DocRole | null): Promise<void> => {
    const path = `/api/docs/${enc(name)}/roles/${enc(user.trim().replace(/^@+/, ''))}`;
    if (role === null) await http('DELETE', path);
    else await http('PUT', path, { role });
  },
  comments: async (doc: string) => (await http<{ comments: Comment[] }>('GET', `/api/docs/${enc(doc)}/comments`)).comments,
  addComment: (
    doc: string,
    body: string,
    anchor: { start: string; end: string } | null,
    quote: string | null,
    parent: number | null,
  ) => queue('comment', doc, JSON.stringify({ body, anchor, quote, parent })),
  editComment: (doc: string, id: number, body: string) =>
    http<Comment>('PATCH', `/api/docs/${enc(doc)}/comments/${id}`, { body }),
  deleteComment: async (doc: string, id: number): Promise<void> => {
    await http('DELETE', `/api/docs/${enc(doc)}/comments/${id}`);
  },
  resolveComment: (doc: string, id: number, resolved: boolean) =>
    http<Comment>('POST', `/api/docs/${enc(doc)}/comments/${id}/${resolved ? 'resolve' : 'reopen'}`),

  // --- settings (this browser's localStorage)
  settings: async (): Promise<Settings> => core.settings,
  setMyStatus: async (status: string, text: string | null, until: number | null): Promise<Settings> => {
    if (status !== 'online' && status !== 'away' && status !== 'dnd') throw invalid('a status is online, away or dnd');
    const trimmed = text?.trim() ?? '';
    if ([...trimmed].length > 140) throw invalid('a status text has at most 140 characters');
    core.settings = {
      ...core.settings,
      status: status === 'online' ? null : { status, text: trimmed === '' ? null : trimmed, until },
    };
    saveSettings(core.settings);
    core.applyStatus();
    return core.settings;
  },
  setSettings: async (settings: Settings): Promise<Settings> => {
    // Turned on by a click: the browser asks for permission now (it refuses outside a gesture).
    if (settings.notifications && !core.settings.notifications) askPermission();
    core.settings = settings;
    saveSettings(settings);
    return settings;
  },
  /** A browser has no tray and starts nothing at login. */
  desktopInfo: async (): Promise<DesktopInfo> => ({ tray: false, autostart_file: null }),
};
