//! What the client reports: the connection's state and the events the UI and the command line
//! follow (everything is in the cache before its event is sent).

use parley_protocol::{Comment, Message, ReactionChange, ReadState, ThreadSummary, UserRef};
use serde::Serialize;

use crate::OutboxEntry;

/// Where the connection stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    Connecting {
        attempt: u32,
    },
    Online {
        user: UserRef,
    },
    /// Not connected; the next attempt is at `retry_at_ms` (Unix milliseconds).
    Offline {
        retry_at_ms: i64,
        reason: String,
    },
    /// The server speaks another protocol version: upgrade the client (or the server).
    VersionMismatch {
        message: String,
    },
    /// The token was refused: sign in again.
    Unauthorized,
    Stopped,
}

/// What changed, for the UI and the command line.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClientEvent {
    Connection {
        state: ConnectionState,
    },
    /// A message was stored (from the server: live, backlog, history or a send's answer).
    Message {
        message: Message,
    },
    /// A message's text was edited (the cache holds the new text).
    MessageEdited {
        message: Box<Message>,
    },
    /// A message was deleted (removed from the cache and the search index).
    MessageDeleted {
        channel: String,
        message_id: i64,
        seq: u64,
    },
    /// A reaction was added or removed.
    Reaction {
        reaction: ReactionChange,
    },
    /// A thread under a message of `channel` got a reply (the cached root holds the summary).
    ThreadUpdated {
        channel: String,
        thread: ThreadSummary,
    },
    /// A message mentions this user (from the personal channel `@me`; `muted`: do not notify).
    Mention {
        message: Box<Message>,
        muted: bool,
    },
    /// Someone read a channel (created with read receipts) up to `seq`.
    ReadReceipt {
        channel: String,
        user: UserRef,
        seq: u64,
    },
    /// This user's read position or mute changed (on any of their devices, this one too).
    Read {
        read: ReadState,
    },
    /// The channel's history was recreated on the server; its cache was dropped.
    ChannelReset {
        channel: String,
    },
    /// The backlog of a (re)subscription has been delivered.
    Synced {
        channel: String,
        seq: u64,
    },
    Presence {
        channel: String,
        user: UserRef,
        state: String,
        status: String,
    },
    Typing {
        channel: String,
        user: UserRef,
        typing: bool,
    },
    Member {
        channel: String,
        user: UserRef,
        joined: bool,
    },
    /// `by` mentioned this user in a comment on document `doc` (from the personal channel).
    CommentMention {
        doc: String,
        comment_id: i64,
        by: UserRef,
        ts: i64,
    },
    /// The channel's topic was set (None: cleared) by `by`; the cached description has it.
    ChannelUpdated {
        channel: String,
        topic: Option<String>,
        by: UserRef,
    },
    /// The outbox changed: `queued`, `sent` (with the server's message), `failed`, `retried`,
    /// `discarded`.
    Outbox {
        change: String,
        entry: Box<OutboxEntry>,
        message: Option<Box<Message>>,
    },
    /// A comment of document `doc` changed (`doc` is empty for a deletion: its event names
    /// only the comment).
    Comment {
        doc: String,
        event: CommentEvent,
    },
    DocUpdated {
        doc: String,
    },
    /// The server ended a subscription (`access_revoked`, `channel_deleted`).
    Unsubscribed {
        channel: String,
        reason: String,
    },
    /// An application's own event (`publish`); `seq` only when it was published durable.
    Custom {
        channel: String,
        seq: Option<u64>,
        event: String,
        #[cfg_attr(feature = "ts", ts(type = "unknown"))]
        data: serde_json::Value,
        publisher: UserRef,
    },
}

/// A document's comment event, as the server sent it on the document's comments channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommentEvent {
    CommentCreated { comment: Box<Comment> },
    CommentEdited { comment: Box<Comment> },
    CommentResolved { comment: Box<Comment> },
    CommentDeleted { comment_id: i64 },
}
