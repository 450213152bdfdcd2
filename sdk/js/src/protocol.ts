// Generated from the parley-protocol crate by
// `PARLEY_UPDATE_BINDINGS=1 cargo test -p parley-protocol --features ts --test sdk_bindings`.
// Do not edit: change the Rust type and regenerate.
// 64-bit integers are JSON numbers on the wire, so they are `number` here.

/** The protocol version this SDK speaks (`?v=`). */
export const PROTOCOL_VERSION = 1;

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

export type ChannelSettings = { channel_type?: ChannelType | null, authentication?: Authentication | null, presence?: boolean | null, 
/**
 * Keep at most this many messages (0 = no count limit).
 */
message_history?: number | null, 
/**
 * Drop messages older than this many seconds (0 = keep forever).
 */
message_retention_secs?: number | null, max_participants?: number | null, topic?: string | null, 
/**
 * Members see who read how far (`read_receipt` events after each `mark_read`).
 */
read_receipts?: boolean | null, 
/**
 * Who may publish custom events (default `members`).
 */
publish?: PublishPolicy | null, };

export type ChannelType = "public" | "private" | "presence";

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

export type Credentials = { name: string, password: string, 
/**
 * Registration only: the name shown to others.
 */
display_name?: string | null, 
/**
 * Login: a label for the token (e.g. the device), shown in token lists.
 */
device?: string | null, 
/**
 * Registration only: the invite code (`inv_…`), needed when the server registers by
 * invitation (`accounts.registration = "invite"`).
 */
invite?: string | null, };

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

export type DocRole = "viewer" | "commenter" | "editor";

export type DocRoleEntry = { user: UserRef, role: DocRole, };

export type ErrorBody = { code: ErrorCode, message: string, 
/**
 * For `rate_limited`: how long to wait before trying again.
 */
retry_after_ms?: number | null, 
/**
 * The id of the request this answers, when it could be read from the frame.
 */
request_id?: number | null, };

export type ErrorCode = "invalid_json" | "invalid_request" | "unknown_type" | "unauthenticated" | "invalid_credentials" | "forbidden" | "channel_not_found" | "channel_exists" | "invalid_channel_name" | "channel_full" | "channel_limit" | "not_member" | "not_subscribed" | "message_empty" | "message_too_long" | "invalid_client_id" | "rate_limited" | "user_not_found" | "user_exists" | "invalid_user" | "registration_closed" | "server_busy" | "version_mismatch" | "origin_not_allowed" | "realtime_disabled" | "already_authenticated" | "shutting_down" | "internal" | "doc_not_found" | "doc_exists" | "invalid_doc_name" | "comment_not_found" | "invalid_comment" | "version_not_found" | "message_not_found" | "invalid_emoji" | "attachment_too_large" | "quota_exceeded" | "attachment_not_found" | "limit_reached" | "query_too_broad" | "upload_conflict" | "host_not_allowed" | "too_many_connections" | "token_scope" | "token_not_found" | "invalid_invite" | "account_disabled" | "invalid_reset_code" | "invalid_image" | "invalid_event" | "event_too_large" | "webhook_not_found" | "analytics_disabled" | "invalid_webhook" | "web_not_built" | "csrf_rejected";

export type Event = { "kind": "message", message: Message, } | { "kind": "member_joined", user: UserRef, } | { "kind": "member_left", user: UserRef, } | { "kind": "channel_updated", topic: string | null, by: UserRef, } | { "kind": "presence", state: PresenceState, user: UserRef, status: string, status_text: string | null, } | { "kind": "typing", user: UserRef, typing: boolean, expires_in_ms: number, } | { "kind": "unsubscribed", reason: string, } | { "kind": "message_edited", message: Message, } | { "kind": "message_deleted", message_id: number, message_seq: number, by: UserRef, } | { "kind": "reaction", reaction: ReactionChange, } | { "kind": "thread_updated", thread: ThreadSummary, } | { "kind": "mention", message: Message, muted: boolean, } | { "kind": "comment_mention", doc: string, comment_id: number, by: UserRef, ts: number, } | { "kind": "read_receipt", user: UserRef, seq: number, } | { "kind": "read", read: ReadState, } | { "kind": "comment_created", comment: Comment, } | { "kind": "comment_edited", comment: Comment, } | { "kind": "comment_resolved", comment: Comment, } | { "kind": "comment_deleted", comment_id: number, } | { "kind": "custom", event: string, data: unknown, publisher: UserRef, };

export type EventFrame = { channel: string, 
/**
 * Present on durable events only.
 */
seq?: number | null, } & ({ "kind": "message", message: Message, } | { "kind": "member_joined", user: UserRef, } | { "kind": "member_left", user: UserRef, } | { "kind": "channel_updated", topic: string | null, by: UserRef, } | { "kind": "presence", state: PresenceState, user: UserRef, status: string, status_text: string | null, } | { "kind": "typing", user: UserRef, typing: boolean, expires_in_ms: number, } | { "kind": "unsubscribed", reason: string, } | { "kind": "message_edited", message: Message, } | { "kind": "message_deleted", message_id: number, message_seq: number, by: UserRef, } | { "kind": "reaction", reaction: ReactionChange, } | { "kind": "thread_updated", thread: ThreadSummary, } | { "kind": "mention", message: Message, muted: boolean, } | { "kind": "comment_mention", doc: string, comment_id: number, by: UserRef, ts: number, } | { "kind": "read_receipt", user: UserRef, seq: number, } | { "kind": "read", read: ReadState, } | { "kind": "comment_created", comment: Comment, } | { "kind": "comment_edited", comment: Comment, } | { "kind": "comment_resolved", comment: Comment, } | { "kind": "comment_deleted", comment_id: number, } | { "kind": "custom", event: string, data: unknown, publisher: UserRef, });

export type Hello = { protocol: number, server_version: string, 
/**
 * Unique per connection; appears in the server's logs.
 */
session_id: string, 
/**
 * The signed-in user, or null for an anonymous session (send `auth` to sign in).
 */
user: UserRef | null, ping_interval_ms: number, limits: Limits, 
/**
 * Channels this session was subscribed to on its own (`auto_subscribe`), from their head.
 */
subscriptions: Array<SubscribeResult>, 
/**
 * The batch window asked for at connect (`batch_ms`), when batched: every frame on this
 * connection, this one included, is then a JSON array of frames.
 */
batch_ms?: number, };

export type HistoryPage = { channel: string, epoch: string, 
/**
 * Newest first.
 */
messages: Array<Message>, 
/**
 * More, older messages exist: ask again with `before` = the smallest seq here.
 */
has_more: boolean, };

export type Limits = { max_frame_size: number, max_message_length: number, channel_limit: number, typing_ttl_ms: number, };

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

export type Op = { "type": "auth", token: string, } | { "type": "ping" } | { "type": "channel_list" } | { "type": "channel_create", channel: string, channel_type?: ChannelType | null, authentication?: Authentication | null, presence?: boolean | null, 
/**
 * Keep at most this many messages (0 = no count limit).
 */
message_history?: number | null, 
/**
 * Drop messages older than this many seconds (0 = keep forever).
 */
message_retention_secs?: number | null, max_participants?: number | null, topic?: string | null, 
/**
 * Members see who read how far (`read_receipt` events after each `mark_read`).
 */
read_receipts?: boolean | null, 
/**
 * Who may publish custom events (default `members`).
 */
publish?: PublishPolicy | null, } | { "type": "channel_join", channel: string, } | { "type": "channel_leave", channel: string, } | { "type": "channel_invite", channel: string, user: string, } | { "type": "channel_update", channel: string, topic: string, } | { "type": "channel_members", channel: string, after?: number | null, limit?: number | null, } | { "type": "subscribe", channel: string, since?: number | null, epoch?: string | null, } | { "type": "unsubscribe", channel: string, } | { "type": "send", channel: string, text: string, client_id: string, 
/**
 * Attachments uploaded by this user (`POST /api/attachments`) to post with the text.
 */
attachments?: Array<number>, } | { "type": "history", channel: string, before?: number | null, limit?: number | null, } | { "type": "presence_list", channel: string, } | { "type": "typing", channel: string, } | { "type": "set_status", status: string, text?: string | null, } | { "type": "message_edit", channel: string, message_id: number, text: string, } | { "type": "message_delete", channel: string, message_id: number, } | { "type": "reaction_add", channel: string, message_id: number, emoji: string, } | { "type": "reaction_remove", channel: string, message_id: number, emoji: string, } | { "type": "search", query: string, 
/**
 * Only this channel.
 */
channel?: string | null, 
/**
 * Only messages by this user (name).
 */
author?: string | null, 
/**
 * Only messages at or after / before these instants (Unix milliseconds).
 */
after?: number | null, before?: number | null, limit?: number | null, } | { "type": "dm_open", users: Array<string>, } | { "type": "mark_read", channel: string, seq: number, } | { "type": "mute", channel: string, until?: number | null, } | { "type": "unmute", channel: string, } | { "type": "unread" } | { "type": "thread_open", channel: string, message_id: number, } | { "type": "publish", channel: string, event: string, data: unknown, durable: boolean, client_id?: string | null, user?: string | null, };

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

export type PublishResult = { channel: string, 
/**
 * The event's seq in the channel's log (durable events only).
 */
seq?: number | null, 
/**
 * True when this `client_id` had been published before: nothing was published again.
 */
duplicate: boolean, };

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

export type Reply = { "op": "auth", "result": { user: UserRef, 
/**
 * Auto-subscribed channels, as in `hello`.
 */
subscriptions: Array<SubscribeResult>, } } | { "op": "ping", "result": { server_time: number, } } | { "op": "channel_list", "result": { channels: Array<ChannelInfo>, } } | { "op": "channel_create", "result": { channel: ChannelInfo, } } | { "op": "channel_join", "result": { channel: ChannelInfo, } } | { "op": "channel_leave", "result": { channel: string, } } | { "op": "channel_invite", "result": { channel: string, user: UserRef, } } | { "op": "channel_update", "result": { channel: ChannelInfo, } } | { "op": "channel_members", "result": { channel: string, members: Array<ChannelMember>, 
/**
 * More members follow: ask again with `after` = the last `user.id` here.
 */
has_more: boolean, } } | { "op": "subscribe", "result": SubscribeResult } | { "op": "unsubscribe", "result": { channel: string, } } | { "op": "send", "result": SendResult } | { "op": "publish", "result": PublishResult } | { "op": "history", "result": HistoryPage } | { "op": "presence_list", "result": { channel: string, presence: Array<PresenceEntry>, } } | { "op": "typing", "result": { channel: string, } } | { "op": "set_status", "result": { status: string, } } | { "op": "message_edit", "result": { message: Message, } } | { "op": "message_delete", "result": { channel: string, message_id: number, } } | { "op": "reaction_add", "result": ReactionChange } | { "op": "reaction_remove", "result": ReactionChange } | { "op": "search", "result": { hits: Array<SearchHit>, } } | { "op": "dm_open", "result": { channel: ChannelInfo, } } | { "op": "mark_read", "result": ReadState } | { "op": "mute", "result": ReadState } | { "op": "unmute", "result": ReadState } | { "op": "unread", "result": { channels: Array<ReadState>, } } | { "op": "thread_open", "result": { root: Message, thread: ThreadSummary, } };

export type ResetReason = "epoch_changed" | "history_truncated";

export type SearchHit = { message: Message, snippet: string, };

export type SendResult = { message: Message, 
/**
 * True when this `client_id` had been sent before: `message` is the original.
 */
duplicate: boolean, };

export type ServerFrame = { "type": "hello" } & Hello | { "type": "reply", id: number, } & ({ "op": "auth", "result": { user: UserRef, 
/**
 * Auto-subscribed channels, as in `hello`.
 */
subscriptions: Array<SubscribeResult>, } } | { "op": "ping", "result": { server_time: number, } } | { "op": "channel_list", "result": { channels: Array<ChannelInfo>, } } | { "op": "channel_create", "result": { channel: ChannelInfo, } } | { "op": "channel_join", "result": { channel: ChannelInfo, } } | { "op": "channel_leave", "result": { channel: string, } } | { "op": "channel_invite", "result": { channel: string, user: UserRef, } } | { "op": "channel_update", "result": { channel: ChannelInfo, } } | { "op": "channel_members", "result": { channel: string, members: Array<ChannelMember>, 
/**
 * More members follow: ask again with `after` = the last `user.id` here.
 */
has_more: boolean, } } | { "op": "subscribe", "result": SubscribeResult } | { "op": "unsubscribe", "result": { channel: string, } } | { "op": "send", "result": SendResult } | { "op": "publish", "result": PublishResult } | { "op": "history", "result": HistoryPage } | { "op": "presence_list", "result": { channel: string, presence: Array<PresenceEntry>, } } | { "op": "typing", "result": { channel: string, } } | { "op": "set_status", "result": { status: string, } } | { "op": "message_edit", "result": { message: Message, } } | { "op": "message_delete", "result": { channel: string, message_id: number, } } | { "op": "reaction_add", "result": ReactionChange } | { "op": "reaction_remove", "result": ReactionChange } | { "op": "search", "result": { hits: Array<SearchHit>, } } | { "op": "dm_open", "result": { channel: ChannelInfo, } } | { "op": "mark_read", "result": ReadState } | { "op": "mute", "result": ReadState } | { "op": "unmute", "result": ReadState } | { "op": "unread", "result": { channels: Array<ReadState>, } } | { "op": "thread_open", "result": { root: Message, thread: ThreadSummary, } }) | { "type": "error", id: number | null, code: ErrorCode, message: string, 
/**
 * For `rate_limited`: how long to wait before trying again.
 */
retry_after_ms?: number | null, 
/**
 * The id of the request this answers, when it could be read from the frame.
 */
request_id?: number | null, } | { "type": "event" } & EventFrame | { "type": "synced" } & Synced;

export type Session = { token: string, user: UserRef, };

export type SubscribeResult = { channel: string, epoch: string, 
/**
 * The newest seq at the moment of subscribing; the backlog ends here.
 */
head: number, 
/**
 * The oldest seq that can still be delivered (1 when nothing was ever removed).
 */
oldest_seq: number, 
/**
 * How many backlog events follow this reply (before the `synced` frame).
 */
backlog: number, 
/**
 * Set when `since` could not be honoured exactly.
 */
reset?: ResetReason | null, 
/**
 * Who is here, for presence-enabled channels.
 */
presence?: Array<PresenceEntry> | null, };

export type Synced = { channel: string, epoch: string, seq: number, };

export type ThreadSummary = { root_id: number, channel: string, reply_count: number, last_reply_at: string | null, 
/**
 * Who replied, first repliers first.
 */
participants: Array<number>, };

export type UserRef = { id: number, name: string, display_name: string | null, avatar: string | null, };
