//! Each WebSocket request paired with the type of its reply (as Zed's `RequestMessage` pairs a
//! request with its response): `client.request(rpc::ListChannels {})` answers a
//! `Vec<ChannelInfo>`, never a bag of JSON to pick fields from.
//!
//! On the wire nothing changes: a request becomes its [`Op`], and the [`Reply`] frame that
//! answers it is taken apart by [`RequestMessage::take_reply`].

use crate::{
    ChannelInfo, ChannelMember, ChannelSettings, HistoryPage, Message, Op, PresenceEntry,
    PublishResult, ReactionChange, ReadState, Reply, SearchHit, SendResult, SubscribeResult,
    ThreadSummary, UserRef,
};

/// A request the server answers with a `Self::Reply`.
pub trait RequestMessage {
    /// What a successful answer carries.
    type Reply;

    /// The operation as it goes on the wire.
    fn into_op(self) -> Op;

    /// This request's answer out of the reply frame; the frame back when it answers another
    /// operation (a server bug, or a client that matched the wrong id).
    fn take_reply(reply: Reply) -> Result<Self::Reply, Box<Reply>>;
}

/// The answer to [`Authenticate`]: who the session is now, and the channels it was subscribed
/// to on its own (`auto_subscribe`).
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated {
    pub user: UserRef,
    pub subscriptions: Vec<SubscribeResult>,
}

/// The answer to [`OpenThread`]: the root message and its thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadOpened {
    pub root: Message,
    pub thread: ThreadSummary,
}

/// Declares one request type per operation: its fields (those of the [`Op`] variant), the
/// variant it becomes, and how its reply is taken out of the [`Reply`] variant that answers it.
macro_rules! requests {
    ($(
        $(#[$meta:meta])*
        $name:ident => $variant:ident { $($field:ident : $ty:ty),* $(,)? }
            -> $reply:ty = |$pattern:pat_param| $answer:expr;
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $(pub $field: $ty,)*
        }

        impl RequestMessage for $name {
            type Reply = $reply;

            fn into_op(self) -> Op {
                Op::$variant { $($field: self.$field,)* }
            }

            fn take_reply(reply: Reply) -> Result<$reply, Box<Reply>> {
                match reply {
                    $pattern => Ok($answer),
                    other => Err(Box::new(other)),
                }
            }
        }
    )*};
}

requests! {
    /// `auth`: signs an anonymous session in with a bearer token.
    Authenticate => Auth { token: String }
        -> Authenticated = |Reply::Auth { user, subscriptions }| Authenticated { user, subscriptions };
    /// `ping`: the server's clock (Unix milliseconds).
    Ping => Ping {} -> i64 = |Reply::Ping { server_time }| server_time;
    /// `channel_list`: the channels this session can see.
    ListChannels => ChannelList {}
        -> Vec<ChannelInfo> = |Reply::ChannelList { channels }| channels;
    /// `channel_create`: the new channel.
    CreateChannel => ChannelCreate { channel: String, settings: ChannelSettings }
        -> ChannelInfo = |Reply::ChannelCreate { channel }| channel;
    /// `channel_join`: the channel joined.
    JoinChannel => ChannelJoin { channel: String }
        -> ChannelInfo = |Reply::ChannelJoin { channel }| channel;
    /// `channel_leave`: the channel left.
    LeaveChannel => ChannelLeave { channel: String }
        -> String = |Reply::ChannelLeave { channel }| channel;
    /// `channel_invite`: who was added.
    Invite => ChannelInvite { channel: String, user: String }
        -> UserRef = |Reply::ChannelInvite { user, .. }| user;
    /// `channel_update`: the channel as it is now.
    UpdateChannel => ChannelUpdate { channel: String, topic: String }
        -> ChannelInfo = |Reply::ChannelUpdate { channel }| channel;
    /// `channel_members`: one page of members (and whether more follow).
    ListMembers => ChannelMembers { channel: String, after: Option<i64>, limit: Option<u32> }
        -> (Vec<ChannelMember>, bool) = |Reply::ChannelMembers { members, has_more, .. }| (members, has_more);
    /// `subscribe`: where the backlog starts and ends (it follows, then `synced`).
    Subscribe => Subscribe { channel: String, since: Option<u64>, epoch: Option<String> }
        -> SubscribeResult = |Reply::Subscribe(result)| result;
    /// `unsubscribe`: the channel no longer followed on this connection.
    Unsubscribe => Unsubscribe { channel: String }
        -> String = |Reply::Unsubscribe { channel }| channel;
    /// `send`: the stored message (the original one when `client_id` was sent before).
    SendMessage => Send { channel: String, text: String, client_id: String, attachments: Vec<i64> }
        -> SendResult = |Reply::Send(result)| result;
    /// `history`: one page of messages, newest first.
    History => History { channel: String, before: Option<u64>, limit: Option<u32> }
        -> HistoryPage = |Reply::History(page)| page;
    /// `presence_list`: who is here now.
    ListPresence => PresenceList { channel: String }
        -> Vec<PresenceEntry> = |Reply::PresenceList { presence, .. }| presence;
    /// `typing`: told to the channel.
    Typing => Typing { channel: String } -> () = |Reply::Typing { .. }| ();
    /// `set_status`: the status now.
    SetStatus => SetStatus { status: String, text: Option<String> }
        -> String = |Reply::SetStatus { status }| status;
    /// `message_edit`: the message with its new text.
    EditMessage => MessageEdit { channel: String, message_id: i64, text: String }
        -> Message = |Reply::MessageEdit { message }| message;
    /// `message_delete`: the id of the message deleted.
    DeleteMessage => MessageDelete { channel: String, message_id: i64 }
        -> i64 = |Reply::MessageDelete { message_id, .. }| message_id;
    /// `reaction_add`: the reaction's new count.
    AddReaction => ReactionAdd { channel: String, message_id: i64, emoji: String }
        -> ReactionChange = |Reply::ReactionAdd(change)| change;
    /// `reaction_remove`: the reaction's new count.
    RemoveReaction => ReactionRemove { channel: String, message_id: i64, emoji: String }
        -> ReactionChange = |Reply::ReactionRemove(change)| change;
    /// `search`: the best matches first.
    Search => Search {
        query: String,
        channel: Option<String>,
        author: Option<String>,
        after: Option<i64>,
        before: Option<i64>,
        limit: Option<u32>,
    } -> Vec<SearchHit> = |Reply::Search { hits }| hits;
    /// `dm_open`: the direct-message channel with these people.
    OpenDm => DmOpen { users: Vec<String> }
        -> ChannelInfo = |Reply::DmOpen { channel }| channel;
    /// `mark_read`: where the user stands in the channel now.
    MarkRead => MarkRead { channel: String, seq: u64 }
        -> ReadState = |Reply::MarkRead(read)| read;
    /// `mute`: where the user stands in the channel now.
    Mute => Mute { channel: String, until: Option<i64> }
        -> ReadState = |Reply::Mute(read)| read;
    /// `unmute`: where the user stands in the channel now.
    Unmute => Unmute { channel: String }
        -> ReadState = |Reply::Unmute(read)| read;
    /// `unread`: unread and mention counts of every channel the user is a member of.
    Unread => Unread {} -> Vec<ReadState> = |Reply::Unread { channels }| channels;
    /// `thread_open`: the thread under a message (created on first use).
    OpenThread => ThreadOpen { channel: String, message_id: i64 }
        -> ThreadOpened = |Reply::ThreadOpen { root, thread }| ThreadOpened { root, thread };
    /// `publish`: a custom event to a channel's subscribers (stored when `durable`).
    PublishEvent => Publish {
        channel: String,
        event: String,
        data: serde_json::Value,
        durable: bool,
        client_id: Option<String>,
        user: Option<String>,
    } -> PublishResult = |Reply::Publish(result)| result;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_becomes_its_operation_and_takes_its_reply() {
        let op = ListChannels {}.into_op();
        assert_eq!(op, Op::ChannelList);
        assert_eq!(
            ListChannels::take_reply(Reply::ChannelList { channels: vec![] }),
            Ok(vec![])
        );
        // An answer to another operation is handed back, not misread.
        let other = Reply::Ping { server_time: 5 };
        assert_eq!(
            ListChannels::take_reply(other.clone()),
            Err(Box::new(other))
        );
        let op = MarkRead {
            channel: "general".into(),
            seq: 7,
        }
        .into_op();
        assert_eq!(
            op,
            Op::MarkRead {
                channel: "general".into(),
                seq: 7
            }
        );
        assert_eq!(Ping::take_reply(Reply::Ping { server_time: 5 }), Ok(5));
    }

    #[test]
    fn every_operation_has_a_request_type() {
        // One request per wire operation: a new `Op` variant needs its pairing here too.
        let ops = [
            Authenticate { token: "t".into() }.into_op(),
            Ping {}.into_op(),
            ListChannels {}.into_op(),
            CreateChannel {
                channel: "c".into(),
                settings: ChannelSettings::default(),
            }
            .into_op(),
            JoinChannel {
                channel: "c".into(),
            }
            .into_op(),
            LeaveChannel {
                channel: "c".into(),
            }
            .into_op(),
            Invite {
                channel: "c".into(),
                user: "u".into(),
            }
            .into_op(),
            Subscribe {
                channel: "c".into(),
                since: None,
                epoch: None,
            }
            .into_op(),
            Unsubscribe {
                channel: "c".into(),
            }
            .into_op(),
            SendMessage {
                channel: "c".into(),
                text: "t".into(),
                client_id: "c1".into(),
                attachments: vec![],
            }
            .into_op(),
            History {
                channel: "c".into(),
                before: None,
                limit: None,
            }
            .into_op(),
            ListPresence {
                channel: "c".into(),
            }
            .into_op(),
            Typing {
                channel: "c".into(),
            }
            .into_op(),
            SetStatus {
                status: "away".into(),
                text: None,
            }
            .into_op(),
            EditMessage {
                channel: "c".into(),
                message_id: 1,
                text: "t".into(),
            }
            .into_op(),
            DeleteMessage {
                channel: "c".into(),
                message_id: 1,
            }
            .into_op(),
            AddReaction {
                channel: "c".into(),
                message_id: 1,
                emoji: "x".into(),
            }
            .into_op(),
            RemoveReaction {
                channel: "c".into(),
                message_id: 1,
                emoji: "x".into(),
            }
            .into_op(),
            Search {
                query: "q".into(),
                channel: None,
                author: None,
                after: None,
                before: None,
                limit: None,
            }
            .into_op(),
            OpenDm { users: vec![] }.into_op(),
            MarkRead {
                channel: "c".into(),
                seq: 1,
            }
            .into_op(),
            Mute {
                channel: "c".into(),
                until: None,
            }
            .into_op(),
            Unmute {
                channel: "c".into(),
            }
            .into_op(),
            Unread {}.into_op(),
            ListMembers {
                channel: "c".into(),
                after: None,
                limit: None,
            }
            .into_op(),
            UpdateChannel {
                channel: "c".into(),
                topic: "t".into(),
            }
            .into_op(),
            OpenThread {
                channel: "c".into(),
                message_id: 1,
            }
            .into_op(),
            PublishEvent {
                channel: "c".into(),
                event: "e".into(),
                data: serde_json::Value::Null,
                durable: false,
                client_id: None,
                user: None,
            }
            .into_op(),
        ];
        let mut names: Vec<&str> = ops.iter().map(Op::name).collect();
        names.sort_unstable();
        let mut all = Op::TYPES.to_vec();
        all.sort_unstable();
        assert_eq!(names, all);
    }
}
