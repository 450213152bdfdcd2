//! Channel hubs: one actor task per active channel owns its subscribers, presence and typing
//! state, and fans events out. Nothing else mutates that state, so no lock is ever held across
//! an await and ordering is simply the order of the hub's command queue.
//!
//! Ordering and the resume seam: the store's writer publishes each committed durable event to
//! `Hubs::publish` in commit (= seq) order. A subscriber is registered by a command on the same
//! queue, so the hub's `head` at that moment splits the world cleanly: events up to `head` are
//! read from the database by the subscribing connection, events after it arrive live. While the
//! connection reads that backlog, live events for it are held in a bounded catch-up buffer and
//! handed back to it when it says `CaughtUp` (it queues them after the backlog, waiting for room
//! like any of its own frames) until none are left; then it is live. No gap, no duplicate.
//!
//! Slow consumers: each connection has one bounded outbound queue. When it is more than half
//! full, ephemeral events (typing, presence) to it are shed; when a durable event does not fit,
//! the connection is closed with `RESYNC` and resumes from its last seq. A durable event is never
//! silently dropped and a slow reader never blocks the hub.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use parley_protocol::{close_code, Event, EventFrame, PresenceState, ServerFrame, UserRef};
use tokio::{sync::mpsc, time::Instant};

use crate::{
    metrics::Metrics,
    store::Published,
    ws::{ConnControl, Frame},
};

#[derive(Clone)]
pub struct HubConfig {
    pub presence_timeout: Duration,
    pub typing_ttl: Duration,
    pub typing_interval: Duration,
    /// Live events held for one subscriber while it reads its backlog.
    pub catchup_limit: usize,
    /// Commands queued for one hub.
    pub queue: usize,
    /// Told of every presence change (channel, frame): outbound webhooks' `presence.changed`.
    pub presence_tap: std::sync::OnceLock<PresenceTap>,
    /// Set when several nodes publish into these hubs (`gap.rs`): events are then delivered in
    /// seq order, gaps filled from the store.
    pub gap_filler: std::sync::OnceLock<GapFiller>,
    /// Set with several nodes (`ephemeral.rs`): told of every ephemeral event this node's
    /// subscribers cause, and of every hub started (to ask the others who is present).
    pub relay: std::sync::OnceLock<Arc<dyn EphemeralRelay>>,
}

/// What [`HubConfig::presence_tap`] calls; it must not wait.
pub type PresenceTap = Arc<dyn Fn(&str, String) + Send + Sync>;

/// All hubs, keyed by channel id, with the newest published seq of every channel.
pub struct Hubs {
    slots: Mutex<HashMap<i64, Slot>>,
    config: Arc<HubConfig>,
    /// Subscriptions, deliveries and shed events are counted here.
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct Slot {
    head: u64,
    hub: Option<mpsc::Sender<HubCmd>>,
}

/// What a connection needs to talk to one hub.
pub type HubHandle = mpsc::Sender<HubCmd>;

impl Hubs {
    pub fn new(config: HubConfig, metrics: Arc<Metrics>) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            config: Arc::new(config),
            metrics,
        }
    }

    /// An event another node committed (async: called from the task reading Redis, which
    /// waits for room in a busy hub rather than buffer without bound).
    pub async fn publish_remote(&self, event: Published) {
        let hub = {
            let Ok(mut slots) = self.slots.lock() else {
                return;
            };
            let slot = slots.entry(event.channel_id).or_default();
            slot.head = slot.head.max(event.seq);
            slot.hub.clone()
        };
        if let Some(hub) = hub {
            let _ = hub.send(HubCmd::Publish(event)).await;
        }
    }

    /// Every running hub (to bring each up to the store's head after a lost link).
    pub fn running(&self) -> Vec<(i64, HubHandle)> {
        let Ok(slots) = self.slots.lock() else {
            return Vec::new();
        };
        slots
            .iter()
            .filter_map(|(id, slot)| Some((*id, slot.hub.clone()?)))
            .filter(|(_, hub)| !hub.is_closed())
            .collect()
    }

    /// Ephemeral events go to (and presence is asked of) the other nodes through `relay` (once).
    pub fn set_relay(&self, relay: Arc<dyn EphemeralRelay>) {
        let _ = self.config.relay.set(relay);
    }

    /// Events of other nodes are ordered and their gaps filled by `filler` from now on (once).
    pub fn set_gap_filler(&self, filler: GapFiller) {
        let _ = self.config.gap_filler.set(filler);
    }

    /// Called on the store's writer thread after each commit, in seq order.
    pub fn publish(&self, event: Published) {
        let hub = {
            let Ok(mut slots) = self.slots.lock() else {
                return;
            };
            let slot = slots.entry(event.channel_id).or_default();
            slot.head = slot.head.max(event.seq);
            slot.hub.clone()
        };
        if let Some(hub) = hub {
            // Blocking is right here: this is the writer thread, and waiting for a busy hub is
            // back-pressure on writers rather than unbounded memory. Hubs never wait on the store.
            let _ = hub.blocking_send(HubCmd::Publish(event));
        }
    }

    /// The channel's hub, started if needed. `stored_head` is the head read from the database
    /// before this call; see the module comment for why that is safe.
    pub fn hub(&self, channel_id: i64, name: &str, presence: bool, stored_head: u64) -> HubHandle {
        let Ok(mut slots) = self.slots.lock() else {
            // A poisoned lock means a panic elsewhere; hand out a dead handle so callers fail
            // cleanly instead of panicking too.
            return mpsc::channel(1).0;
        };
        let slot = slots.entry(channel_id).or_default();
        if let Some(hub) = slot.hub.as_ref().filter(|h| !h.is_closed()) {
            return hub.clone();
        }
        slot.head = slot.head.max(stored_head);
        let (tx, rx) = mpsc::channel(self.config.queue);
        let hub = Hub {
            channel_id,
            channel: name.to_owned(),
            presence_enabled: presence,
            head: slot.head,
            subs: HashMap::new(),
            doomed: Vec::new(),
            user_sessions: HashMap::new(),
            present: HashMap::new(),
            typing: HashMap::new(),
            config: Arc::clone(&self.config),
            metrics: Arc::clone(&self.metrics),
            gaps: gap::Gaps::default(),
            me: tx.downgrade(),
            remote_present: HashMap::new(),
        };
        if let Some(relay) = self.config.relay.get() {
            relay.hub_started(channel_id);
        }
        tokio::spawn(hub.run(rx));
        slot.hub = Some(tx.clone());
        tx
    }

    /// Hands every presence change to `tap` from now on (once).
    pub fn set_presence_tap(&self, tap: PresenceTap) {
        let _ = self.config.presence_tap.set(tap);
    }

    /// The newest seq published for a channel since start, if any.
    pub fn head(&self, channel_id: i64) -> Option<u64> {
        Some(self.slots.lock().ok()?.get(&channel_id)?.head)
    }

    /// The running hub of a channel, if any.
    pub fn existing(&self, channel_id: i64) -> Option<HubHandle> {
        self.slots.lock().ok()?.get(&channel_id)?.hub.clone()
    }

    /// Stops a deleted channel's hub and forgets it.
    pub fn remove(&self, channel_id: i64) {
        let hub = self
            .slots
            .lock()
            .ok()
            .and_then(|mut s| s.remove(&channel_id))
            .and_then(|s| s.hub);
        if let Some(hub) = hub {
            // Waits for room if the hub is busy; the hub then tells its subscribers and ends.
            tokio::spawn(async move {
                let _ = hub.send(HubCmd::Shutdown).await;
            });
        }
    }
}

/// One per subscribed connection and channel, so kept small (32 bytes): every subscription of
/// every idle connection holds one.
struct Sub {
    user: Option<Arc<UserRef>>,
    tx: crate::ws::Outbound,
    control: Arc<ConnControl>,
    /// Some while the subscriber reads its backlog. Boxed: 8 bytes in every idle subscription
    /// instead of 24; only a subscriber catching up pays for the box.
    #[allow(clippy::box_collection)]
    catching_up: Option<Box<Vec<Frame>>>,
}

struct Present {
    user: UserRef,
    sessions: HashSet<u64>,
    status: String,
    text: Option<String>,
}

struct Typing {
    expires: Instant,
    last_broadcast: Instant,
    user: UserRef,
}

struct Hub {
    channel_id: i64,
    channel: String,
    presence_enabled: bool,
    head: u64,
    subs: HashMap<u64, Sub>,
    /// Subscribers to remove once the current command is done (see `reap`).
    doomed: Vec<u64>,
    /// Subscribed sessions per user, so "last session gone" costs no scan.
    user_sessions: HashMap<i64, u32>,
    present: HashMap<i64, Present>,
    typing: HashMap<i64, Typing>,
    config: Arc<HubConfig>,
    metrics: Arc<Metrics>,
    /// Events held behind a gap (several nodes only).
    gaps: gap::Gaps,
    /// This hub's own queue, for answers to its gap requests (weak: the hub ends when every
    /// handle to it is gone).
    me: mpsc::WeakSender<HubCmd>,
    /// Users present through other nodes, by (node, user) (`ephemeral.rs`).
    /// By user, then node: "is this user present elsewhere" is one lookup on every local join
    /// and leave.
    remote_present: HashMap<i64, HashMap<u64, parley_protocol::PresenceEntry>>,
}

/// What became of a frame offered to one subscriber.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Offer {
    /// Queued, or held for a subscriber reading its backlog.
    Queued,
    /// An ephemeral frame shed for a subscriber that is falling behind.
    Shed,
    /// The subscriber must go: a durable frame did not fit, or it disconnected.
    Gone,
}

impl Hub {
    async fn run(mut self, mut rx: mpsc::Receiver<HubCmd>) {
        let sweep_every = (self.config.presence_timeout / 4).max(Duration::from_millis(100));
        let mut next_sweep = Instant::now() + sweep_every;
        loop {
            let deadline = self
                .next_typing_expiry()
                .map_or(next_sweep, |t| t.min(next_sweep));
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(HubCmd::Shutdown) => {
                        let ids: Vec<u64> = self.subs.keys().copied().collect();
                        for id in ids {
                            self.drop_sub(id, "channel_deleted");
                        }
                        break;
                    }
                    None => {
                        // Subscriptions end with the hub.
                        self.metrics.subscriptions.dec_by(gauge(self.subs.len()));
                        break;
                    }
                    Some(cmd) => {
                        self.handle(cmd);
                        self.reap();
                    }
                },
                () = tokio::time::sleep_until(deadline) => {
                    let now = Instant::now();
                    self.expire_typing(now);
                    if now >= next_sweep {
                        self.sweep_idle_sessions();
                        next_sweep = now + sweep_every;
                    }
                    self.reap();
                }
            }
        }
    }

    fn handle(&mut self, cmd: HubCmd) {
        match cmd {
            HubCmd::Publish(event) => self.accept(event),
            HubCmd::Filled { events, through } => self.filled(events, through),
            HubCmd::Sync { stored_head } => self.sync(stored_head),
            HubCmd::Remote { node, frame } => self.remote_ephemeral(node, &frame),
            HubCmd::NodeGone { node } => self.node_gone(node),
            HubCmd::AnnouncePresence => self.announce_all_presence(),
            HubCmd::Flush { reply } => {
                let _ = reply.send(());
            }
            HubCmd::Subscribe { sub, reply } => {
                let conn_id = sub.conn_id;
                // Re-subscribing replaces the old subscription of this connection.
                self.remove_sub(conn_id);
                let user = sub.user.clone();
                if let Some(user) = &user {
                    *self.user_sessions.entry(user.id).or_default() += 1;
                }
                self.subs.insert(
                    conn_id,
                    Sub {
                        user: sub.user,
                        tx: sub.tx,
                        control: sub.control,
                        catching_up: Some(Box::default()),
                    },
                );
                self.metrics.subscriptions.inc();
                if let (true, Some(user)) = (self.presence_enabled, user) {
                    self.add_presence(conn_id, UserRef::clone(&user));
                }
                let presence = self.presence_enabled.then(|| self.presence_snapshot());
                if reply
                    .send(SubscribeAck {
                        head: self.head,
                        presence,
                        pruned_through: 0,
                        stored_head: 0,
                    })
                    .is_err()
                {
                    // The connection went away while subscribing.
                    self.remove_sub(conn_id);
                }
            }
            HubCmd::CaughtUp { conn_id, reply } => {
                let Some(sub) = self.subs.get_mut(&conn_id) else {
                    let _ = reply.send(Vec::new());
                    return;
                };
                let held = match sub.catching_up.as_mut() {
                    Some(held) if !held.is_empty() => std::mem::take(&mut **held),
                    _ => {
                        sub.catching_up = None;
                        Vec::new()
                    }
                };
                let _ = reply.send(held);
            }
            HubCmd::SetUser { conn_id, user } => {
                let Some(sub) = self.subs.get_mut(&conn_id) else {
                    return;
                };
                if sub.user.is_some() {
                    return;
                }
                sub.user = Some(Arc::clone(&user));
                *self.user_sessions.entry(user.id).or_default() += 1;
                if self.presence_enabled {
                    self.add_presence(conn_id, UserRef::clone(&user));
                }
            }
            HubCmd::Unsubscribe { conn_id } => self.remove_sub(conn_id),
            HubCmd::RemoveUser { user_id } => {
                let ids: Vec<u64> = self
                    .subs
                    .iter()
                    .filter(|(_, s)| s.user.as_ref().is_some_and(|u| u.id == user_id))
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    self.drop_sub(id, "access_revoked");
                }
            }
            HubCmd::Typing { conn_id } => self.typing(conn_id),
            HubCmd::SetStatus {
                user_id,
                status,
                text,
            } => {
                let Some(present) = self.present.get_mut(&user_id) else {
                    return;
                };
                if present.status == status && present.text == text {
                    return;
                }
                present.status = status;
                present.text = text;
                let event = Event::Presence {
                    state: PresenceState::Status,
                    user: present.user.clone(),
                    status: present.status.clone(),
                    status_text: present.text.clone(),
                };
                self.broadcast_ephemeral(event, None);
            }
            HubCmd::PresenceList { reply } => {
                let _ = reply.send(self.presence_snapshot());
            }
            HubCmd::Ephemeral(event) => self.broadcast_ephemeral(*event, None),
            HubCmd::Shutdown => {}
        }
    }

    fn publish(&mut self, event: Published) {
        if event.seq <= self.head {
            // Already covered by the backlog of every subscriber registered since.
            return;
        }
        self.head = event.seq;
        if let Some(author) = event.author_id {
            // A message ends its author's typing indicator (clients clear it on the message).
            self.typing.remove(&author);
        }
        // The one conversion per event: every subscriber's queue gets a handle to these bytes.
        let frame = Frame::from(event.frame);
        let limit = self.config.catchup_limit;
        let mut overflowed = Vec::new();
        let mut delivered = 0;
        for (id, sub) in &mut self.subs {
            match Self::offer(sub, frame.clone(), true, limit) {
                Offer::Queued => delivered += 1,
                Offer::Shed => {}
                Offer::Gone => overflowed.push(*id),
            }
        }
        // One count per event, not per subscriber: the counter is shared by every hub.
        if delivered > 0 {
            self.metrics.deliveries_durable.inc_by(delivered);
        }
        self.doomed.extend(overflowed);
    }

    /// Queues a frame for one subscriber, sheds it, or says the subscriber must go (its queue
    /// or catch-up buffer overflowed with a durable event, or it disconnected).
    fn offer(sub: &mut Sub, frame: Frame, durable: bool, catchup_limit: usize) -> Offer {
        if let Some(held) = sub.catching_up.as_mut() {
            if !durable && held.len() >= catchup_limit / 2 {
                // Shed ephemeral events for a resuming subscriber before they cost it a resync.
                return Offer::Shed;
            }
            if held.len() >= catchup_limit {
                sub.control
                    .close_with(close_code::RESYNC, "fell behind while resuming");
                return Offer::Gone;
            }
            held.push(frame);
            return Offer::Queued;
        }
        if !durable && sub.tx.capacity() < sub.tx.max_capacity() / 2 {
            // Shed ephemeral events for a connection that is falling behind.
            return Offer::Shed;
        }
        match sub.tx.try_send(frame) {
            Ok(()) => Offer::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                sub.control
                    .close_with(close_code::RESYNC, "too slow: resume with since");
                Offer::Gone
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
        }
    }

    /// Removes the subscribers whose queues overflowed, and those their removal overflowed.
    fn reap(&mut self) {
        while let Some(id) = self.doomed.pop() {
            self.remove_sub(id);
        }
    }

    /// Ends a subscription the connection did not ask to end, and tells it so.
    fn drop_sub(&mut self, conn_id: u64, reason: &str) {
        if let Some(sub) = self.subs.get(&conn_id) {
            let frame = ServerFrame::Event(EventFrame {
                channel: self.channel.clone(),
                seq: None,
                event: Event::Unsubscribed {
                    reason: reason.to_owned(),
                },
            });
            if let Ok(text) = serde_json::to_string(&frame) {
                let _ = sub.tx.try_send(Frame::from(text));
            }
            sub.control.note_dropped(self.channel_id);
        }
        self.remove_sub(conn_id);
    }

    fn remove_sub(&mut self, conn_id: u64) {
        let Some(sub) = self.subs.remove(&conn_id) else {
            return;
        };
        self.metrics.subscriptions.dec();
        let Some(user) = sub.user else { return };
        if let Some(present) = self.present.get_mut(&user.id) {
            present.sessions.remove(&conn_id);
        }
        let remaining = match self.user_sessions.get_mut(&user.id) {
            Some(count) => {
                *count = count.saturating_sub(1);
                *count
            }
            None => 0,
        };
        if remaining > 0 {
            return;
        }
        // The user's last session here is gone: end their typing and presence.
        self.user_sessions.remove(&user.id);
        if self.typing.remove(&user.id).is_some() {
            let event = Event::Typing {
                user: UserRef::clone(&user),
                typing: false,
                expires_in_ms: 0,
            };
            self.broadcast_ephemeral(event, None);
        }
        if let Some(present) = self.present.remove(&user.id) {
            let event = Event::Presence {
                state: PresenceState::Left,
                user: UserRef::clone(&user),
                status: present.status,
                status_text: None,
            };
            self.announce_presence(event, None);
        }
    }
}

/// A count as a gauge's change.
fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

mod commands;
mod ephemeral;
mod gap;
mod presence;

pub use commands::{HubCmd, SubscribeAck, Subscriber};
pub use ephemeral::EphemeralRelay;
pub use gap::{GapFiller, GapRequest};

#[cfg(test)]
mod ephemeral_tests;
#[cfg(test)]
mod gap_tests;
#[cfg(test)]
mod tests;
