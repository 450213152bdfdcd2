// Generated from the Rust types by `PARLEY_UPDATE_BINDINGS=1 cargo test -p parley-app bindings`.
// Do not edit: change the Rust type and regenerate.
// 64-bit integers are JSON numbers on the wire, so they are `number` here.

export type AnalyticsHistory = { channel: string, interval_ms: number, samples: Array<AnalyticsSample>, };

export type AnalyticsSample = { seq: number, data: unknown, };

export type AppError = { code: string, message: string, };

export type AppEvent = { "kind": "client", event: ClientEvent, } | { "kind": "session", status: SessionStatus, } | { "kind": "activity", channel: string, head: number, unread: number, mentions: number, } | { "kind": "navigate", channel: string, 
/**
 * A document to open instead (a comment mention's notification).
 */
doc: string | null, } | { "kind": "settings", settings: Settings, } | { "kind": "host", state: HostState, };

export type Attachment = { id: number, 
/**
 * The name the uploader gave (display only).
 */
name: string, 
/**
 * Sniffed from the content by the server, never taken from the uploader.
 */
mime: string, size: number, 
/**
 * Hex SHA-256 of the content.
 */
sha256: string, 
/**
 * For images: pixel dimensions.
 */
width?: number | null, height?: number | null, 
/**
 * For images: a PNG at most 320 pixels on its longer side at
 * `GET /api/attachments/{id}/thumbnail`.
 */
thumbnail?: boolean, };

export type Authentication = "optional" | "required";

export type ChannelInfo = { name: string, channel_type: ChannelType, authentication: Authentication, presence: boolean, user_specific: boolean, auto_subscribe: boolean, max_participants: number | null, message_history: number, message_retention_secs: number, topic: string | null, epoch: string, 
/**
 * The seq of the newest durable event.
 */
head: number, member: boolean, member_count: number, 
/**
 * Who may publish custom events.
 */
publish: PublishPolicy, };

export type ChannelMember = { user: UserRef, role: string, };

export type ChannelType = "public" | "private" | "presence";

export type ChannelView = { info: ChannelInfo, 
/**
 * Direct message: the other people's names (empty for channels).
 */
dm_with: Array<string>, last_read: number, unread: number, mentions: number, 
/**
 * Muted until (Unix ms); `i64::MAX` means until unmuted.
 */
muted_until: number | null, };

export type ClientEvent = { "kind": "connection", state: ConnectionState, } | { "kind": "message", message: Message, } | { "kind": "message_edited", message: Message, } | { "kind": "message_deleted", channel: string, message_id: number, seq: number, } | { "kind": "reaction", reaction: ReactionChange, } | { "kind": "thread_updated", channel: string, thread: ThreadSummary, } | { "kind": "mention", message: Message, muted: boolean, } | { "kind": "read_receipt", channel: string, user: UserRef, seq: number, } | { "kind": "read", read: ReadState, } | { "kind": "channel_reset", channel: string, } | { "kind": "synced", channel: string, seq: number, } | { "kind": "presence", channel: string, user: UserRef, state: string, status: string, } | { "kind": "typing", channel: string, user: UserRef, typing: boolean, } | { "kind": "member", channel: string, user: UserRef, joined: boolean, } | { "kind": "comment_mention", doc: string, comment_id: number, by: UserRef, ts: number, } | { "kind": "channel_updated", channel: string, topic: string | null, by: UserRef, } | { "kind": "outbox", change: string, entry: OutboxEntry, message: Message | null, } | { "kind": "comment", doc: string, event: CommentEvent, } | { "kind": "doc_updated", doc: string, } | { "kind": "unsubscribed", channel: string, reason: string, } | { "kind": "custom", channel: string, seq: number | null, event: string, data: unknown, publisher: UserRef, };

export type Comment = { id: number, doc: string, 
/**
 * The comment this replies to; replies have no anchor of their own.
 */
parent: number | null, anchor: CommentAnchor | null, 
/**
 * The text that was selected when the comment was made, for display.
 */
quote: string | null, author: UserRef, body: string, 
/**
 * Users mentioned with `@name` in the body (resolved by the server).
 */
mentions: Array<UserRef>, resolved: boolean, resolved_by: UserRef | null, created_at: string, edited_at: string | null, };

export type CommentAnchor = { start: string, end: string, };

export type CommentEvent = { "kind": "comment_created", comment: Comment, } | { "kind": "comment_edited", comment: Comment, } | { "kind": "comment_resolved", comment: Comment, } | { "kind": "comment_deleted", comment_id: number, };

export type ConnectionState = { "state": "connecting", attempt: number, } | { "state": "online", user: UserRef, } | { "state": "offline", retry_at_ms: number, reason: string, } | { "state": "version_mismatch", message: string, } | { "state": "unauthorized" } | { "state": "stopped" };

export type DesktopInfo = { 
/**
 * A tray shows Parley's icon: closing the window can hide it there.
 */
tray: boolean, 
/**
 * Where the autostart entry is written (None: no configuration directory).
 */
autostart_file: string | null, };

export type DocContent = { doc: string, 
/**
 * The named version this is (null for the current content).
 */
version: VersionInfo | null, 
/**
 * The full state, a Yjs v1 update, in standard base64.
 */
update: string, 
/**
 * Root name → its text, by name order, at most `documents.max_content_roots` of them.
 */
text: { [key in string]?: string }, 
/**
 * More roots exist than `text` holds.
 */
truncated: boolean, };

export type DocGone = "deleted" | "forbidden";

export type DocInfo = { id: number, 
/**
 * The name in `/docs/{name}` (letters, digits, `-`, `_`, `.`; 1 to 100 characters).
 */
name: string, title: string | null, 
/**
 * The channel the document belongs to; `None` for workspace documents.
 */
channel: string | null, 
/**
 * Subscribe to this channel for the document's comment events (with `since` to resume).
 */
comments_channel: string, 
/**
 * The role of everyone with access who has no role of their own.
 */
default_role: DocRole, 
/**
 * The asking user's role.
 */
role: DocRole | null, created_by: UserRef | null, created_at: string, };

export type DocPush = { "kind": "update", update: Array<number>, } | { "kind": "awareness", update: Array<number>, } | { "kind": "connected", connected: boolean, } | { "kind": "renamed", name: string, } | { "kind": "gone", reason: DocGone, };

export type DocRole = "viewer" | "commenter" | "editor";

export type DocRoleEntry = { user: UserRef, role: DocRole, };

export type HostInfo = { url: string, lan: boolean, 
/**
 * `https://ADDRESS:PORT` for each of this computer's LAN addresses (LAN hosting only).
 */
join_urls: Array<string>, fingerprint: string | null, state: HostState, };

export type HostState = { "state": "running", restarts: number, last_exit: string | null, } | { "state": "restarting", reason: string, attempt: number, retry_in_ms: number, } | { "state": "failed", reason: string, };

export type InviteInfo = { id: number, uses_left: number, 
/**
 * Unix milliseconds.
 */
expires_at: number, created_by: UserRef, 
/**
 * Unix milliseconds.
 */
created_at: number, };

export type InviteLinkView = { link: string, server: string, fingerprint: string | null, 
/**
 * Unix milliseconds.
 */
expires_at: number, uses: number, 
/**
 * Only people on this computer can use it (a workspace hosted on the loopback address).
 */
this_computer_only: boolean, };

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

export type KeyringState = { "state": "available" } | { "state": "unavailable", reason: string, };

export type Message = { 
/**
 * The message's server id (stable across edits).
 */
id: number, channel: string, 
/**
 * The channel seq of the event that created it.
 */
seq: number, author: UserRef, text: string, 
/**
 * The id the sending client chose (unique per author).
 */
client_id: string, 
/**
 * RFC 3339, UTC, millisecond precision.
 */
created_at: string, 
/**
 * Milliseconds since the Unix epoch (same instant as `created_at`).
 */
ts: number, 
/**
 * When the text was last edited (absent when never).
 */
edited_at?: string | null, 
/**
 * The message was deleted: its text is empty and it is kept only as a place in history.
 */
deleted?: boolean, 
/**
 * For a thread's root message: the thread's summary (in history pages; changes come as
 * `thread_updated` events).
 */
thread?: ThreadSummary | null, 
/**
 * Files attached to the message.
 */
attachments?: Array<Attachment>, 
/**
 * Users this message mentions (`@name`, or everyone for `@channel` / `@here`).
 */
mentions?: Array<number>, 
/**
 * Reactions, by emoji (in history pages; live changes come as `reaction` events).
 */
reactions?: Array<ReactionCount>, };

export type MyStatus = { 
/**
 * `away` or `dnd`.
 */
status: string, 
/**
 * At most 140 characters (the server's limit).
 */
text: string | null, 
/**
 * Cleared at this instant (Unix ms); None: until changed.
 */
until: number | null, };

export type OutboxEntry = { local_id: number, 
/**
 * `message` or `comment`.
 */
kind: string, 
/**
 * The channel (messages) or document (comments).
 */
target: string, 
/**
 * The text (messages) or the comment request as JSON (comments).
 */
body: string, client_id: string, created_at: number, 
/**
 * `pending` or `failed`.
 */
state: string, error_code: string | null, error: string | null, attempts: number, };

export type PresenceEntry = { user: UserRef, 
/**
 * `online`, `away` or `dnd`.
 */
status: string, status_text: string | null, 
/**
 * How many live sessions this user has in the channel.
 */
sessions: number, };

export type PresenceState = "joined" | "left" | "status";

export type PublishPolicy = "members" | "admins" | "bots";

export type ReactionChange = { channel: string, message_id: number, emoji: string, user: UserRef, added: boolean, count: number, };

export type ReactionCount = { emoji: string, count: number, 
/**
 * The ids of the users who reacted (so a client can tell whether its user did).
 */
users: Array<number>, };

export type ReadState = { channel: string, 
/**
 * Everything up to this seq has been read.
 */
last_read: number, 
/**
 * Messages by others after `last_read` (deleted ones not counted).
 */
unread: number, 
/**
 * Of those, the ones that mention this user (by name, `@channel` or `@here`).
 */
mentions: number, 
/**
 * Muted until this instant (Unix milliseconds); `i64::MAX` means forever.
 */
muted_until?: number | null, };

export type ResetCode = { code: string, 
/**
 * Unix milliseconds.
 */
expires_at: number, };

export type SearchHit = { message: Message, 
/**
 * The text with matches between `[` and `]`.
 */
snippet: string, };

export type SearchResults = { 
/**
 * From the local cache (instant, offline too).
 */
local: Array<SearchHit>, 
/**
 * From the server (what the cache does not hold); empty when offline.
 */
server: Array<SearchHit>, 
/**
 * Why the server part is missing, if it is.
 */
server_error: string | null, };

export type SessionStatus = { workspace: Workspace | null, 
/**
 * Signed in as (None: show sign in / register).
 */
user: UserRef | null, keyring: KeyringState, 
/**
 * The connection, when signed in.
 */
connection: ConnectionState | null, };

export type Settings = { 
/**
 * Native notifications at all.
 */
notifications: boolean, 
/**
 * Do not disturb: no notifications until turned off.
 */
do_not_disturb: boolean, 
/**
 * Per channel: `false` turns its notifications off (mentions included). Muting for a
 * time is the server's `mute`, shared by all of the user's devices.
 */
channel_notifications: { [key in string]?: boolean }, 
/**
 * `system` (follow the OS), `light` or `dark`.
 */
theme: string, 
/**
 * The status this user set (away, do not disturb, a text): applied to every connection
 * until changed or until it expires. None: active.
 */
status: MyStatus | null, 
/**
 * Closing the window hides it to the tray (when the desktop shows one) instead of
 * quitting, so notifications keep coming.
 */
close_to_tray: boolean, 
/**
 * Start Parley (hidden in the tray) when the user logs in: an XDG autostart entry.
 */
start_at_login: boolean, };

export type ThreadOpened = { 
/**
 * The thread's channel (`thread#<root id>`): history, send and subscribe work on it.
 */
channel: string, root: Message, thread: ThreadSummary, };

export type ThreadPlace = { channel: string, message_id: number, };

export type ThreadSummary = { root_id: number, channel: string, reply_count: number, last_reply_at: string | null, 
/**
 * Who replied, first repliers first.
 */
participants: Array<number>, };

export type UploadProgress = { sent: number, total: number, };

export type UserInfo = { id: number, name: string, display_name: string | null, avatar: string | null, admin: boolean, disabled: boolean, 
/**
 * Unix milliseconds.
 */
created_at: number, };

export type UserRef = { id: number, name: string, display_name: string | null, avatar: string | null, };

export type VersionInfo = { id: number, doc: string, name: string, created_by: UserRef | null, created_at: string, 
/**
 * Size of the stored state in bytes.
 */
size: number, };

export type Workspace = { 
/**
 * `http://host:port`.
 */
server: string, 
/**
 * True when this computer hosts it (the bundled server, started by the app).
 */
hosted: boolean, };
