// The one door from the UI to the app: typed wrappers over the Tauri commands of src-tauri
// (src-tauri/src/commands/*.rs). Every type comes from ./bindings.ts, which is generated from the
// Rust types (`cargo test -p parley-app bindings`), so the two cannot drift.
import { Channel, invoke } from '@tauri-apps/api/core';
import type {
  AnalyticsHistory,
  AppEvent,
  AppError,
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
} from './bindings';

export type * from './bindings';


/** A refused command: `code` is stable (the server's error codes plus the app's own). */
export class CommandError extends Error {
  code: string;
  constructor(err: AppError) {
    super(err.message);
    this.code = err.code;
  }
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (err) {
    if (err && typeof err === 'object' && 'code' in err && 'message' in err) {
      throw new CommandError(err as AppError);
    }
    throw new CommandError({ code: 'internal', message: String(err) });
  }
}

/** Which build this is: the web build (./web/api.ts) hides what only the desktop app can do. */
export type Platform = 'desktop' | 'web';

export const api = {
  platform: 'desktop' as Platform,

  // --- session: workspace, account, events
  status: () => call<SessionStatus>('session_status'),
  /** Starts the bundled server with its data in the app data directory, creates the first
   * admin account and signs in. */
  hostWorkspace: (username: string, password: string, lan = false) =>
    call<SessionStatus>('host_workspace', { username, password, lan }),
  /** The hosted workspace: its addresses, certificate fingerprint and state (null: none). */
  hostInfo: () => call<HostInfo | null>('host_info'),
  /** The hosted server's recent log lines. */
  hostLog: () => call<string[]>('host_log'),
  /** Starts the hosted server again after it was given up on. */
  restartHost: () => call<SessionStatus>('restart_host'),
  /** Joins with an invite link: pins its certificate, creates the account, signs in. */
  acceptInvite: (link: string, username: string, password: string, _staySignedIn = false) =>
    call<SessionStatus>('accept_invite', { link, username, password }),
  /** Sets a new password with an admin's one-time reset code, then signs in with it. */
  resetPassword: (username: string, code: string, newPassword: string) =>
    call<SessionStatus>('reset_password', { username, code, newPassword }),
  /** Changes the account's password; answers how many other sessions were signed out. */
  changePassword: (currentPassword: string, newPassword: string, signOutOthers: boolean) =>
    call<number>('change_password', { currentPassword, newPassword, signOutOthers }),
  /** Remembers a server (checked with /healthz); sign in or register next. */
  joinWorkspace: (server: string) => call<SessionStatus>('join_workspace', { server }),
  /** `staySignedIn` is the web app's choice; the app keeps its token in the keyring. */
  register: (username: string, password: string, _staySignedIn = false) =>
    call<SessionStatus>('register', { username, password }),
  signIn: (username: string, password: string, _staySignedIn = false) =>
    call<SessionStatus>('sign_in', { username, password }),
  signOut: () => call<SessionStatus>('sign_out'),
  /** Forgets the workspace (back to the first-run screen); stops a hosted server. */
  leaveWorkspace: () => call<SessionStatus>('leave_workspace'),
  addPerson: (username: string, password: string) => call<null>('add_person', { username, password }),
  /** Every push from the app: client events, session changes, navigation requests. */
  subscribe: (onEvent: (event: AppEvent) => void) => {
    const channel = new Channel<AppEvent>();
    channel.onmessage = onEvent;
    return call<void>('subscribe_events', { onEvent: channel });
  },

  // --- chat
  channels: () => call<ChannelView[]>('list_channels'),
  createChannel: (name: string, isPrivate: boolean, topic: string | null) =>
    call<ChannelInfo>('create_channel', { name, private: isPrivate, topic }),
  joinChannel: (name: string) => call<ChannelInfo>('join_channel', { name }),
  /** Stops being a member: the channel is no longer followed. */
  leaveChannel: (name: string) => call<void>('leave_channel', { name }),
  /** Deletes the channel for everyone (its admins and workspace admins). */
  deleteChannel: (name: string) => call<void>('delete_channel', { name }),
  /** Sets the channel's topic (empty or blank: clears it); its members and workspace admins
   * may. Everyone following it gets `channel_updated`. */
  setChannelTopic: (name: string, topic: string) => call<ChannelInfo>('set_channel_topic', { name, topic }),
  /** The channel's members and their roles. */
  channelMembers: (channel: string) => call<ChannelMember[]>('channel_members', { channel }),
  /** Adds a person to a channel (a private channel's only way in); returns who was added. */
  invite: (channel: string, user: string) => call<UserRef>('invite', { channel, user }),
  /** The channel now on screen (null: none): followed, and not notified while focused. */
  /** The channel on screen and the other channels whose messages the UI shows (an open
   * thread's): the rest come only as `activity` summaries. */
  openChannel: (name: string | null, also: string[]) => call<void>('open_channel', { name, also }),
  /** Newest `limit` messages before `before` (a seq), oldest first. */
  history: (channel: string, before: number | null, limit: number) =>
    call<Message[]>('history', { channel, before, limit }),
  send: (channel: string, text: string, attachments: number[]) =>
    call<OutboxEntry>('send_message', { channel, text, attachments }),
  outbox: () => call<OutboxEntry[]>('outbox'),
  retry: (localId: number) => call<boolean>('retry_message', { localId }),
  discard: (localId: number) => call<boolean>('discard_message', { localId }),
  edit: (channel: string, messageId: number, text: string) =>
    call<OutboxEntry>('edit_message', { channel, messageId, text }),
  remove: (channel: string, messageId: number) =>
    call<OutboxEntry>('delete_message', { channel, messageId }),
  react: (channel: string, messageId: number, emoji: string, add: boolean) =>
    call<OutboxEntry>('react', { channel, messageId, emoji, add }),
  typing: (channel: string) => call<void>('typing', { channel }),
  markRead: (channel: string, seq: number) => call<void>('mark_read', { channel, seq }),
  /** Mutes until a Unix time in ms (null: until unmuted). */
  mute: (channel: string, until: number | null) => call<void>('mute', { channel, until }),
  unmute: (channel: string) => call<void>('unmute', { channel }),
  presence: (channel: string) => call<PresenceEntry[]>('presence', { channel }),
  openDm: (users: string[]) => call<ChannelInfo>('open_dm', { users }),
  /** Where `thread#<id>` lives (its root message's channel, from the cache). */
  threadPlace: (channel: string) => call<ThreadPlace>('thread_place', { channel }),
  openThread: (channel: string, messageId: number) =>
    call<ThreadOpened>('open_thread', { channel, messageId }),
  /** The local cache first (instant, works offline), then the server when online. */
  search: (query: string, channel: string | null) =>
    call<SearchResults>('search', { query, channel }),
  /** Uploads a file from disk (drag and drop gives paths); resolves to the attachment id. */
  uploadPath: (path: string, onProgress: (p: UploadProgress) => void) => {
    const channel = new Channel<UploadProgress>();
    channel.onmessage = onProgress;
    return call<number>('upload_path', { path, onProgress: channel });
  },
  /** Uploads bytes from the file picker. */
  uploadBytes: async (file: File, onProgress: (p: UploadProgress) => void) => {
    const channel = new Channel<UploadProgress>();
    channel.onmessage = onProgress;
    const bytes = Array.from(new Uint8Array(await file.arrayBuffer()));
    return call<number>('upload_bytes', { name: file.name, bytes, onProgress: channel });
  },
  /** An attachment's bytes (thumbnail: the 320 px PNG preview). */
  attachment: (id: number, thumbnail: boolean) =>
    call<ArrayBuffer>('attachment', { id, thumbnail }),

  // --- people: one's profile, avatars, invites, the accounts admins manage
  /** Sets the account's display name ('' clears it); the account as it is now. */
  setDisplayName: (name: string) => call<UserRef>('set_display_name', { name }),
  /** Makes an image the account's avatar. */
  setAvatar: async (file: Blob) => {
    const bytes = Array.from(new Uint8Array(await file.arrayBuffer()));
    return call<UserRef>('set_avatar', { bytes });
  },
  removeAvatar: () => call<UserRef>('remove_avatar'),
  /** An avatar's PNG bytes, from the path a user carries. */
  avatar: (path: string) => call<ArrayBuffer>('avatar', { path }),
  /** A new invite and its link (admins; members where the server allows). */
  createInviteLink: (uses?: number, expiresIn?: string) =>
    call<InviteLinkView>('create_invite_link', { uses, expiresIn }),
  /** The live invites (admins: all; members: their own). */
  invites: () => call<InviteInfo[]>('list_invites'),
  revokeInvite: (id: number) => call<void>('revoke_invite', { id }),
  /** The workspace's accounts (admins; `forbidden` for others). */
  people: () => call<UserInfo[]>('people'),
  /** The live analytics for the Dashboard (admins; `forbidden` for others,
   * `analytics_disabled` when off); the app follows their channel from then on. */
  dashboard: () => call<AnalyticsHistory>('dashboard'),
  setUserDisabled: (id: number, disabled: boolean) =>
    call<void>('set_user_disabled', { id, disabled }),
  deleteUser: (id: number) => call<void>('delete_user', { id }),
  /** A one-time password-reset code for the account. */
  resetCode: (id: number) => call<ResetCode>('reset_code', { id }),

  // --- documents and comments
  docs: () => call<DocInfo[]>('list_docs'),
  createDoc: (name: string, title: string | null, channel: string | null) =>
    call<DocInfo>('create_doc', { name, title, channel }),
  renameDoc: (name: string, newName: string | null, title: string | null) =>
    call<DocInfo>('rename_doc', { name, newName, title }),
  /** Deletes a document for everyone (a manager's right). */
  deleteDoc: (name: string) => call<void>('delete_doc', { name }),
  /** Opens the local replica; resolves to its whole state (apply it to a fresh Y.Doc), then
   * pushes remote updates, other people's awareness and connection changes. */
  openDoc: async (name: string, onPush: (push: DocPush) => void) => {
    const channel = new Channel<DocPush>();
    channel.onmessage = onPush;
    const state = await call<number[]>('open_doc', { name, onPush: channel });
    return new Uint8Array(state);
  },
  /** A local Y.Doc update (from the editor) for the replica: persisted, then synced. */
  docUpdate: (name: string, update: Uint8Array) =>
    call<void>('doc_update', { name, update: Array.from(update) }),
  /** This client's awareness (y-protocols encodeAwarenessUpdate) for the others. */
  docAwareness: (name: string, update: Uint8Array) =>
    call<void>('doc_awareness', { name, update: Array.from(update) }),
  closeDoc: (name: string) => call<void>('close_doc', { name }),
  /** The document's named versions, newest first. */
  docVersions: (name: string) => call<VersionInfo[]>('doc_versions', { name }),
  /** Saves the document as the server has it now as a named version (editors). */
  saveDocVersion: (name: string, version: string) =>
    call<VersionInfo>('save_doc_version', { name, version }),
  /** A named version's content: its whole state (a base64 Yjs update) and its text. */
  docVersion: (name: string, id: number) => call<DocContent>('doc_version', { name, id }),
  /** The people with a role of their own on the document (its managers only: `forbidden`). */
  docRoles: (name: string) => call<DocRoleEntry[]>('doc_roles', { name }),
  /** Gives `user` (a user name) a role of their own on the document; null takes it away. */
  setDocRole: (name: string, user: string, role: DocRole | null) =>
    call<void>('set_doc_role', { name, user, role }),
  comments: (doc: string) => call<Comment[]>('list_comments', { doc }),
  /** anchor: base64 Y.encodeRelativePosition of the start and end; replies have none. */
  addComment: (
    doc: string,
    body: string,
    anchor: { start: string; end: string } | null,
    quote: string | null,
    parent: number | null,
  ) => call<OutboxEntry>('add_comment', { doc, body, anchor, quote, parent }),
  editComment: (doc: string, id: number, body: string) => call<Comment>('edit_comment', { doc, id, body }),
  deleteComment: (doc: string, id: number) => call<void>('delete_comment', { doc, id }),
  resolveComment: (doc: string, id: number, resolved: boolean) =>
    call<Comment>('resolve_comment', { doc, id, resolved }),

  // --- settings
  settings: () => call<Settings>('get_settings'),
  setSettings: (settings: Settings) => call<Settings>('set_settings', { settings }),
  /** What this desktop offers: a tray (closing the window can hide it there) and where the
   * start-at-login entry is written. */
  desktopInfo: () => call<DesktopInfo>('desktop_info'),
  /** This user's status: `online` (active), `away` or `dnd`, with an optional text and an
   * expiry (Unix ms); applied to every connection until changed or expired. */
  setMyStatus: (status: string, text: string | null, until: number | null) =>
    call<Settings>('set_my_status', { status, text, until }),
};
