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

use super::{control::Liveness, ConnControl, Frame, Writer, WriterHandle, WriterTiming};
use crate::address::AddressConnections;

/// How long a closing connection waits for the client's close reply.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a closing connection waits for its writer to end (which bounds its own close).
const WRITER_END: std::time::Duration = std::time::Duration::from_secs(5);

/// A live connection as the registry holds it.
struct Live {
    control: Arc<ConnControl>,
    /// To wake its writer when a ping is due.
    writer: crate::queue::Parker<Frame>,
}

pub struct Connections {
    live: Mutex<HashMap<u64, Live>>,
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

/// A connection that has just been set up: registered, its socket split, its writer ready
/// (parked until the first frame is queued).
pub struct Opened {
    pub control: Arc<ConnControl>,
    /// The connection's bounded outbound queue.
    pub out: super::Outbound,
    pub stream: SplitStream<WebSocket>,
    pub writer: WriterHandle,
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

    /// Registers a new connection, splits its socket and sets up its writer, which drains a
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
        let (sink, stream) = socket.split();
        let (out, out_rx) = crate::queue::queue(queue);
        if let Ok(mut live) = self.live.lock() {
            let entry = Live {
                control: Arc::clone(&control),
                writer: out_rx.parker(),
            };
            live.insert(id, entry);
        }
        let writer = Writer::new(sink, out_rx, Arc::clone(&control), timing).start();
        Opened {
            control,
            out,
            stream,
            writer,
        }
    }

    /// The end of a connection, once its reader is done: has the writer write the close frame
    /// (with the code asked for, 1000 when none was); when we closed it (`peer_gone` false),
    /// waits (bounded) for the client's close reply, reading and dropping whatever it still
    /// sends, so it sees our close frame before the socket goes; then waits for the writer to
    /// end and forgets the connection.
    pub async fn close(
        &self,
        control: &ConnControl,
        mut stream: SplitStream<WebSocket>,
        writer: WriterHandle,
        peer_gone: bool,
    ) {
        writer.close();
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
        // Bounded by the writer itself (its close is), and here too.
        let _ = tokio::time::timeout(WRITER_END, writer.finished()).await;
        drop(writer);
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
            .map(|c| c.control.token_id.load(Ordering::Relaxed))
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
        for Live { control, .. } in live.values() {
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
        for Live { control, .. } in live.values() {
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
            .map(|c| c.control.user_id.load(Ordering::Relaxed))
            .filter(|id| *id > 0)
            .collect();
        users.len()
    }

    /// One look of the liveness sweep (`liveness`) at every live connection: closes those
    /// whose pong is overdue and wakes the writers of those due a ping. Writers are woken
    /// after the registry's lock is released (waking a parked one starts a task).
    pub fn check_liveness(&self, now: i64, ping_interval_ms: i64, pong_timeout_ms: i64) {
        let due: Vec<crate::queue::Parker<Frame>> = {
            let Ok(live) = self.live.lock() else {
                return;
            };
            live.values()
                .filter(|l| {
                    l.control
                        .check_liveness(now, ping_interval_ms, pong_timeout_ms)
                        == Liveness::PingDue
                })
                .map(|l| l.writer.clone())
                .collect()
        };
        for writer in due {
            writer.wake();
        }
    }

    /// Live connections whose writer runs as a task now (not parked).
    pub fn writers_running(&self) -> usize {
        let Ok(live) = self.live.lock() else {
            return 0;
        };
        live.values().filter(|l| !l.writer.is_parked()).count()
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
            .map(|s| s.values().filter(|c| c.control.route == route).count())
            .unwrap_or(0)
    }
}
