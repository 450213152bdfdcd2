//! Server → client frames: the greeting, replies, errors, events and resume markers.

use serde::{Deserialize, Serialize};

use crate::{Authentication, ChannelType, ErrorBody, EventFrame, Message, PresenceEntry, UserRef};

/// Every frame the server sends, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection.
    Hello(Hello),
    /// The successful answer to request `id`; `op` names the operation, `result` its data.
    Reply {
        id: u64,
        #[serde(flatten)]
        reply: Reply,
    },
    /// The failed answer to request `id` (`id` is null when the frame could not be read).
    Error {
        id: Option<u64>,
        #[serde(flatten)]
        error: ErrorBody,
    },
    /// Something happened in a subscribed channel.
    Event(EventFrame),
    /// The backlog requested with `since` has been delivered; live events follow.
    Synced(Synced),
}

/// Limits the server enforces, announced in `hello` so clients can check input before sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Limits {
    pub max_frame_size: u64,
    pub max_message_length: u64,
    pub channel_limit: u32,
    pub typing_ttl_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Hello {
    pub protocol: u32,
    pub server_version: String,
    /// Unique per connection; appears in the server's logs.
    pub session_id: String,
    /// The signed-in user, or null for an anonymous session (send `auth` to sign in).
    pub user: Option<UserRef>,
    pub ping_interval_ms: u64,
    pub limits: Limits,
    /// Channels this session was subscribed to on its own (`auto_subscribe`), from their head.
    #[serde(default)]
    pub subscriptions: Vec<SubscribeResult>,
    /// The batch window asked for at connect (`batch_ms`), when batched: every frame on this
    /// connection, this one included, is then a JSON array of frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub batch_ms: Option<u32>,
}

/// Why a subscribe could not simply resume from `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ResetReason {
    /// The channel's history was recreated: the client's `epoch` is from an older history.
    /// Discard the cached history of this channel and reload it.
    EpochChanged,
    /// Events after `since` were removed by retention; the backlog starts at `oldest_seq`.
    HistoryTruncated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelInfo {
    pub name: String,
    #[serde(rename = "channel_type")]
    pub kind: ChannelType,
    pub authentication: Authentication,
    pub presence: bool,
    pub user_specific: bool,
    pub auto_subscribe: bool,
    pub max_participants: Option<u32>,
    pub message_history: u64,
    pub message_retention_secs: u64,
    pub topic: Option<String>,
    pub epoch: String,
    /// The seq of the newest durable event.
    pub head: u64,
    pub member: bool,
    pub member_count: u64,
    /// Who may publish custom events.
    #[serde(default)]
    pub publish: crate::PublishPolicy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SubscribeResult {
    pub channel: String,
    pub epoch: String,
    /// The newest seq at the moment of subscribing; the backlog ends here.
    pub head: u64,
    /// The oldest seq that can still be delivered (1 when nothing was ever removed).
    pub oldest_seq: u64,
    /// How many backlog events follow this reply (before the `synced` frame).
    pub backlog: u64,
    /// Set when `since` could not be honoured exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<ResetReason>,
    /// Who is here, for presence-enabled channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<Vec<PresenceEntry>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SendResult {
    pub message: Message,
    /// True when this `client_id` had been sent before: `message` is the original.
    pub duplicate: bool,
}

/// The answer to `publish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PublishResult {
    pub channel: String,
    /// The event's seq in the channel's log (durable events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// True when this `client_id` had been published before: nothing was published again.
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistoryPage {
    pub channel: String,
    pub epoch: String,
    /// Newest first.
    pub messages: Vec<Message>,
    /// More, older messages exist: ask again with `before` = the smallest seq here.
    pub has_more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Synced {
    pub channel: String,
    pub epoch: String,
    pub seq: u64,
}

/// The result of each operation, tagged by the operation's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "op", content = "result", rename_all = "snake_case")]
pub enum Reply {
    Auth {
        user: UserRef,
        /// Auto-subscribed channels, as in `hello`.
        #[serde(default)]
        subscriptions: Vec<SubscribeResult>,
    },
    Ping {
        server_time: i64,
    },
    ChannelList {
        channels: Vec<ChannelInfo>,
    },
    ChannelCreate {
        channel: ChannelInfo,
    },
    ChannelJoin {
        channel: ChannelInfo,
    },
    ChannelLeave {
        channel: String,
    },
    ChannelInvite {
        channel: String,
        user: UserRef,
    },
    ChannelUpdate {
        channel: ChannelInfo,
    },
    ChannelMembers {
        channel: String,
        members: Vec<ChannelMember>,
        /// More members follow: ask again with `after` = the last `user.id` here.
        has_more: bool,
    },
    Subscribe(SubscribeResult),
    Unsubscribe {
        channel: String,
    },
    Send(SendResult),
    Publish(PublishResult),
    History(HistoryPage),
    PresenceList {
        channel: String,
        presence: Vec<PresenceEntry>,
    },
    Typing {
        channel: String,
    },
    SetStatus {
        status: String,
    },
    MessageEdit {
        message: Message,
    },
    MessageDelete {
        channel: String,
        message_id: i64,
    },
    ReactionAdd(crate::ReactionChange),
    ReactionRemove(crate::ReactionChange),
    Search {
        hits: Vec<SearchHit>,
    },
    DmOpen {
        channel: ChannelInfo,
    },
    MarkRead(ReadState),
    Mute(ReadState),
    Unmute(ReadState),
    Unread {
        channels: Vec<ReadState>,
    },
    ThreadOpen {
        root: Message,
        thread: crate::ThreadSummary,
    },
}

/// A member of a channel and their role in it (`admin` or `member`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelMember {
    pub user: UserRef,
    pub role: String,
}

/// Where a user stands in a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReadState {
    pub channel: String,
    /// Everything up to this seq has been read.
    pub last_read: u64,
    /// Messages by others after `last_read` (deleted ones not counted).
    pub unread: u64,
    /// Of those, the ones that mention this user (by name, `@channel` or `@here`).
    pub mentions: u64,
    /// Muted until this instant (Unix milliseconds); `i64::MAX` means forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<i64>,
}

/// A search result: the message and an excerpt with the matches between `[` and `]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchHit {
    pub message: Message,
    pub snippet: String,
}
