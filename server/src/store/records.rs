//! What the store hands out and takes in: domain records (never database rows), shared by every
//! implementation of the store traits.

use parley_protocol::{
    Attachment, Authentication, ChannelType, CommentAnchor, DocRole, Event, Message, PublishPolicy,
    UserRef,
};

use crate::error::Result;

/// A durable event that has been committed and must now reach the channel's subscribers.
#[derive(Debug, Clone)]
pub struct Published {
    pub channel_id: i64,
    pub seq: u64,
    /// The event frame as JSON text, serialized once: storage hands bytes to whoever delivers
    /// them (the hub wraps it once per event, without copying, and every subscriber gets the
    /// same bytes) and knows nothing of the transport.
    pub frame: String,
    /// The user whose action produced it, when there is one.
    pub author_id: Option<i64>,
}

/// A stored durable event.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: u64,
    /// The frame subscribers received, as JSON text.
    pub frame: String,
}

/// Where a channel's log stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPosition {
    /// The newest committed seq (0 when none).
    pub head: u64,
    /// Events up to here were removed by retention.
    pub pruned_through: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRecord {
    pub id: i64,
    pub name: String,
    pub kind: ChannelType,
    pub authentication: Authentication,
    pub presence: bool,
    /// None: the instance default.
    pub message_history: Option<u64>,
    pub message_retention_secs: Option<u64>,
    pub user_specific: bool,
    pub auto_subscribe: bool,
    pub max_participants: Option<u32>,
    pub topic: Option<String>,
    /// For a user's personal instance of a `user_specific` channel: that user.
    pub owner_id: Option<i64>,
    pub template_id: Option<i64>,
    pub epoch: String,
    pub head_seq: u64,
    pub pruned_through: u64,
    /// For a document's comments channel: the document.
    pub doc_id: Option<i64>,
    /// For a document's comments channel: the channel the document belongs to, if any; for a
    /// thread: the channel of its root message.
    pub parent_id: Option<i64>,
    /// For a thread's channel: the root message.
    pub thread_root: Option<i64>,
    /// Who may publish custom events.
    pub publish: PublishPolicy,
}

impl ChannelRecord {
    /// A channel every account joins when it is created: public, auto-subscribed and
    /// workspace-wide (not a personal channel or its template, not a thread's or a document's
    /// channel). The workspace's first channel is one (`[workspace] first_channel`).
    pub fn everyone_joins(&self) -> bool {
        self.kind == ChannelType::Public
            && self.auto_subscribe
            && !self.user_specific
            && self.owner_id.is_none()
            && self.template_id.is_none()
            && self.parent_id.is_none()
            && self.doc_id.is_none()
            && self.thread_root.is_none()
    }
}

/// What is needed to create a channel (or apply a configured one).
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub name: String,
    pub kind: ChannelType,
    pub authentication: Authentication,
    pub presence: bool,
    pub message_history: Option<u64>,
    pub message_retention_secs: Option<u64>,
    pub user_specific: bool,
    pub auto_subscribe: bool,
    pub max_participants: Option<u32>,
    pub topic: Option<String>,
    /// Who may publish custom events.
    pub publish: PublishPolicy,
}

/// A member's role in a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRole {
    Admin,
    Member,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Admin => "admin",
            MemberRole::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Self {
        if text == "admin" {
            MemberRole::Admin
        } else {
            MemberRole::Member
        }
    }
}

/// One user's membership of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub channel_id: i64,
    pub user_id: i64,
    pub role: MemberRole,
}

/// Every channel and membership, for loading the directory at start.
#[derive(Debug, Clone, Default)]
pub struct ChannelDirectory {
    pub channels: Vec<ChannelRecord>,
    pub members: Vec<Membership>,
}

/// A channel with its members.
#[derive(Debug, Clone)]
pub struct ChannelWithMembers {
    pub record: ChannelRecord,
    pub members: Vec<(i64, MemberRole)>,
}

/// A channel created by a user: they become its admin and a `member_joined` event is its
/// first. `limit` is the user's `channels_per_user` (or `dms_per_user` for a `dm:` name),
/// counted inside the write; None for workspace admins.
#[derive(Debug, Clone)]
pub struct CreateChannel {
    pub channel: NewChannel,
    pub creator: UserRef,
    pub read_receipts: bool,
    pub limit: Option<u64>,
}

/// A channel found by name or created with these settings: the `@me` template, a user's
/// personal instance (`owner`: the user and the template).
#[derive(Debug, Clone)]
pub struct EnsureChannel {
    pub channel: NewChannel,
    pub created_by: Option<i64>,
    pub owner: Option<(i64, i64)>,
}

/// A user joining a channel (`member_joined`); refused with `channel_full` at
/// `max_participants`, counted inside the write.
#[derive(Debug, Clone)]
pub struct Join {
    pub channel_id: i64,
    pub channel_name: String,
    pub user: UserRef,
    pub max_participants: Option<u32>,
}

/// A durable event to append to a channel's log.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub channel_id: i64,
    pub channel_name: String,
    pub event: Event,
    pub author_id: Option<i64>,
}

/// A durable custom event, published once per (publisher, `client_id`).
#[derive(Debug, Clone)]
pub struct CustomEvent {
    pub channel_id: i64,
    pub channel_name: String,
    pub publisher_id: i64,
    pub client_id: Option<String>,
    pub event: Event,
}

/// What storing a [`CustomEvent`] did: its seq, and whether its `client_id` was published
/// before (then `seq` is the first one's and nothing was stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomStored {
    pub seq: u64,
    pub duplicate: bool,
}

/// A mentioned user, with where to tell them (their personal channel `@me`).
#[derive(Debug, Clone)]
pub struct MentionNotice {
    pub user_id: i64,
    pub personal_channel_id: i64,
    pub personal_channel: String,
    pub muted: bool,
}

/// The thread a reply goes into: its root message and the root's channel.
#[derive(Debug, Clone)]
pub struct ThreadReply {
    pub root_id: i64,
    pub parent_id: i64,
    pub parent_name: String,
}

/// A message to send, checked by the caller (access, text, attachments owned by the author,
/// mentioned users who may read the channel). In the send's one transaction: the message
/// (unless this author sent this `client_id` before), its mentions with one `mention` event on
/// each mentioned user's `@me`, its attachment links, and for a thread reply the root's
/// summary with a `thread_updated` event on the root's channel.
#[derive(Debug, Clone)]
pub struct PostMessage {
    pub channel_id: i64,
    pub channel_name: String,
    pub author: UserRef,
    pub text: String,
    pub client_id: String,
    pub mentions: Vec<MentionNotice>,
    pub attachments: Vec<i64>,
    pub thread: Option<ThreadReply>,
}

/// The result of a send.
#[derive(Debug, Clone)]
pub struct AppendOutcome {
    pub message: Message,
    /// The (author, client_id) pair had been stored before; `message` is the original.
    pub duplicate: bool,
}

/// An edit of one's own message (`forbidden` for anyone else's).
#[derive(Debug, Clone)]
pub struct MessageEdit {
    pub channel_id: i64,
    pub message_id: i64,
    pub text: String,
    pub editor: i64,
}

/// A delete: by the message's author, or by a channel manager (`as_manager`).
#[derive(Debug, Clone)]
pub struct MessageDelete {
    pub channel_id: i64,
    pub message_id: i64,
    pub by: UserRef,
    pub as_manager: bool,
}

/// One user's reaction to add or remove.
#[derive(Debug, Clone)]
pub struct ReactionUpdate {
    pub channel_id: i64,
    pub message_id: i64,
    pub user: UserRef,
    pub emoji: String,
    pub add: bool,
}

/// A page of history, newest first.
#[derive(Debug, Clone)]
pub struct HistorySlice {
    pub messages: Vec<Message>,
    /// Older messages exist.
    pub has_more: bool,
}

/// A user's place in a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadPosition {
    pub last_read: u64,
    pub muted_until: Option<i64>,
}

/// A read position with what is unread after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadCounts {
    pub position: ReadPosition,
    /// Messages by others after `last_read`, not deleted.
    pub unread: u64,
    /// Of those, the ones that mention the user.
    pub mentions: u64,
}

/// A read position to record (never moving back); with read receipts on, members see it as a
/// `read_receipt` event.
#[derive(Debug, Clone)]
pub struct ReadMark {
    pub user: UserRef,
    pub channel_id: i64,
    pub channel_name: String,
    pub seq: u64,
}

/// A thread as `thread_open` answers it.
#[derive(Debug, Clone)]
pub struct OpenedThread {
    pub root: Message,
    pub channel: ChannelRecord,
    pub summary: parley_protocol::ThreadSummary,
}

/// A search, already restricted to the channels the user may read.
pub struct SearchRequest {
    pub query: String,
    pub channels: Vec<i64>,
    pub author_id: Option<i64>,
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: u32,
    /// Finding and ranking stop after this long, with `query_too_broad`.
    pub timeout: std::time::Duration,
    /// Held until the search's work ends, even when the caller stops waiting (a place at the
    /// search gate, so that no more searches run at once than it allows).
    pub admission: Option<Box<dyn std::any::Any + Send>>,
}

/// An attachment with its uploader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    pub attachment: Attachment,
    pub uploader_id: i64,
}

/// An attachment and the channels where a (not deleted) message carries it.
#[derive(Debug, Clone)]
pub struct AttachmentAccess {
    pub stored: StoredAttachment,
    pub channels: Vec<i64>,
}

/// A new attachment row. `quota` is the uploader's, checked inside the write (concurrent
/// uploads cannot both pass).
#[derive(Debug, Clone)]
pub struct AttachmentUpload {
    pub sha256: String,
    pub size: u64,
    pub mime: String,
    pub name: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub uploader_id: i64,
    pub quota: u64,
    pub thumbnail_sha256: Option<String>,
}

/// Runs inside the write that inserts an attachment's row, after the row and before the
/// commit (the files go into place); an error undoes the write.
pub type PlaceFiles = Box<dyn FnOnce() -> Result<()> + Send>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub name: String,
    pub display_name: Option<String>,
    pub avatar: Option<String>,
    pub is_admin: bool,
}

impl UserRecord {
    pub fn to_ref(&self) -> UserRef {
        UserRef {
            id: self.id,
            name: self.name.clone(),
            display_name: self.display_name.clone(),
            avatar: self.avatar.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: i64,
    pub user: UserRecord,
    /// A scoped token (a bot's) may act only within this scope.
    pub scope: Option<std::sync::Arc<parley_protocol::api::TokenScope>>,
    /// Milliseconds since the epoch; an expired token is not found.
    pub expires_at: Option<i64>,
}

/// A user to create. User names are unique without regard to ASCII case. `name_key` is the
/// look-alike key of the name; `display_key` that of the display name, which must not equal
/// another user's `name_key` (checked in the insert's transaction).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub name_key: String,
    pub display_name: Option<String>,
    pub display_key: Option<String>,
    pub password_hash: String,
    pub is_admin: bool,
}

/// A bearer token to store: its SHA-256 and a label, and for a scoped or expiring token its
/// scope and expiry (milliseconds since the epoch).
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    pub hash: Vec<u8>,
    pub label: String,
    pub scope: Option<parley_protocol::api::TokenScope>,
    pub expires_at: Option<i64>,
}

/// A live token as its owner's token list shows it (`TokenStore::list_tokens`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub id: i64,
    pub label: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub scope: Option<parley_protocol::api::TokenScope>,
}

/// What issuing a token under the per-user cap came to: its id, and the tokens revoked to make
/// room (when the caller asked for that rather than a refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub id: i64,
    pub evicted: Vec<i64>,
}

/// What creating a user came to.
#[derive(Debug, Clone)]
pub enum UserCreation {
    Created(UserRecord),
    /// The display name passes for the user name of `other`; nothing was written.
    LooksLike(String),
}

/// The account rules the store applies when it repairs stored users (pure functions of the
/// accounts area).
#[derive(Clone, Copy)]
pub struct UserRules {
    /// The look-alike key of a name.
    pub name_key: fn(&str) -> String,
    /// A stored display name brought under the current rules (None: nothing is left).
    pub repaired: fn(&str) -> Option<String>,
}

#[derive(Debug, Clone)]
pub struct DocRecord {
    pub id: i64,
    pub name: String,
    pub title: Option<String>,
    /// The channel the document belongs to (None: the workspace).
    pub channel_id: Option<i64>,
    pub default_role: DocRole,
    pub created_by: Option<i64>,
    /// The creator as shown to clients (None once the account is gone).
    pub creator: Option<UserRef>,
    pub created_at: i64,
}

/// Roles granted on a document: (user id, role).
pub type Grants = Vec<(i64, DocRole)>;

/// A document to create with its comments channel (`doc#<id>`). `limit` is the creator's
/// `documents_per_user`, counted inside the write; None for workspace admins.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub name: String,
    pub title: Option<String>,
    pub channel_id: Option<i64>,
    pub default_role: DocRole,
    pub created_by: i64,
    pub limit: Option<u64>,
}

/// The stored state: the snapshot (if any) and the updates logged after it, in order.
#[derive(Debug, Clone, Default)]
pub struct StoredDoc {
    pub snapshot: Option<Vec<u8>>,
    pub updates: Vec<Vec<u8>>,
    /// The id of the last logged update (0 when none); compaction removes up to it.
    pub last_update: i64,
}

/// A named version to save: refused with `limit_reached` at `max_versions` versions of the
/// document, or when the saver's version bytes would pass `max_bytes` (None: no limit).
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub doc_id: i64,
    pub doc_name: String,
    pub name: String,
    pub state: Vec<u8>,
    pub created_by: i64,
    pub max_versions: u64,
    pub max_bytes: Option<u64>,
}

/// A comment row as stored (ids, not user records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRow {
    pub id: i64,
    pub doc_id: i64,
    pub parent_id: Option<i64>,
    pub author_id: i64,
}

/// The document a comment operation is on, with its comments channel (where the comment's
/// durable events go).
#[derive(Debug, Clone)]
pub struct CommentsOf {
    pub doc_id: i64,
    pub doc_name: String,
    pub channel_id: i64,
    pub channel_name: String,
}

/// A new comment or reply, checked by the caller (body, anchor, quote). `mention_names` are
/// resolved to users inside the write.
#[derive(Debug, Clone)]
pub struct CommentPost {
    pub parent: Option<i64>,
    pub author_id: i64,
    pub anchor: Option<CommentAnchor>,
    pub quote: Option<String>,
    pub body: String,
    pub mention_names: Vec<String>,
    pub client_id: Option<String>,
}

/// A resumable upload session to open (`UploadSessionStore`).
#[derive(Debug, Clone)]
pub struct NewUploadSession {
    pub id: String,
    pub user_id: i64,
    pub name: String,
    pub size: u64,
    /// Sessions started before this (ms) have expired: they do not count against the limit.
    pub live_after_ms: i64,
}

/// A resumable upload session as stored.
#[derive(Debug, Clone)]
pub struct UploadSessionRow {
    pub id: String,
    pub user_id: i64,
    pub name: String,
    pub size: u64,
    pub received: u64,
    pub started_at: i64,
}
