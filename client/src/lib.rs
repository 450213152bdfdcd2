//! parley-client: the headless core every Parley client shares (the desktop app, the `parley`
//! command line, bots, tests), and the only road from them to the server.
//!
//! A [`Client`] keeps one WebSocket to the server and reconnects on its own (capped exponential
//! backoff with full jitter); on every connect it resubscribes each channel with `since` = the
//! last seq in its local cache, so nothing is missed or repeated. Everything it receives lands
//! in a local SQLite cache ([`store`]) first, so reading works offline. Sending writes to the
//! outbox first and returns at once; queued messages go out in order when connected, retried
//! with the same `client_id` until acknowledged (the server makes that idempotent).
//! Documents are yrs replicas persisted locally and synced over `/docs` ([`docs`]).
//!
//! Every WebSocket request is typed by its reply ([`Client::request`] with a
//! [`parley_protocol::rpc`] request); the HTTP API is [`HttpApi`] (signing in before a client
//! exists, the server check) and the client's own methods for documents, comments and
//! attachments. Read state (positions, unread and mention counts, mutes) lives here too
//! ([`Client::unread`], [`Client::mark_read`]).

mod attachments;
mod conn;
pub mod credentials;
pub mod docs;
mod error;
mod events;
pub mod files;
mod http;
mod incoming;
pub mod invite;
mod messages;
mod outbox;
mod reads;
pub mod store;
pub mod tls;

use std::{
    path::PathBuf,
    sync::{atomic::AtomicU64, Arc},
    time::Duration,
};

use parley_protocol::{rpc::RequestMessage, ErrorBody, ErrorCode, Op, Reply, UserRef};
use tokio::sync::{broadcast, mpsc, oneshot, watch, Notify};

pub use docs::DocReplica;
pub use error::{Error, Result};
pub use events::{ClientEvent, CommentEvent, ConnectionState};
pub use http::{ChunkAnswer, HttpApi};
pub use store::{OutboxEntry, SearchHit, Store};

/// How to reach the server and where to keep the cache.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:port` (the WebSocket URL is derived from it).
    pub server: String,
    pub token: String,
    /// The cache database, one per server and user.
    pub cache_path: PathBuf,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub request_timeout: Duration,
    /// How much of the cache database SQLite keeps in memory, in KiB (default
    /// [`DEFAULT_CACHE_MEMORY_KIB`]; at least 64).
    pub cache_memory_kib: u32,
}

/// SQLite's page cache for the local cache: 8 MiB. Opening a channel and searching stay fast
/// with the OS page cache behind it, and a desktop client stays small with a big cache.
pub const DEFAULT_CACHE_MEMORY_KIB: u32 = 8 * 1024;

impl ClientConfig {
    pub fn new(server: &str, token: &str, cache_path: PathBuf) -> Self {
        Self {
            server: server.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            cache_path,
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            cache_memory_kib: DEFAULT_CACHE_MEMORY_KIB,
        }
    }

    pub(crate) fn ws_base(&self) -> String {
        if let Some(rest) = self.server.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.server.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.server.clone()
        }
    }
}

/// A request for the connection task.
pub(crate) struct Call {
    op: Op,
    reply: oneshot::Sender<Result<Reply>>,
}

pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    pub(crate) store: Store,
    pub(crate) events: broadcast::Sender<ClientEvent>,
    pub(crate) state: watch::Sender<ConnectionState>,
    calls: mpsc::Sender<Call>,
    /// Channels to subscribe now (the connection task also resubscribes all on connect).
    subscribe: mpsc::UnboundedSender<String>,
    pub(crate) outbox_wake: Notify,
    pub(crate) stop: watch::Sender<bool>,
    next_client_id: AtomicU64,
    /// The server's HTTP API with this client's token.
    pub(crate) http: HttpApi,
    pub(crate) reads: reads::ReadStates,
}

impl Inner {
    pub(crate) fn emit(&self, event: ClientEvent) {
        let _ = self.events.send(event);
    }
}

/// The client. Cheap to clone; every clone is the same client.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl Client {
    /// Opens the cache and starts connecting in the background.
    pub fn start(config: ClientConfig) -> Result<Self> {
        let store = Store::open(&config.cache_path, config.cache_memory_kib)?;
        let http = HttpApi::new(&config.server)?.with_token(&config.token);
        let (events, _) = broadcast::channel(4096);
        let (state, _) = watch::channel(ConnectionState::Connecting { attempt: 0 });
        let (calls, calls_rx) = mpsc::channel(256);
        let (subscribe, subscribe_rx) = mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            config,
            store,
            events,
            state,
            calls,
            subscribe,
            outbox_wake: Notify::new(),
            stop,
            next_client_id: AtomicU64::new(0),
            http,
            reads: reads::ReadStates::default(),
        });
        tokio::spawn(conn::run(Arc::clone(&inner), calls_rx, subscribe_rx));
        tokio::spawn(outbox::run(Arc::clone(&inner)));
        Ok(Self { inner })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The server's HTTP API, signed in with this client's token.
    pub fn api(&self) -> &HttpApi {
        &self.inner.http
    }

    pub fn state(&self) -> ConnectionState {
        self.inner.state.borrow().clone()
    }

    pub fn state_changes(&self) -> watch::Receiver<ConnectionState> {
        self.inner.state.subscribe()
    }

    fn is_online(&self) -> bool {
        matches!(self.state(), ConnectionState::Online { .. })
    }

    /// Every change from now on. A receiver that falls more than 4096 events behind gets
    /// `Lagged` and should re-read what it shows from the cache.
    pub fn events(&self) -> broadcast::Receiver<ClientEvent> {
        self.inner.events.subscribe()
    }

    /// Waits until online (or `timeout`); the signed-in user.
    pub async fn wait_online(&self, timeout: Duration) -> Result<UserRef> {
        let mut rx = self.state_changes();
        let wait = async {
            loop {
                match &*rx.borrow_and_update() {
                    ConnectionState::Online { user } => return Ok(user.clone()),
                    ConnectionState::VersionMismatch { message } => {
                        return Err(Error::Invalid(message.clone()))
                    }
                    ConnectionState::Unauthorized => {
                        return Err(Error::Server(ErrorBody::new(
                            ErrorCode::InvalidCredentials,
                            "the server refused the token; sign in again",
                        )))
                    }
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    return Err(Error::Offline);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| Error::Offline)?
    }

    /// Sends one request over the live connection; its reply, typed by the request
    /// (`client.request(rpc::ListChannels {})` is a `Vec<ChannelInfo>`).
    pub async fn request<R: RequestMessage>(&self, request: R) -> Result<R::Reply> {
        let op = request.into_op();
        let name = op.name();
        let reply = self.call(op).await?;
        R::take_reply(reply).map_err(|other| {
            let answered = serde_json::to_value(&other)
                .ok()
                .and_then(|v| v.get("op").and_then(|op| op.as_str()).map(str::to_owned))
                .unwrap_or_default();
            Error::Invalid(format!(
                "the server answered {name} as if it were {answered}"
            ))
        })
    }

    async fn call(&self, op: Op) -> Result<Reply> {
        if !self.is_online() {
            return Err(Error::Offline);
        }
        let (reply, rx) = oneshot::channel();
        self.inner
            .calls
            .send(Call { op, reply })
            .await
            .map_err(|_| Error::Offline)?;
        tokio::time::timeout(self.inner.config.request_timeout, rx)
            .await
            .map_err(|_| Error::Timeout)?
            .map_err(|_| Error::Disconnected)?
    }

    /// Follows a channel: subscribed now when online (this waits until its backlog is in the
    /// cache), and on every reconnect from the last stored seq. A refusal (forbidden, no such
    /// channel) is returned and the channel is not followed.
    pub async fn subscribe(&self, channel: &str) -> Result<()> {
        let name = channel.to_owned();
        self.inner
            .store
            .run(move |c| store::set_subscribed(c, &name, true))
            .await?;
        let mut events = self.events();
        let _ = self.inner.subscribe.send(channel.to_owned());
        if !self.is_online() {
            return Ok(());
        }
        let wait = async {
            loop {
                match events.recv().await {
                    Ok(ClientEvent::Synced { channel: c, .. }) if c == channel => return Ok(()),
                    Ok(ClientEvent::Unsubscribed { channel: c, reason }) if c == channel => {
                        return Err(Error::Server(ErrorBody::new(
                            serde_json::from_value(serde_json::Value::String(reason.clone()))
                                .unwrap_or(ErrorCode::Forbidden),
                            format!("cannot subscribe to {channel}: {reason}"),
                        )))
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                }
            }
        };
        match tokio::time::timeout(self.inner.config.request_timeout, wait).await {
            Ok(result) => result,
            Err(_) => Ok(()), // it completes in the background
        }
    }

    /// Stops connecting; the cache stays.
    pub fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        self.inner.outbox_wake.notify_one();
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
