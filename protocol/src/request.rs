//! Client → server frames.

use serde::{Deserialize, Serialize};

/// One request frame: `{"id": 7, "type": "send", ...operation fields}`. Every request is
/// answered by exactly one `reply` or `error` frame carrying the same `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Request {
    pub id: u64,
    #[serde(flatten)]
    pub op: Op,
}

/// Who may read a public channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Authentication {
    /// Anonymous sessions may subscribe and read history.
    Optional,
    /// Only signed-in users may read.
    #[default]
    Required,
}

/// Channel kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ChannelType {
    /// Anyone may read (subject to `authentication`); members may send.
    #[default]
    Public,
    /// Only members may read, send, see presence or history. Membership by invitation.
    Private,
    /// Like public, with presence always on: subscribers see who else is here.
    Presence,
}

/// Who may publish custom events (`publish`) in a channel. Workspace admins always may.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PublishPolicy {
    /// Whoever may send messages there (and bot tokens with the `publish` scope).
    #[default]
    Members,
    /// The channel's admins.
    Admins,
    /// Bot tokens with the `publish` scope for the channel.
    Bots,
}

impl PublishPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Members => "members",
            Self::Admins => "admins",
            Self::Bots => "bots",
        }
    }

    /// The policy of this wire name, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Members, Self::Admins, Self::Bots]
            .into_iter()
            .find(|p| p.as_str() == name)
    }
}

/// Settings given when creating a channel. Every field is optional; defaults come from the
/// server's configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelSettings {
    #[serde(
        default,
        rename = "channel_type",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<ChannelType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<bool>,
    /// Keep at most this many messages (0 = no count limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_history: Option<u64>,
    /// Drop messages older than this many seconds (0 = keep forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_retention_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_participants: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Members see who read how far (`read_receipt` events after each `mark_read`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_receipts: Option<bool>,
    /// Who may publish custom events (default `members`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishPolicy>,
}

/// Every operation a client can request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// Authenticate an anonymous session with a bearer token.
    Auth {
        token: String,
    },
    /// Application-level round trip (WebSocket pings are handled by the server on its own).
    Ping,
    /// Channels this session can see.
    ChannelList,
    /// Create a channel; the creator becomes its first member and channel admin.
    ChannelCreate {
        channel: String,
        #[serde(flatten)]
        settings: ChannelSettings,
    },
    /// Become a member of a public or presence channel.
    ChannelJoin {
        channel: String,
    },
    /// Stop being a member (also unsubscribes this session).
    ChannelLeave {
        channel: String,
    },
    /// Add another user to a channel. Any member may invite; workspace admins may invite into
    /// any channel.
    ChannelInvite {
        channel: String,
        user: String,
    },
    /// Set the channel's topic (an empty one clears it); its members may. The members get a
    /// durable `channel_updated` event.
    ChannelUpdate {
        channel: String,
        topic: String,
    },
    /// The channel's members with their roles, a page at a time in user id order (`after`:
    /// the last id of the previous page).
    ChannelMembers {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Start receiving a channel's events. With `since`, first the durable events after that seq
    /// (when `epoch` matches), then a `synced` frame, then live events.
    Subscribe {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<String>,
    },
    Unsubscribe {
        channel: String,
    },
    /// Post a message. `client_id` makes it idempotent per author.
    Send {
        channel: String,
        text: String,
        client_id: String,
        /// Attachments uploaded by this user (`POST /api/attachments`) to post with the text.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<i64>,
    },
    /// Page backwards through a channel's messages.
    History {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Who is here now (presence-enabled channels).
    PresenceList {
        channel: String,
    },
    /// Tell a channel's subscribers this user is typing (ephemeral, rate limited).
    Typing {
        channel: String,
    },
    /// Set this user's status (`online`, `away`, `dnd`) in the presence channels this session
    /// is subscribed to, now and later.
    SetStatus {
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// Replace the text of one's own message (the previous text is kept in its edit history).
    MessageEdit {
        channel: String,
        message_id: i64,
        text: String,
    },
    /// Delete a message: one's own, or anyone's for channel and workspace admins. Its content
    /// is removed from storage; a `message_deleted` event tells every client to drop it.
    MessageDelete {
        channel: String,
        message_id: i64,
    },
    /// Add an emoji reaction to a message (adding one twice changes nothing).
    ReactionAdd {
        channel: String,
        message_id: i64,
        emoji: String,
    },
    ReactionRemove {
        channel: String,
        message_id: i64,
        emoji: String,
    },
    /// Full-text search over the messages this user can read, best matches first.
    Search {
        query: String,
        /// Only this channel.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// Only messages by this user (name).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<String>,
        /// Only messages at or after / before these instants (Unix milliseconds).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Open (or find) the direct-message channel with these users (names, not counting
    /// oneself): one for each set of people, never two.
    DmOpen {
        users: Vec<String>,
    },
    /// Everything up to `seq` in `channel` has been read (synced to this user's other devices
    /// through their personal channel `@me`).
    MarkRead {
        channel: String,
        seq: u64,
    },
    /// Mute a channel until `until` (Unix milliseconds), or forever when absent. Muted channels
    /// still count unread messages; their mentions arrive flagged `muted`.
    Mute {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<i64>,
    },
    Unmute {
        channel: String,
    },
    /// Unread and mention counts of every channel this user is a member of.
    Unread,
    /// The thread under a message (created on first use): reply by sending to its channel
    /// (`thread#<root id>`), follow it with `subscribe` (and `since`) like any channel.
    ThreadOpen {
        channel: String,
        message_id: i64,
    },
    /// Publishes an application event to a channel's subscribers (a `custom` event). With
    /// `durable`, it is stored in the channel's log under a seq (resumable, subject to
    /// retention); `client_id` makes it idempotent per publisher. `user` addresses that user's
    /// instance of a `user_specific` channel (workspace admins and bot tokens with the
    /// `publish` scope only).
    Publish {
        channel: String,
        event: String,
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(type = "unknown"))]
        data: serde_json::Value,
        #[serde(default)]
        durable: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
}

impl Op {
    /// The wire names of all operations, for telling `unknown_type` from `invalid_request`.
    pub const TYPES: &'static [&'static str] = &[
        "auth",
        "ping",
        "channel_list",
        "channel_create",
        "channel_join",
        "channel_leave",
        "channel_invite",
        "channel_members",
        "channel_update",
        "subscribe",
        "unsubscribe",
        "send",
        "history",
        "presence_list",
        "typing",
        "set_status",
        "message_edit",
        "message_delete",
        "reaction_add",
        "reaction_remove",
        "search",
        "dm_open",
        "mark_read",
        "mute",
        "unmute",
        "unread",
        "thread_open",
        "publish",
    ];

    pub fn is_known_type(kind: &str) -> bool {
        Self::TYPES.contains(&kind)
    }

    /// The wire name of this operation.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Auth { .. } => "auth",
            Op::Ping => "ping",
            Op::ChannelList => "channel_list",
            Op::ChannelCreate { .. } => "channel_create",
            Op::ChannelJoin { .. } => "channel_join",
            Op::ChannelLeave { .. } => "channel_leave",
            Op::ChannelInvite { .. } => "channel_invite",
            Op::ChannelMembers { .. } => "channel_members",
            Op::ChannelUpdate { .. } => "channel_update",
            Op::Subscribe { .. } => "subscribe",
            Op::Unsubscribe { .. } => "unsubscribe",
            Op::Send { .. } => "send",
            Op::History { .. } => "history",
            Op::PresenceList { .. } => "presence_list",
            Op::Typing { .. } => "typing",
            Op::SetStatus { .. } => "set_status",
            Op::MessageEdit { .. } => "message_edit",
            Op::MessageDelete { .. } => "message_delete",
            Op::ReactionAdd { .. } => "reaction_add",
            Op::ReactionRemove { .. } => "reaction_remove",
            Op::Search { .. } => "search",
            Op::DmOpen { .. } => "dm_open",
            Op::MarkRead { .. } => "mark_read",
            Op::Mute { .. } => "mute",
            Op::Unmute { .. } => "unmute",
            Op::Unread => "unread",
            Op::ThreadOpen { .. } => "thread_open",
            Op::Publish { .. } => "publish",
        }
    }
}
