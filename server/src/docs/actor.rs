//! One actor per open document. It owns the yrs `Doc` and `Awareness`, loads the document before
//! serving anyone, applies updates, appends them to the update log (group commit) and only then
//! fans them out, answers sync requests from committed state, compacts the log into a snapshot,
//! and ends after `idle_timeout` without connections, compacting first.
//!
//! Connections decode and validate y-websocket frames themselves, so a malformed frame never
//! reaches the actor; the actor talks to them only through their bounded outbound queues.
//!
//! Awareness (carets, names) is ephemeral and costs memory and fan-out, so the actor bounds it:
//! each awareness client id belongs to the connection that announced it first, only that
//! connection may change its state (others' entries are ignored: y-websocket clients send back
//! the states they hear, and nobody may overwrite someone else's), a connection announces at most
//! `max_awareness_clients_per_connection` ids (more: 4006), its changes pass a token bucket
//! (beyond it they are dropped), and only changes are relayed.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

mod awareness;
mod batch;

use tokio::sync::{mpsc, oneshot};
use yrs::{
    sync::{awareness::AwarenessUpdate, Awareness, Message, SyncMessage},
    updates::{decoder::Decode, encoder::Encode},
    ReadTxn, StateVector, Transact, Update,
};

use crate::{
    error::{Error, Result},
    queue,
    ratelimit::TokenBucket,
    store::{DocumentStore, StoredDoc},
    ws::{ConnControl, Frame},
};

/// What a connection hands to its document's actor.
pub enum Incoming {
    /// The client's state vector: answer with what it lacks (after pending commits).
    SyncStep1(StateVector),
    /// Content from the client (sync step 2 or an update): the decoded update and its bytes.
    Update(Update, Vec<u8>),
    /// An awareness update and the raw message (relayed as is).
    Awareness(AwarenessUpdate, Vec<u8>),
    AwarenessQuery,
}

pub enum Command {
    Join {
        conn: Arc<ConnControl>,
        user_id: i64,
        /// When its role was decided (access changes after it close the connection).
        decided: std::time::Instant,
        out: crate::ws::Outbound,
        /// Editors may change the content; others' updates are refused.
        can_write: bool,
        joined: oneshot::Sender<()>,
    },
    Messages {
        conn_id: u64,
        messages: Vec<Incoming>,
    },
    Leave {
        conn_id: u64,
    },
    /// The committed state as one update (for versions and content reads).
    State {
        reply: oneshot::Sender<Vec<u8>>,
    },
    /// The document was deleted: close every connection and end without writing.
    Deleted,
    /// Access changed for this user (None: everyone): their connections close with 4007 and
    /// reconnect under the new role.
    AccessChanged {
        user_id: Option<i64>,
        /// Connections opened after this (under the new rules) stay.
        issued: std::time::Instant,
    },
}

#[derive(Clone)]
pub struct ActorConfig {
    pub max_document_size: u64,
    pub compact_after: u64,
    pub idle_timeout: Duration,
    pub queue: usize,
    pub max_awareness_clients: usize,
    pub awareness_per_second: f64,
    pub awareness_burst: f64,
}

/// The actors of open documents, by document id.
#[derive(Default)]
pub struct Actors {
    open: Mutex<HashMap<i64, (u64, queue::Sender<Command>)>>,
    next_generation: std::sync::atomic::AtomicU64,
}

/// Everything an actor needs from the server.
#[derive(Clone)]
pub struct ActorEnv {
    pub store: Arc<dyn DocumentStore>,
    pub actors: Arc<Actors>,
    pub config: ActorConfig,
    pub shutdown: tokio_util::sync::CancellationToken,
    pub tracker: tokio_util::task::TaskTracker,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// On a server of several nodes: this node's lease on each open document.
    pub leases: Option<Arc<dyn super::owner::DocLeases>>,
}

impl Actors {
    /// The actor of `doc_id`, started (and loading) if it is not running.
    fn handle(&self, doc_id: i64, env: &ActorEnv) -> queue::Sender<Command> {
        let mut open = match self.open.lock() {
            Ok(open) => open,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((_, tx)) = open.get(&doc_id) {
            if !tx.is_closed() {
                return tx.clone();
            }
        }
        let generation = self
            .next_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = queue::queue(env.config.queue.max(1));
        open.insert(doc_id, (generation, tx.clone()));
        env.tracker.spawn(run(doc_id, generation, rx, env.clone()));
        tx
    }

    /// Sends a command to the document's actor, starting it if needed. An actor that is
    /// ending refuses commands; the next attempt starts a fresh one.
    pub async fn send(&self, doc_id: i64, env: &ActorEnv, mut command: Command) -> Result<()> {
        for _ in 0..3 {
            let tx = self.handle(doc_id, env);
            match tx.send(command).await {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(back)) => command = back,
            }
        }
        Err(Error::internal("the document could not be opened"))
    }

    /// Sends to the actor only if it runs.
    pub fn send_if_open(&self, doc_id: i64, command: Command) {
        let tx = self
            .open
            .lock()
            .ok()
            .and_then(|open| open.get(&doc_id).map(|(_, tx)| tx.clone()));
        if let Some(tx) = tx {
            tokio::spawn(async move {
                let _ = tx.send(command).await;
            });
        }
    }

    /// True while the document's actor runs here.
    pub fn is_open(&self, doc_id: i64) -> bool {
        self.open
            .lock()
            .map(|open| open.get(&doc_id).is_some_and(|(_, tx)| !tx.is_closed()))
            .unwrap_or(false)
    }

    /// Open documents (for metrics and tests).
    pub fn open_count(&self) -> usize {
        self.open.lock().map(|o| o.len()).unwrap_or(0)
    }

    /// Removes the actor's entry if it is still this generation and nothing is queued for it.
    fn retire(&self, doc_id: i64, generation: u64, rx: &mut queue::Receiver<Command>) -> bool {
        let Ok(mut open) = self.open.lock() else {
            return true;
        };
        if !rx.is_empty() {
            return false;
        }
        if open.get(&doc_id).is_some_and(|(g, _)| *g == generation) {
            open.remove(&doc_id);
        }
        rx.close();
        true
    }
}

struct Conn {
    control: Arc<ConnControl>,
    user_id: i64,
    joined: std::time::Instant,
    out: crate::ws::Outbound,
    can_write: bool,
    /// Awareness client ids this connection has announced first, and so owns (their states
    /// are removed when it goes).
    clients: HashSet<yrs::block::ClientID>,
    /// Awareness changes and queries this connection may still send.
    awareness_budget: TokenBucket,
    /// Set when the connection's queue was full for a document frame: a state vector the
    /// client certainly has. No more updates are queued for it until it drains; then one
    /// catch-up (sync step 2 from this state vector) replaces everything it missed.
    behind: Option<StateVector>,
    /// Dropped frames and awareness over its budget are counted here.
    metrics: Arc<crate::metrics::Metrics>,
}

impl Conn {
    /// Queues a frame that carries document content; `has` is what the client holds for sure
    /// if this frame cannot be queued.
    fn push_content(&mut self, frame: Frame, has: impl FnOnce() -> StateVector) {
        if let Some(behind) = &mut self.behind {
            *behind = lower(behind, &has());
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send(frame) {
            self.behind = Some(has());
        }
    }

    /// Queues an ephemeral frame (awareness, notices): dropped when the queue is full.
    fn push_ephemeral(&self, frame: Frame) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send(frame) {
            self.metrics.dropped_documents.inc();
        }
    }

    /// Takes a token from the connection's awareness budget; false (counted) when it is spent.
    fn awareness_allowed(&mut self) -> bool {
        let allowed = self.awareness_budget.take().is_ok();
        if !allowed {
            self.metrics.rate_limited.document_awareness.inc();
        }
        allowed
    }
}

/// The element-wise minimum of two state vectors.
fn lower(a: &StateVector, b: &StateVector) -> StateVector {
    let mut out = StateVector::default();
    for (client, clock) in a.iter() {
        out.set_max(*client, (*clock).min(b.get(client)));
    }
    out
}

struct Actor {
    doc_id: i64,
    awareness: Awareness,
    /// Which connection owns each announced awareness client id.
    owners: HashMap<yrs::block::ClientID, u64>,
    /// Removed awareness states yrs still remembers (their clocks) since the last rebuild.
    tombstones: usize,
    conns: HashMap<u64, Conn>,
    env: ActorEnv,
    /// Bytes of the snapshot plus the log: what `max_document_size` limits.
    size: u64,
    /// Bytes logged since the last compaction.
    log_bytes: u64,
    /// Id of the newest logged update (compaction removes up to it).
    last_update: i64,
    /// Anything logged since the last snapshot.
    dirty: bool,
    /// A write failed: the in-memory state may hold uncommitted updates.
    failed: bool,
    /// The store's claim this actor writes under (`DocumentStore::claim_document`).
    claim: i64,
}

/// How often connections that fell behind are looked at while no command arrives.
const CATCH_UP_CHECK: Duration = Duration::from_millis(20);

fn encode(message: &Message) -> Frame {
    Frame::binary(message.encode_v1())
}

fn log_error(doc_id: i64, what: &str, err: &Error) {
    tracing::error!(doc_id, %err, "{what}");
}

async fn run(doc_id: i64, generation: u64, rx: queue::Receiver<Command>, env: ActorEnv) {
    serve(doc_id, generation, rx, &env).await;
    // The lease goes with the actor, unless a new actor for the document started here since.
    if let Some(leases) = &env.leases {
        if !env.actors.is_open(doc_id) {
            leases.release(doc_id).await;
        }
    }
}

/// Claims the document in the store (refusing any older writer from then on), then loads it.
async fn open(doc_id: i64, env: &ActorEnv) -> Result<Actor> {
    let claim = env.store.claim_document(doc_id).await?;
    let stored = env.store.load_content(doc_id).await?;
    Actor::new(doc_id, stored, claim, env.clone())
}

async fn serve(doc_id: i64, generation: u64, mut rx: queue::Receiver<Command>, env: &ActorEnv) {
    let mut actor = match open(doc_id, env).await {
        Ok(actor) => actor,
        Err(err) => {
            log_error(doc_id, "cannot load document", &err);
            // Dropping the queue fails every waiting connection (they close with 1011).
            env.actors.retire(doc_id, generation, &mut rx);
            return;
        }
    };
    let shutdown = env.shutdown.clone();
    let renew_every = env.leases.as_ref().map(|l| l.renew_every());
    // The first renewal comes at once: claiming and loading may have taken a while.
    let mut next_renew = match renew_every {
        Some(_) => tokio::time::Instant::now(),
        None => tokio::time::Instant::now() + Duration::MAX / 4,
    };
    let mut idle_since = Some(tokio::time::Instant::now());
    let mut batch = Vec::new();
    loop {
        let unload_at = idle_since.map(|since| since + env.config.idle_timeout);
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                actor.compact().await;
                for conn in actor.conns.values() {
                    conn.control.close_with(1001, "server shutting down");
                }
                env.actors.retire(doc_id, generation, &mut rx);
                return;
            }
            n = rx.recv_many(&mut batch, 256) => {
                if n == 0 {
                    return;
                }
                let deleted = actor.handle_batch(std::mem::take(&mut batch)).await;
                if deleted || actor.failed() {
                    env.actors.retire(doc_id, generation, &mut rx);
                    return;
                }
                idle_since = actor.conns.is_empty().then(tokio::time::Instant::now);
            }
            () = tokio::time::sleep_until(next_renew), if renew_every.is_some() => {
                let every = renew_every.unwrap_or(Duration::from_secs(1));
                next_renew = tokio::time::Instant::now() + every;
                if !actor.renew(every).await {
                    env.actors.retire(doc_id, generation, &mut rx);
                    return;
                }
            }
            () = tokio::time::sleep(CATCH_UP_CHECK), if actor.any_behind() => actor.catch_up(),
            () = tokio::time::sleep_until(unload_at.unwrap_or(next_renew)), if unload_at.is_some() => {
                actor.compact().await;
                if env.actors.retire(doc_id, generation, &mut rx) {
                    tracing::debug!(doc_id, "document unloaded");
                    return;
                }
                idle_since = Some(tokio::time::Instant::now());
            }
        }
    }
}

impl Actor {
    fn new(doc_id: i64, stored: StoredDoc, claim: i64, env: ActorEnv) -> Result<Self> {
        let doc = yrs::Doc::new();
        let mut size = 0u64;
        let mut log_bytes = 0u64;
        {
            let mut txn = doc.transact_mut();
            let parts = stored
                .snapshot
                .iter()
                .map(|s| (s, true))
                .chain(stored.updates.iter().map(|u| (u, false)));
            for (bytes, is_snapshot) in parts {
                size += bytes.len() as u64;
                if !is_snapshot {
                    log_bytes += bytes.len() as u64;
                }
                let update = Update::decode_v1(bytes).map_err(|e| {
                    Error::internal(format_args!("stored update of document {doc_id}: {e}"))
                })?;
                txn.apply_update(update).map_err(|e| {
                    Error::internal(format_args!("stored update of document {doc_id}: {e}"))
                })?;
            }
        }
        Ok(Self {
            doc_id,
            awareness: Awareness::new(doc),
            owners: HashMap::new(),
            tombstones: 0,
            conns: HashMap::new(),
            env,
            size,
            log_bytes,
            last_update: stored.last_update,
            dirty: !stored.updates.is_empty(),
            failed: false,
            claim,
        })
    }

    /// Renews this node's lease on the document; false when another node holds it now: then
    /// every connection is closed with 4008 (they reconnect, and reach the new owner).
    async fn renew(&mut self, within: Duration) -> bool {
        let Some(leases) = &self.env.leases else {
            return true;
        };
        match tokio::time::timeout(within, leases.renew(self.doc_id)).await {
            Ok(Ok(true)) => true,
            Ok(Ok(false)) => {
                tracing::info!(doc_id = self.doc_id, "another node serves the document now");
                self.moved();
                false
            }
            // Redis cannot say: keep serving. The claim refuses this node's writes should
            // another node take the document meanwhile.
            Ok(Err(err)) => {
                tracing::warn!(doc_id = self.doc_id, %err, "cannot renew a document's lease");
                true
            }
            Err(_) => {
                tracing::warn!(
                    doc_id = self.doc_id,
                    "renewing a document's lease timed out"
                );
                true
            }
        }
    }

    /// Another node serves the document now: everyone here reconnects (4008) and reaches it.
    fn moved(&mut self) {
        for conn in self.conns.values() {
            conn.control.close_with(
                parley_protocol::close_code::DOC_MOVED,
                "the document moved to another node",
            );
        }
        self.conns.clear();
    }

    /// True once a write failed: the in-memory state may hold uncommitted updates, so the actor
    /// closes everyone and ends; the next connection loads the committed state.
    fn failed(&self) -> bool {
        self.failed
    }

    fn broadcast_ephemeral(&self, frame: &Frame) {
        for conn in self.conns.values() {
            conn.push_ephemeral(frame.clone());
        }
    }

    /// True when some connection waits for a catch-up.
    fn any_behind(&self) -> bool {
        self.conns.values().any(|c| c.behind.is_some())
    }

    /// Sends the catch-up to connections that fell behind and whose queue has room again.
    fn catch_up(&mut self) {
        let txn = self.awareness.doc().transact();
        for conn in self.conns.values_mut() {
            let Some(sv) = &conn.behind else { continue };
            if conn.out.capacity() < conn.out.max_capacity() / 2 {
                continue;
            }
            let diff = txn.encode_diff_v1(sv);
            let frame = encode(&Message::Sync(SyncMessage::SyncStep2(diff)));
            if conn.out.try_send(frame).is_ok() {
                conn.behind = None;
            }
        }
    }
}
