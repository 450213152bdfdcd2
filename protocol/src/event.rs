//! Channel events: durable ones (with a `seq`) and ephemeral ones (without).

use serde::{Deserialize, Serialize};

/// A user as shown next to their messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UserRef {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
}

/// A stored chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Message {
    /// The message's server id (stable across edits).
    pub id: i64,
    pub channel: String,
    /// The channel seq of the event that created it.
    pub seq: u64,
    pub author: UserRef,
    pub text: String,
    /// The id the sending client chose (unique per author).
    pub client_id: String,
    /// RFC 3339, UTC, millisecond precision.
    pub created_at: String,
    /// Milliseconds since the Unix epoch (same instant as `created_at`).
    pub ts: i64,
    /// When the text was last edited (absent when never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// The message was deleted: its text is empty and it is kept only as a place in history.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// For a thread's root message: the thread's summary (in history pages; changes come as
    /// `thread_updated` events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<Box<ThreadSummary>>,
    /// Files attached to the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Users this message mentions (`@name`, or everyone for `@channel` / `@here`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<i64>,
    /// Reactions, by emoji (in history pages; live changes come as `reaction` events).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionCount>,
}

/// A thread under a message: its replies live in the channel `channel` (`thread#<root id>`),
/// subscribed to and resumed like any channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ThreadSummary {
    pub root_id: i64,
    pub channel: String,
    pub reply_count: u64,
    #[serde(default)]
    pub last_reply_at: Option<String>,
    /// Who replied, first repliers first.
    pub participants: Vec<i64>,
}

/// An uploaded file. Its bytes are at `GET /api/attachments/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Attachment {
    pub id: i64,
    /// The name the uploader gave (display only).
    pub name: String,
    /// Sniffed from the content by the server, never taken from the uploader.
    pub mime: String,
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// For images: pixel dimensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// For images: a PNG at most 320 pixels on its longer side at
    /// `GET /api/attachments/{id}/thumbnail`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub thumbnail: bool,
}

/// How many users reacted to a message with one emoji, and who.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReactionCount {
    pub emoji: String,
    pub count: u64,
    /// The ids of the users who reacted (so a client can tell whether its user did).
    pub users: Vec<i64>,
}

/// One user's reaction added or removed, with the new total for that emoji.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReactionChange {
    pub channel: String,
    pub message_id: i64,
    pub emoji: String,
    pub user: UserRef,
    pub added: bool,
    pub count: u64,
}

/// Presence state of a user in a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    Joined,
    Left,
    Status,
}

/// One present user in a presence snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PresenceEntry {
    pub user: UserRef,
    /// `online`, `away` or `dnd`.
    pub status: String,
    #[serde(default)]
    pub status_text: Option<String>,
    /// How many live sessions this user has in the channel.
    pub sessions: u32,
}

/// What happened in a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Durable: a message was posted.
    Message { message: Message },
    /// Durable: a user became a member.
    MemberJoined { user: UserRef },
    /// Durable: a user stopped being a member.
    MemberLeft { user: UserRef },
    /// Durable: the channel's topic was set (`None`: cleared) by `by`.
    ChannelUpdated {
        #[serde(default)]
        topic: Option<String>,
        by: UserRef,
    },
    /// Ephemeral: presence changed (`joined`, `left`, or a `status` change).
    Presence {
        state: PresenceState,
        user: UserRef,
        status: String,
        #[serde(default)]
        status_text: Option<String>,
    },
    /// Ephemeral: a user started (`typing: true`) or stopped typing. A `true` lasts
    /// `expires_in_ms` unless renewed.
    Typing {
        user: UserRef,
        typing: bool,
        expires_in_ms: u64,
    },
    /// Ephemeral: the server ended this session's subscription (`access_revoked` when the user
    /// lost access, `channel_deleted`). Not sent for the client's own `unsubscribe`.
    Unsubscribed { reason: String },
    /// Durable: a message's text was edited (the message as it is now).
    MessageEdited { message: Box<Message> },
    /// Durable: a message was deleted; drop its content (`seq` is the message's own seq).
    MessageDeleted {
        message_id: i64,
        message_seq: u64,
        by: UserRef,
    },
    /// Durable: a reaction was added or removed.
    Reaction { reaction: ReactionChange },
    /// Durable, on the thread's parent channel: a reply was added to a thread.
    ThreadUpdated { thread: ThreadSummary },
    /// Durable, on the user's personal channel `@me`: a message mentions them (`muted` when
    /// they muted that channel: count it, do not notify).
    Mention { message: Box<Message>, muted: bool },
    /// Durable, on the user's personal channel `@me`: `by` mentioned them in a comment (or
    /// reply) on document `doc`, at `ts` (Unix ms). The comment's text stays on the document
    /// (read it there, with its access rules), so deleting the comment leaves nothing here.
    CommentMention {
        doc: String,
        comment_id: i64,
        by: UserRef,
        ts: i64,
    },
    /// Durable, in channels created with `read_receipts`: a member read up to `seq`.
    ReadReceipt { user: UserRef, seq: u64 },
    /// Durable, on `@me`: the user read a channel up to `seq` (on any of their devices).
    Read { read: crate::ReadState },
    /// Durable, on a document's comments channel: a comment or reply was added.
    CommentCreated { comment: Box<crate::Comment> },
    /// Durable: a comment's text was edited by its author.
    CommentEdited { comment: Box<crate::Comment> },
    /// Durable: a comment was resolved (`resolved: true`) or reopened.
    CommentResolved { comment: Box<crate::Comment> },
    /// Durable: a comment was deleted (its replies with it).
    CommentDeleted { comment_id: i64 },
    /// An application's own event (`publish`): its name, its data (any JSON) and who published
    /// it. Durable when it was published with `durable: true` (the frame then has a `seq`),
    /// ephemeral otherwise (shed first when a subscriber falls behind).
    Custom {
        event: String,
        #[cfg_attr(feature = "ts", ts(type = "unknown"))]
        data: serde_json::Value,
        publisher: UserRef,
    },
}

impl Event {
    /// The Standard Webhooks type of this event (`message.created`, `custom.<name>`...), when
    /// it is one outbound webhooks deliver.
    pub fn webhook_type(&self) -> Option<String> {
        let kind = match self {
            Event::Message { .. } => "message.created",
            Event::MessageEdited { .. } => "message.edited",
            Event::MessageDeleted { .. } => "message.deleted",
            Event::Reaction { reaction } if reaction.added => "reaction.added",
            Event::MemberJoined { .. } => "member.joined",
            Event::MemberLeft { .. } => "member.left",
            Event::ChannelUpdated { .. } => "channel.updated",
            Event::Presence { .. } => "presence.changed",
            Event::CommentCreated { .. } => "comment.created",
            Event::CommentResolved { comment } if comment.resolved => "comment.resolved",
            Event::Custom { event, .. } => return Some(format!("custom.{event}")),
            _ => return None,
        };
        Some(kind.to_owned())
    }

    /// Durable events are stored and get a seq; ephemeral ones are neither.
    pub fn is_durable(&self) -> bool {
        matches!(
            self,
            Event::Message { .. }
                | Event::MessageEdited { .. }
                | Event::MessageDeleted { .. }
                | Event::Reaction { .. }
                | Event::ThreadUpdated { .. }
                | Event::Mention { .. }
                | Event::CommentMention { .. }
                | Event::ReadReceipt { .. }
                | Event::Read { .. }
                | Event::MemberJoined { .. }
                | Event::MemberLeft { .. }
                | Event::ChannelUpdated { .. }
                | Event::CommentCreated { .. }
                | Event::CommentEdited { .. }
                | Event::CommentResolved { .. }
                | Event::CommentDeleted { .. }
        )
    }
}

/// `{"type":"event","channel":"team:general","seq":12,"kind":"message",...}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EventFrame {
    pub channel: String,
    /// Present on durable events only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(flatten)]
    pub event: Event,
}
