//! Every live WebSocket connection, of both kinds: their ids, the registry that token
//! revocation goes through, the caps on how many there may be, and the shutdown signal and
//! task tracker they all follow. Also the set-up and tear-down both kinds share.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use axum::extract::ws::{Message as WsMessage, WebSocket};
use futures_util::{stream::SplitStream, StreamExt};
use parley_protocol::close_code;
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{write_loop, ConnControl, WriterTiming};
use crate::address::AddressConnections;

/// How long a closing connection waits for the client's close reply.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

pub struct Connections {
    live: Mutex<HashMap<u64, Arc<ConnControl>>>,
    next_id: AtomicU64,
    /// One permit per WebSocket connection (`realtime.max_connections`).
    pub permits: Arc<Semaphore>,
    /// WebSocket connections per client address (`realtime.max_connections_per_address`).
    pub per_address: Arc<AddressConnections>,
    /// Cancelled when the server shuts down: connections flush and close with 1001.
    pub shutdown: CancellationToken,
    /// Connections and document actors, so that shutdown can wait for them.
    pub tracker: TaskTracker,
}

/// A connection that has just been set up: registered, its socket split, its writer running.
pub struct Opened {
    pub control: Arc<ConnControl>,
    /// The connection's bounded outbound queue.
    pub out: super::Outbound,
    pub stream: SplitStream<WebSocket>,
    pub writer: tokio::task::JoinHandle<()>,
}

impl Connections {
    pub fn new(max_connections: usize, shutdown: CancellationToken) -> Self {
        Self {
            live: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            permits: Arc::new(Semaphore::new(max_connections)),
            per_address: Arc::default(),
            shutdown,
            tracker: TaskTracker::new(),
        }
    }

    /// Registers a new connection, splits its socket and starts its writer, which drains a
    /// queue of `queue` frames. Call it outside the connection's long-lived future: what is
    /// only needed to set up should not take space in it.
    /// `route` and `client` are for the access line written when it ends (`close`).
    pub fn open(
        &self,
        socket: WebSocket,
        queue: usize,
        timing: WriterTiming,
        (route, client): (&'static str, std::net::IpAddr),
    ) -> Opened {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let control = Arc::new(ConnControl::new(id, route, client));
        if let Ok(mut live) = self.live.lock() {
            live.insert(id, Arc::clone(&control));
        }
        let (sink, stream) = socket.split();
        let (out, out_rx) = crate::queue::queue(queue);
        // Not instrumented: this future is polled once per delivery, and entering a span on
        // every poll was measurable in fan-out profiles. It logs nothing on its hot path.
        let writer = tokio::spawn(write_loop(sink, out_rx, Arc::clone(&control), timing));
        Opened {
            control,
            out,
            stream,
            writer,
        }
    }

    /// The end of a connection, once its reader is done: when we closed it (`peer_gone` false),
    /// waits (bounded) for the client's close reply, reading and dropping whatever it still
    /// sends, so it sees our close frame before the socket goes; then lets the writer finish
    /// and forgets the connection.
    pub async fn close(
        &self,
        control: &ConnControl,
        mut stream: SplitStream<WebSocket>,
        writer: tokio::task::JoinHandle<()>,
        peer_gone: bool,
    ) {
        if !peer_gone {
            let drain = async {
                while let Some(Ok(message)) = stream.next().await {
                    if matches!(message, WsMessage::Close(_)) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
        }
        let _ = writer.await;
        if let Ok(mut live) = self.live.lock() {
            live.remove(&control.id);
        }
        let user_id = control.user_id.load(Ordering::Relaxed);
        // The session's access line (see `http::access`): never a token.
        tracing::info!(
            target: "parley::access",
            kind = "websocket",
            route = control.route,
            conn = control.id,
            closed_by = if peer_gone { "client" } else { "server" },
            close_code = control.close_code(),
            duration_ms = control.opened.elapsed().as_secs_f64() * 1000.0,
            user_id = (user_id > 0).then_some(user_id),
            client = %control.client,
            "session"
        );
    }

    /// Token ids in use by live connections.
    pub fn token_ids(&self) -> Vec<i64> {
        let Ok(live) = self.live.lock() else {
            return Vec::new();
        };
        let mut ids: Vec<i64> = live
            .values()
            .map(|c| c.token_id.load(Ordering::Relaxed))
            .filter(|id| *id > 0)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Closes every live connection that authenticated with one of these tokens.
    pub fn close_tokens(&self, token_ids: &[i64]) {
        let Ok(live) = self.live.lock() else {
            return;
        };
        for control in live.values() {
            if token_ids.contains(&control.token_id.load(Ordering::Relaxed)) {
                control.close_with(close_code::TOKEN_REVOKED, "token revoked");
            }
        }
    }

    /// Tells every live connection signed in as `user` that the account changed (display
    /// name, avatar): what they send from now on carries the new one.
    pub fn update_profile(&self, user: &crate::store::UserRecord) {
        let Ok(live) = self.live.lock() else {
            return;
        };
        for control in live.values() {
            if control.user_id.load(Ordering::Relaxed) == user.id {
                control.note_profile(user.clone());
            }
        }
    }

    /// How many different users have a live connection now.
    pub fn active_users(&self) -> usize {
        let Ok(live) = self.live.lock() else {
            return 0;
        };
        let users: std::collections::HashSet<i64> = live
            .values()
            .map(|c| c.user_id.load(Ordering::Relaxed))
            .filter(|id| *id > 0)
            .collect();
        users.len()
    }

    /// Live connections.
    pub fn len(&self) -> usize {
        self.live.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live connections opened on `route` (as given to [`Connections::open`]).
    pub fn count_route(&self, route: &str) -> usize {
        self.live
            .lock()
            .map(|s| s.values().filter(|c| c.route == route).count())
            .unwrap_or(0)
    }
}
