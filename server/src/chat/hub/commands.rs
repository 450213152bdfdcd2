//! What a hub is asked to do, and what a subscription brings and gets back.

use std::sync::Arc;

use parley_protocol::{Event, PresenceEntry, UserRef};
use tokio::sync::oneshot;

use crate::{
    store::Published,
    ws::{ConnControl, Frame},
};

/// Commands a hub accepts.
pub enum HubCmd {
    Publish(Published),
    /// The events of a gap, read from the store (None: the read failed), through `through`.
    Filled {
        events: Option<Vec<Published>>,
        through: u64,
    },
    /// The store's head of the channel (several nodes: after the link to the others was lost).
    Sync {
        stored_head: u64,
    },
    /// An ephemeral event another node's subscribers caused (the frame as they got it).
    Remote {
        node: u64,
        frame: String,
    },
    /// Another node is gone: so is the presence it reported.
    NodeGone {
        node: u64,
    },
    /// Another node asks who is present here (it just started a hub for this channel).
    AnnouncePresence,
    /// An ephemeral event for every subscriber (a custom event published without `durable`).
    /// Boxed: every slot of a hub's queue is as large as the largest command.
    Ephemeral(Box<Event>),
    Subscribe {
        sub: Subscriber,
        reply: oneshot::Sender<SubscribeAck>,
    },
    /// The subscriber has queued its backlog. The hub answers with the live events it held
    /// meanwhile (the subscriber queues them, then asks again) or, once none are held, with an
    /// empty list and from then on delivers live: the subscriber's own back-pressure paces the
    /// hand-over instead of a forced resync.
    CaughtUp {
        conn_id: u64,
        reply: oneshot::Sender<Vec<Frame>>,
    },
    /// A session that subscribed anonymously has signed in.
    SetUser {
        conn_id: u64,
        user: Arc<UserRef>,
    },
    Unsubscribe {
        conn_id: u64,
    },
    /// Drop every subscription of a user (they lost access to a private channel).
    RemoveUser {
        user_id: i64,
    },
    Typing {
        conn_id: u64,
    },
    SetStatus {
        user_id: i64,
        status: String,
        text: Option<String>,
    },
    PresenceList {
        reply: oneshot::Sender<Vec<PresenceEntry>>,
    },
    /// The channel was deleted: drop everyone and stop.
    Shutdown,
    /// Answered once every command queued before it is handled: at a server stop, a session
    /// waits on it so events committed (and acknowledged) before the stop reach its queue.
    Flush {
        reply: oneshot::Sender<()>,
    },
}

/// A connection's subscription as the hub sees it.
pub struct Subscriber {
    pub conn_id: u64,
    /// Shared with the session's other subscriptions (one copy per connection, not per hub).
    pub user: Option<Arc<UserRef>>,
    pub tx: crate::ws::Outbound,
    pub control: Arc<ConnControl>,
}

pub struct SubscribeAck {
    /// The seq up to which the subscriber must read the backlog itself.
    pub head: u64,
    pub presence: Option<Vec<PresenceEntry>>,
    /// Filled in by the subscriber from the store: events up to here were removed by retention.
    pub pruned_through: u64,
    /// Filled in by the subscriber: the head stored when it registered (it can be ahead of
    /// `head` by events committed but not yet handed to the hub).
    pub stored_head: u64,
}
