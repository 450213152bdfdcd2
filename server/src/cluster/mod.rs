//! Several nodes (docs/scaling.md): PostgreSQL holds the truth, Redis carries what is live.
//!
//! Every event a node commits is handed to its own hubs (as on a single node) and queued for
//! Redis pub/sub (`<prefix>:events`); every node subscribes and hands the others' events to its
//! hubs, which deliver each channel in seq order and fill any gap from the store (`chat::hub`,
//! `gap.rs`): pub/sub may lose a message or a whole link, the store never does, so a
//! subscriber on any node sees every event once, in order, and the single-node resume contract
//! holds across nodes.
//!
//! Liveness: each node publishes a heartbeat every `cluster.heartbeat_interval` on the same
//! pub/sub channel. A subscriber that hears nothing for three intervals, not even its own
//! heartbeat, takes the link for dead and reconnects; after every (re)subscription it brings
//! each running hub up to the store's head, since events may have passed while it was away.

mod conns;
mod leases;
mod limits;
mod wire;

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    chat::{
        hub::{EphemeralRelay, GapFiller, GapRequest, HubCmd, Hubs},
        Chat,
    },
    config::ClusterConfig,
    docs::RemoteDocs,
    error::{Error, Result},
    metrics::Metrics,
    store::{EventStore, Published, Publisher},
};

/// Most events read from the store to fill one gap (a longer gap is filled in turns).
const FILL_BATCH: u64 = 1000;

/// This node's part in a cluster.
pub struct Cluster {
    /// Random per process: tells this node's own messages apart when they come back.
    node: u64,
    client: redis::Client,
    channel: String,
    heartbeat: Duration,
    outbox: mpsc::Sender<Vec<u8>>,
    outbox_rx: std::sync::Mutex<Option<mpsc::Receiver<Vec<u8>>>>,
    metrics: Arc<Metrics>,
    /// When each other node was last heard from (its heartbeat or an event).
    peers: std::sync::Mutex<std::collections::HashMap<u64, tokio::time::Instant>>,
    /// `cluster.prefix`.
    prefix: String,
    /// `cluster.document_lease`.
    lease: Duration,
    /// Where the other nodes reach this one (`cluster.advertise`, or the listening address).
    advertise: std::sync::OnceLock<String>,
    /// The connection for calls that wait for Redis's answer: document leases, shared rate
    /// limits (`leases`, `limits`).
    calls: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// Until when shared rate limits are counted on this node alone (Redis failed to answer).
    limits_paused_until: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// This node's document directory, for the other nodes' document changes.
    docs: std::sync::OnceLock<Arc<RemoteDocs>>,
    /// This cluster itself, for work it queues from a plain call (`conns.rs`).
    me: std::sync::OnceLock<std::sync::Weak<Cluster>>,
}

impl Cluster {
    /// Prepared before the store opens (the store needs [`Cluster::publisher`]); nothing is
    /// connected until [`Cluster::start`].
    pub fn new(config: &ClusterConfig, metrics: Arc<Metrics>) -> Result<Option<Arc<Self>>> {
        let Some(url) = &config.redis_url else {
            return Ok(None);
        };
        let client = redis::Client::open(url.as_str())
            .map_err(|e| Error::internal(format_args!("cluster.redis_url: {e}")))?;
        let (outbox, outbox_rx) = mpsc::channel(config.publish_queue.max(1));
        let cluster = Arc::new(Self {
            node: rand::random(),
            client,
            channel: format!("{}:events", config.prefix),
            heartbeat: config.heartbeat_interval,
            outbox,
            outbox_rx: std::sync::Mutex::new(Some(outbox_rx)),
            metrics,
            peers: std::sync::Mutex::default(),
            prefix: config.prefix.clone(),
            lease: config.document_lease,
            advertise: config
                .advertise
                .as_ref()
                .map(|url| url.trim_end_matches('/').to_owned())
                .map(std::sync::OnceLock::from)
                .unwrap_or_default(),
            calls: tokio::sync::Mutex::default(),
            limits_paused_until: std::sync::Mutex::default(),
            docs: std::sync::OnceLock::new(),
            me: std::sync::OnceLock::new(),
        });
        let _ = cluster.me.set(Arc::downgrade(&cluster));
        Ok(Some(cluster))
    }

    /// The store's publisher on a node of a cluster: local hubs first (this node's subscribers
    /// see their events as on a single node), then the queue to Redis, never waiting (this runs
    /// on the store's writer thread).
    pub fn publisher(self: &Arc<Self>, hubs: Arc<Hubs>) -> Publisher {
        hubs.set_relay(Arc::new(Relay {
            node: self.node,
            outbox: self.outbox.clone(),
            metrics: Arc::clone(&self.metrics),
        }));
        let cluster = Arc::clone(self);
        Arc::new(move |event: Published| {
            let bytes = wire::encode(cluster.node, &event);
            if cluster.outbox.try_send(bytes).is_err() {
                cluster.metrics.cluster.unsent.inc();
            }
            hubs.publish(event);
        })
    }

    /// Gives the cluster this node's document directory (news of documents changed elsewhere).
    pub fn set_docs(&self, docs: Arc<RemoteDocs>) {
        let _ = self.docs.set(docs);
    }

    /// Connects to Redis (retrying in the background until it can) and starts relaying:
    /// this node's events out, the others' in, gaps filled from `events`.
    pub fn start(
        self: &Arc<Self>,
        chat: Arc<Chat>,
        events: Arc<dyn EventStore>,
        stop: CancellationToken,
    ) {
        chat.hubs
            .set_gap_filler(gap_filler(Arc::clone(&events), Arc::clone(&self.metrics)));
        let outbox = self.outbox_rx.lock().ok().and_then(|mut rx| rx.take());
        if let Some(outbox) = outbox {
            tokio::spawn(Arc::clone(self).send_loop(outbox, stop.clone()));
        }
        tokio::spawn(Arc::clone(self).receive_loop(chat, events, stop));
    }

    /// Publishes queued events and this node's heartbeat, reconnecting as needed. A message
    /// whose publish failed is not retried: pub/sub is at most once anyway.
    async fn send_loop(
        self: Arc<Self>,
        mut outbox: mpsc::Receiver<Vec<u8>>,
        stop: CancellationToken,
    ) {
        let mut backoff = Backoff::default();
        'connect: loop {
            let mut conn = tokio::select! {
                () = stop.cancelled() => return,
                conn = self.client.get_multiplexed_async_connection() => match conn {
                    Ok(conn) => conn,
                    Err(err) => {
                        tracing::warn!(%err, "cannot reach Redis to publish");
                        if backoff.wait(&stop).await { return; }
                        continue 'connect;
                    }
                },
            };
            backoff.reset();
            let mut beat = tokio::time::interval(self.heartbeat);
            loop {
                let message = tokio::select! {
                    () = stop.cancelled() => return,
                    _ = beat.tick() => {
                        // Liveness for the shared connection counts (`conns.rs`).
                        let ms = u64::try_from((self.heartbeat * 3).as_millis()).unwrap_or(u64::MAX);
                        let alive: redis::RedisResult<()> = redis::cmd("SET")
                            .arg(self.alive_key())
                            .arg(1)
                            .arg("PX")
                            .arg(ms)
                            .query_async(&mut conn)
                            .await;
                        if let Err(err) = alive {
                            tracing::warn!(%err, "telling Redis this node is alive failed; reconnecting");
                            continue 'connect;
                        }
                        wire::heartbeat(self.node)
                    }
                    message = outbox.recv() => match message {
                        Some(message) => message,
                        None => return,
                    },
                };
                let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                    .arg(&self.channel)
                    .arg(message)
                    .query_async(&mut conn)
                    .await;
                if let Err(err) = sent {
                    tracing::warn!(%err, "publishing to Redis failed; reconnecting");
                    continue 'connect;
                }
            }
        }
    }

    /// Subscribes and hands the other nodes' events to the hubs; after each subscription, brings
    /// every running hub up to the store's head.
    async fn receive_loop(
        self: Arc<Self>,
        chat: Arc<Chat>,
        events: Arc<dyn EventStore>,
        stop: CancellationToken,
    ) {
        let hubs = Arc::clone(&chat.hubs);
        let mut backoff = Backoff::default();
        let silence = self.heartbeat * 3;
        loop {
            let subscribed = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&self.channel).await?;
                redis::RedisResult::Ok(pubsub)
            };
            let pubsub = tokio::select! {
                () = stop.cancelled() => return,
                pubsub = subscribed => pubsub,
            };
            let mut messages = match pubsub {
                Ok(pubsub) => pubsub.into_on_message(),
                Err(err) => {
                    tracing::warn!(%err, "cannot subscribe to Redis");
                    if backoff.wait(&stop).await {
                        return;
                    }
                    continue;
                }
            };
            backoff.reset();
            tracing::info!(channel = %self.channel, "subscribed to the other nodes' events");
            sync_hubs(&hubs, &*events).await;
            // Document changes announced meanwhile may be lost too.
            if let Some(docs) = self.docs.get() {
                tokio::spawn(Arc::clone(docs).refresh_all());
            }
            // Presence may have changed unseen too: ask again for every channel served here.
            for (channel_id, _) in hubs.running() {
                let _ = self
                    .outbox
                    .try_send(wire::presence_request(self.node, channel_id));
            }
            let mut sweep = tokio::time::interval(self.heartbeat);
            let mut last_heard = tokio::time::Instant::now();
            loop {
                let message = tokio::select! {
                    () = stop.cancelled() => return,
                    _ = sweep.tick() => {
                        if last_heard.elapsed() > silence {
                            // Not even our own heartbeat came back: the link is dead.
                            tracing::warn!("no heartbeat from Redis; subscribing again");
                            break;
                        }
                        for node in self.silent_peers() {
                            tracing::warn!(node, "a node fell silent; its presence is gone");
                            for (_, hub) in hubs.running() {
                                let _ = hub.send(HubCmd::NodeGone { node }).await;
                            }
                        }
                        continue;
                    }
                    message = messages.next() => message,
                };
                let Some(message) = message else {
                    tracing::warn!("the Redis subscription ended; subscribing again");
                    break;
                };
                last_heard = tokio::time::Instant::now();
                match wire::decode(message.get_payload_bytes()) {
                    Some(wire::Message::Event { node, event }) if node != self.node => {
                        self.metrics.cluster.received.inc();
                        self.heard(node);
                        chat.apply_remote(&event).await;
                        hubs.publish_remote(event).await;
                    }
                    Some(wire::Message::Heartbeat { node }) if node != self.node => {
                        self.heard(node);
                    }
                    Some(wire::Message::Ephemeral {
                        node,
                        channel_id,
                        frame,
                    }) if node != self.node => {
                        if let Some(hub) = hubs.existing(channel_id) {
                            let _ = hub.send(HubCmd::Remote { node, frame }).await;
                        }
                    }
                    Some(wire::Message::DocChanged {
                        node,
                        doc_id,
                        user_id,
                    }) if node != self.node => {
                        // Off this loop: a slow read must not hold up the relay.
                        if let Some(docs) = self.docs.get() {
                            let docs = Arc::clone(docs);
                            tokio::spawn(async move { docs.changed(doc_id, user_id).await });
                        }
                    }
                    Some(wire::Message::PresenceRequest { node, channel_id })
                        if node != self.node =>
                    {
                        if let Some(hub) = hubs.existing(channel_id) {
                            let _ = hub.send(HubCmd::AnnouncePresence).await;
                        }
                    }
                    Some(_) => {}
                    None => tracing::debug!("ignored a message that is not a Parley event"),
                }
            }
        }
    }
}

impl Cluster {
    fn heard(&self, node: u64) {
        if let Ok(mut peers) = self.peers.lock() {
            peers.insert(node, tokio::time::Instant::now());
        }
    }

    /// Other nodes heard from within three heartbeats.
    pub fn peers(&self) -> usize {
        let silence = self.heartbeat * 3;
        self.peers.lock().map_or(0, |peers| {
            peers
                .values()
                .filter(|seen| seen.elapsed() < silence)
                .count()
        })
    }

    /// Nodes not heard from for three heartbeats, forgotten here (reported once).
    fn silent_peers(&self) -> Vec<u64> {
        let silence = self.heartbeat * 3;
        let Ok(mut peers) = self.peers.lock() else {
            return Vec::new();
        };
        let silent: Vec<u64> = peers
            .iter()
            .filter(|(_, seen)| seen.elapsed() >= silence)
            .map(|(node, _)| *node)
            .collect();
        for node in &silent {
            peers.remove(node);
        }
        silent
    }
}

/// The hubs' way to the other nodes: ephemeral events and presence requests, queued for the
/// send loop (never waiting; a full queue drops them, as pub/sub may).
struct Relay {
    node: u64,
    outbox: mpsc::Sender<Vec<u8>>,
    metrics: Arc<Metrics>,
}

impl EphemeralRelay for Relay {
    fn ephemeral(&self, channel_id: i64, frame: &str) {
        if self
            .outbox
            .try_send(wire::ephemeral(self.node, channel_id, frame))
            .is_err()
        {
            self.metrics.cluster.unsent.inc();
        }
    }

    fn hub_started(&self, channel_id: i64) {
        let _ = self
            .outbox
            .try_send(wire::presence_request(self.node, channel_id));
    }
}

/// Brings every running hub up to its channel's stored head (events may have passed unseen).
async fn sync_hubs(hubs: &Hubs, events: &dyn EventStore) {
    for (channel_id, hub) in hubs.running() {
        if let Ok(position) = events.log_position(channel_id).await {
            let _ = hub
                .send(HubCmd::Sync {
                    stored_head: position.head,
                })
                .await;
        }
    }
}

/// Reads the events of a gap from the store and gives them to the hub that asked.
fn gap_filler(events: Arc<dyn EventStore>, metrics: Arc<Metrics>) -> GapFiller {
    Arc::new(move |request: GapRequest| {
        metrics.cluster.gap_fills.inc();
        let events = Arc::clone(&events);
        tokio::spawn(async move {
            let until = request.until.min(request.after + FILL_BATCH);
            let read = events
                .events_between(request.channel_id, request.after, until, FILL_BATCH as u32)
                .await;
            let filled = match read {
                Ok(stored) => Some(
                    stored
                        .into_iter()
                        .map(|e| Published {
                            channel_id: request.channel_id,
                            seq: e.seq,
                            frame: e.frame,
                            author_id: None,
                        })
                        .collect(),
                ),
                Err(err) => {
                    tracing::warn!(%err, "cannot read a gap's events");
                    None
                }
            };
            if let Some(hub) = request.hub.upgrade() {
                let _ = hub
                    .send(HubCmd::Filled {
                        events: filled,
                        through: until,
                    })
                    .await;
            }
        });
    })
}

/// Waits between reconnection attempts: 50 ms doubling to 5 s.
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    /// True when stopped meanwhile.
    async fn wait(&mut self, stop: &CancellationToken) -> bool {
        let wait = Duration::from_millis(50 << self.0.min(7)).min(Duration::from_secs(5));
        self.0 += 1;
        tokio::select! {
            () = stop.cancelled() => true,
            () = tokio::time::sleep(wait) => false,
        }
    }

    fn reset(&mut self) {
        self.0 = 0;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test: a panic is how it fails
mod tests {
    use super::*;

    /// A full queue to Redis never holds up the store's writer: the event still reaches this
    /// node's hubs, and what could not be queued is counted (the other nodes fill the gap).
    #[tokio::test]
    async fn a_full_publish_queue_drops_and_counts_without_waiting() {
        let config = ClusterConfig {
            redis_url: Some("redis://127.0.0.1:1".into()),
            publish_queue: 1,
            ..ClusterConfig::default()
        };
        let metrics = Arc::new(Metrics::new());
        let cluster = Cluster::new(&config, Arc::clone(&metrics))
            .unwrap()
            .unwrap();
        let hubs = Arc::new(Hubs::new(
            crate::chat::hub::HubConfig {
                presence_timeout: Duration::from_secs(60),
                typing_ttl: Duration::from_secs(5),
                typing_interval: Duration::from_secs(1),
                catchup_limit: 8,
                queue: 8,
                presence_tap: std::sync::OnceLock::new(),
                gap_filler: std::sync::OnceLock::new(),
                relay: std::sync::OnceLock::new(),
            },
            Arc::clone(&metrics),
        ));
        let publish = cluster.publisher(Arc::clone(&hubs));
        // Not started: nothing drains the queue of one.
        for seq in 1..=3 {
            publish(Published {
                channel_id: 7,
                seq,
                frame: format!("event {seq}"),
                author_id: None,
            });
        }
        assert_eq!(metrics.cluster.unsent.get(), 2);
        assert_eq!(
            hubs.head(7),
            Some(3),
            "every event reached this node's hubs"
        );
    }
}
