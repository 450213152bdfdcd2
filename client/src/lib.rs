//! parley-client: the headless core every Parley client shares (the desktop app, the `parley`
//! command line, bots, tests).
//!
//! A [`Client`] keeps one WebSocket to the server and reconnects on its own (capped exponential
//! backoff with full jitter); on every connect it resubscribes each channel with `since` = the
//! last seq in its local cache, so nothing is missed or repeated. Everything it receives lands
//! in a local SQLite cache ([`store`]) first, so reading works offline. Sending writes to the
//! outbox first and returns at once; queued messages go out in order when connected, retried
//! with the same `client_id` until acknowledged (the server makes that idempotent).
//! Documents are yrs replicas persisted locally and synced over `/docs` ([`docs`]).

mod conn;
pub mod credentials;
pub mod docs;
pub mod files;
mod outbox;
pub mod store;

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use parley_protocol::{ErrorBody, ErrorCode, Message, Op, UserRef};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot, watch, Notify};

pub use docs::DocReplica;
pub use store::{OutboxEntry, SearchHit, Store};

/// What can go wrong, with the server's error code when it answered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not connected to the server")]
    Offline,
    #[error("the connection closed before the answer came")]
    Disconnected,
    #[error("timed out")]
    Timeout,
    #[error("{}: {}", .0.code, .0.message)]
    Server(ErrorBody),
    #[error("local cache: {0}")]
    Storage(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Http(String),
    /// A document replica stopped for good ([`docs::DocGone`]).
    #[error("{}", gone_message(.doc, *.reason))]
    DocGone { doc: String, reason: docs::DocGone },
}

fn gone_message(doc: &str, reason: docs::DocGone) -> String {
    match reason {
        docs::DocGone::Deleted => {
            format!("document {doc} was deleted on the server; its local copy was removed")
        }
        docs::DocGone::Forbidden => format!("you no longer have access to document {doc}"),
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Error::Storage(err.to_string())
    }
}

impl Error {
    /// The server's error code, when the server refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Server(body) => Some(body.code),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the connection stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    Connecting {
        attempt: u32,
    },
    Online {
        user: UserRef,
    },
    /// Not connected; the next attempt is at `retry_at_ms` (Unix milliseconds).
    Offline {
        retry_at_ms: i64,
        reason: String,
    },
    /// The server speaks another protocol version: upgrade the client (or the server).
    VersionMismatch {
        message: String,
    },
    /// The token was refused: sign in again.
    Unauthorized,
    Stopped,
}

/// What changed, for the UI and the command line.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClientEvent {
    Connection {
        state: ConnectionState,
    },
    /// A message was stored (from the server: live, backlog, history or a send's answer).
    Message {
        message: Message,
    },
    /// A message's text was edited (the cache holds the new text).
    MessageEdited {
        message: Box<Message>,
    },
    /// A message was deleted (removed from the cache and the search index).
    MessageDeleted {
        channel: String,
        message_id: i64,
        seq: u64,
    },
    /// A reaction was added or removed.
    Reaction {
        reaction: parley_protocol::ReactionChange,
    },
    /// A thread under a message of `channel` got a reply (the cached root holds the summary).
    ThreadUpdated {
        channel: String,
        thread: parley_protocol::ThreadSummary,
    },
    /// A message mentions this user (from the personal channel `@me`; `muted`: do not notify).
    Mention {
        message: Box<Message>,
        muted: bool,
    },
    /// Someone read a channel (created with read receipts) up to `seq`.
    ReadReceipt {
        channel: String,
        user: UserRef,
        seq: u64,
    },
    /// This user's read position or mute changed (on any of their devices).
    Read {
        read: parley_protocol::ReadState,
    },
    /// The channel's history was recreated on the server; its cache was dropped.
    ChannelReset {
        channel: String,
    },
    /// The backlog of a (re)subscription has been delivered.
    Synced {
        channel: String,
        seq: u64,
    },
    Presence {
        channel: String,
        user: UserRef,
        state: String,
        status: String,
    },
    Typing {
        channel: String,
        user: UserRef,
        typing: bool,
    },
    Member {
        channel: String,
        user: UserRef,
        joined: bool,
    },
    /// The outbox changed: `queued`, `sent` (with the server's message), `failed`, `retried`,
    /// `discarded`.
    Outbox {
        change: String,
        entry: Box<OutboxEntry>,
        message: Option<Box<Message>>,
    },
    Comment {
        doc: String,
        event: serde_json::Value,
    },
    DocUpdated {
        doc: String,
    },
    /// The server ended a subscription (`access_revoked`, `channel_deleted`).
    Unsubscribed {
        channel: String,
        reason: String,
    },
}

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
    reply: oneshot::Sender<Result<serde_json::Value>>,
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
    pub(crate) http: reqwest::Client,
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
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| Error::Http(e.to_string()))?,
        });
        tokio::spawn(conn::run(Arc::clone(&inner), calls_rx, subscribe_rx));
        tokio::spawn(outbox::run(Arc::clone(&inner)));
        Ok(Self { inner })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn state(&self) -> ConnectionState {
        self.inner.state.borrow().clone()
    }

    pub fn state_changes(&self) -> watch::Receiver<ConnectionState> {
        self.inner.state.subscribe()
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

    /// Sends one request over the live connection and returns its `result`.
    pub async fn request(&self, op: Op) -> Result<serde_json::Value> {
        if !matches!(self.state(), ConnectionState::Online { .. }) {
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
        if !matches!(self.state(), ConnectionState::Online { .. }) {
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
                    Ok(ClientEvent::Connection { .. }) => {}
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

    /// Queues a message and returns the pending entry at once; it goes out when connected.
    pub async fn send(&self, channel: &str, text: &str) -> Result<OutboxEntry> {
        if text.trim().is_empty() {
            return Err(Error::Invalid("the message is empty".into()));
        }
        let client_id = self.new_client_id();
        self.queue("message", channel, text, &client_id).await
    }

    pub(crate) async fn queue(
        &self,
        kind: &str,
        target: &str,
        body: &str,
        client_id: &str,
    ) -> Result<OutboxEntry> {
        let (kind, target, body, client_id) = (
            kind.to_owned(),
            target.to_owned(),
            body.to_owned(),
            client_id.to_owned(),
        );
        let entry = self
            .inner
            .store
            .run(move |c| store::outbox_push(c, &kind, &target, &body, &client_id, now_ms()))
            .await?;
        self.inner.emit(ClientEvent::Outbox {
            change: "queued".into(),
            entry: Box::new(entry.clone()),
            message: None,
        });
        self.inner.outbox_wake.notify_one();
        Ok(entry)
    }

    /// Uploads a file, reporting `(bytes sent, total)` as it goes. Resumable: the upload is a
    /// session on the server (`/api/uploads`) sent in chunks; a chunk that fails is retried
    /// from where the server says the file ends, and a session started by an earlier call for
    /// the same file (even by an earlier process: it is kept in the cache) is resumed. Dropping
    /// the future pauses it; `cancel_upload` abandons it. Needs the server (not queued).
    pub async fn upload(
        &self,
        path: &std::path::Path,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
    ) -> Result<parley_protocol::Attachment> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        const CHUNK: usize = 512 * 1024;
        let key = path.to_string_lossy().into_owned();
        let total = tokio::fs::metadata(path)
            .await
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?
            .len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        // Resume the session of an earlier attempt at this file, if the server still has it.
        let k = key.clone();
        let earlier = self
            .inner
            .store
            .run(move |c| store::upload_session(c, &k))
            .await?;
        let mut session = None;
        if let Some((id, size)) = earlier.filter(|(_, size)| *size == total) {
            if let Ok(state) = self
                .http_json(reqwest::Method::GET, &format!("/api/uploads/{id}"), None)
                .await
            {
                session = Some((id, state["received"].as_u64().unwrap_or(0)));
            }
            let _ = size;
        }
        let (id, mut received) = match session {
            Some(s) => s,
            None => {
                let state = self
                    .http_json(
                        reqwest::Method::POST,
                        "/api/uploads",
                        Some(serde_json::json!({"name": name, "size": total})),
                    )
                    .await?;
                let id = state["upload_id"].as_str().unwrap_or_default().to_owned();
                let (k, i) = (key.clone(), id.clone());
                self.inner
                    .store
                    .run(move |c| store::set_upload_session(c, &k, Some((&i, total))))
                    .await?;
                (id, 0)
            }
        };
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        let mut failures = 0u32;
        progress(received, total);
        while received < total {
            file.seek(std::io::SeekFrom::Start(received))
                .await
                .map_err(|e| Error::Invalid(e.to_string()))?;
            let mut chunk = vec![0u8; CHUNK.min((total - received) as usize)];
            file.read_exact(&mut chunk)
                .await
                .map_err(|e| Error::Invalid(e.to_string()))?;
            let sent = self
                .inner
                .http
                .put(format!("{}/api/uploads/{id}", self.inner.config.server))
                .query(&[("offset", received)])
                .bearer_auth(&self.inner.config.token)
                .body(chunk)
                .send()
                .await;
            // A 409 either says where the server's copy ends (`received`) or is
            // `upload_conflict`: another request holds the session, such as a chunk of ours whose
            // connection broke while the server still writes it. That one is retried like a
            // failure (backoff, then an error), never again at once.
            let failure = match sent {
                Ok(resp) if resp.status().is_success() || resp.status().as_u16() == 409 => {
                    let status = resp.status();
                    let state: serde_json::Value = resp.json().await.unwrap_or_default();
                    match state["received"].as_u64() {
                        Some(at) => {
                            received = at;
                            failures = 0;
                            progress(received, total);
                            continue;
                        }
                        None => format!(
                            "HTTP {status}: {}",
                            state["message"].as_str().unwrap_or("no position")
                        ),
                    }
                }
                Ok(resp) if resp.status().as_u16() == 404 => {
                    let k = key.clone();
                    self.inner
                        .store
                        .run(move |c| store::set_upload_session(c, &k, None))
                        .await?;
                    return Err(Error::Http(
                        "the server forgot this upload; start again".into(),
                    ));
                }
                Ok(resp) => format!("HTTP {}", resp.status()),
                Err(e) => e.to_string(),
            };
            failures += 1;
            if failures > 8 {
                return Err(Error::Http(failure));
            }
            tokio::time::sleep(Duration::from_millis(100 << failures.min(6))).await;
            if let Ok(state) = self
                .http_json(reqwest::Method::GET, &format!("/api/uploads/{id}"), None)
                .await
            {
                received = state["received"].as_u64().unwrap_or(received);
            }
        }
        let value = self
            .http_json(
                reqwest::Method::POST,
                &format!("/api/uploads/{id}/finish"),
                Some(serde_json::json!({})),
            )
            .await?;
        let k = key.clone();
        self.inner
            .store
            .run(move |c| store::set_upload_session(c, &k, None))
            .await?;
        serde_json::from_value(value).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Abandons an upload begun for this file (its session on the server and here).
    pub async fn cancel_upload(&self, path: &std::path::Path) -> Result<()> {
        let key = path.to_string_lossy().into_owned();
        let k = key.clone();
        if let Some((id, _)) = self
            .inner
            .store
            .run(move |c| store::upload_session(c, &k))
            .await?
        {
            let _ = self
                .http_json(reqwest::Method::DELETE, &format!("/api/uploads/{id}"), None)
                .await;
        }
        self.inner
            .store
            .run(move |c| store::set_upload_session(c, &key, None))
            .await
    }

    /// One JSON HTTP call with the bearer token; server refusals as `Error::Server`.
    async fn http_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value> {
        let mut req = self
            .inner
            .http
            .request(method, format!("{}{path}", self.inner.config.server))
            .bearer_auth(&self.inner.config.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.map_err(|e| Error::Http(e.to_string()))?;
        let status = resp.status();
        let value: serde_json::Value = resp.json().await.unwrap_or_default();
        if status.is_success() {
            Ok(value)
        } else {
            match serde_json::from_value::<ErrorBody>(value) {
                Ok(body) => Err(Error::Server(body)),
                Err(_) => Err(Error::Http(format!("HTTP {status}"))),
            }
        }
    }

    /// Queues a message with uploaded attachments (ids from `upload`).
    pub async fn send_with(
        &self,
        channel: &str,
        text: &str,
        attachments: &[i64],
    ) -> Result<OutboxEntry> {
        if text.trim().is_empty() {
            return Err(Error::Invalid("the message is empty".into()));
        }
        if attachments.is_empty() {
            return self.send(channel, text).await;
        }
        let body = serde_json::json!({"text": text, "attachments": attachments}).to_string();
        let client_id = self.new_client_id();
        self.queue("message_files", channel, &body, &client_id)
            .await
    }

    /// Edits one's own message: queued like a send (in order with sends), applied when online.
    pub async fn edit(&self, channel: &str, message_id: i64, text: &str) -> Result<OutboxEntry> {
        if text.trim().is_empty() {
            return Err(Error::Invalid("the message is empty".into()));
        }
        let body = serde_json::json!({"message_id": message_id, "text": text}).to_string();
        let client_id = self.new_client_id();
        self.queue("edit", channel, &body, &client_id).await
    }

    /// Deletes a message (queued like a send).
    pub async fn delete(&self, channel: &str, message_id: i64) -> Result<OutboxEntry> {
        let body = serde_json::json!({"message_id": message_id}).to_string();
        let client_id = self.new_client_id();
        self.queue("delete", channel, &body, &client_id).await
    }

    /// Adds (or with `add: false` removes) a reaction (queued like a send).
    pub async fn react(
        &self,
        channel: &str,
        message_id: i64,
        emoji: &str,
        add: bool,
    ) -> Result<OutboxEntry> {
        let body =
            serde_json::json!({"message_id": message_id, "emoji": emoji, "add": add}).to_string();
        let client_id = self.new_client_id();
        self.queue("react", channel, &body, &client_id).await
    }

    /// A fresh `client_id`: random, so two devices or processes never collide.
    pub fn new_client_id(&self) -> String {
        let n = self.inner.next_client_id.fetch_add(1, Ordering::Relaxed);
        let r: u64 = rand::random();
        format!("c{r:016x}{n:x}")
    }

    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        self.inner.store.run(|c| store::outbox_all(c)).await
    }

    /// Puts a failed entry back in the queue.
    pub async fn retry(&self, local_id: i64) -> Result<bool> {
        let done = self
            .inner
            .store
            .run(move |c| store::outbox_retry(c, local_id))
            .await?;
        if done {
            self.inner.outbox_wake.notify_one();
        }
        Ok(done)
    }

    pub async fn discard(&self, local_id: i64) -> Result<bool> {
        self.inner
            .store
            .run(move |c| store::outbox_discard(c, local_id))
            .await
    }

    /// Waits until nothing is pending in the outbox (failed entries do not count), or
    /// `timeout`. True when it emptied.
    pub async fn flushed(&self, timeout: Duration) -> Result<bool> {
        let mut events = self.events();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let pending = self
                .inner
                .store
                .run(|c| Ok(store::outbox_next(c)?.is_some()))
                .await?;
            if !pending {
                return Ok(true);
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => return Ok(false),
                Ok(Err(broadcast::error::RecvError::Closed)) => return Ok(false),
                Ok(_) => {}
            }
        }
    }

    /// Messages of a channel, newest `limit` before `before`, oldest first: from the cache,
    /// filled from the server first when online and the cache holds fewer.
    pub async fn history(
        &self,
        channel: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let name = channel.to_owned();
        let cached = self
            .inner
            .store
            .run(move |c| store::history(c, &name, before, limit))
            .await?;
        if cached.len() as u32 >= limit || !matches!(self.state(), ConnectionState::Online { .. }) {
            return Ok(cached);
        }
        match self
            .request(Op::History {
                channel: channel.to_owned(),
                before,
                limit: Some(limit),
            })
            .await
        {
            Ok(page) => {
                let page: parley_protocol::HistoryPage = serde_json::from_value(page)
                    .map_err(|e| Error::Invalid(format!("history page: {e}")))?;
                let messages = page.messages;
                self.inner
                    .store
                    .run(move |c| {
                        for m in &messages {
                            store::insert_message(c, m, false)?;
                        }
                        Ok(())
                    })
                    .await?;
                let name = channel.to_owned();
                self.inner
                    .store
                    .run(move |c| store::history(c, &name, before, limit))
                    .await
            }
            Err(Error::Server(body)) => Err(Error::Server(body)),
            Err(_) => Ok(cached),
        }
    }

    /// The channel a cached message is in (None: not in the cache, or a thread reply): where a
    /// thread `thread#<id>` lives, for one.
    pub async fn message_channel(&self, id: i64) -> Result<Option<String>> {
        self.inner
            .store
            .run(move |c| store::message_channel(c, id))
            .await
    }

    pub async fn search(
        &self,
        query: &str,
        channel: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SearchHit>> {
        let (query, channel) = (query.to_owned(), channel.map(str::to_owned));
        self.inner
            .store
            .run(move |c| store::search(c, &query, channel.as_deref(), limit))
            .await
    }

    /// Full-text search on the server over every message this user may read (for what the
    /// cache does not hold); `search` is the local one.
    pub async fn search_server(
        &self,
        query: &str,
        channel: Option<&str>,
        limit: u32,
    ) -> Result<Vec<parley_protocol::SearchHit>> {
        let value = self
            .request(Op::Search {
                query: query.to_owned(),
                channel: channel.map(str::to_owned),
                author: None,
                after: None,
                before: None,
                limit: Some(limit),
            })
            .await?;
        serde_json::from_value(value["hits"].clone()).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Channels this user can see (from the server when online, the cache otherwise).
    pub async fn channels(&self) -> Result<Vec<serde_json::Value>> {
        match self.request(Op::ChannelList).await {
            Ok(value) => {
                let channels = value["channels"].as_array().cloned().unwrap_or_default();
                let saved = channels.clone();
                self.inner
                    .store
                    .run(move |c| {
                        for ch in &saved {
                            if let Some(name) = ch["name"].as_str() {
                                store::save_channel_info(c, name, &ch.to_string())?;
                            }
                        }
                        Ok(())
                    })
                    .await?;
                Ok(channels)
            }
            Err(Error::Offline | Error::Disconnected | Error::Timeout) => {
                let rows = self.inner.store.run(|c| store::channel_infos(c)).await?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(_, info, _, _)| info.and_then(|i| serde_json::from_str(&i).ok()))
                    .collect())
            }
            Err(err) => Err(err),
        }
    }

    pub async fn join(&self, channel: &str) -> Result<serde_json::Value> {
        self.request(Op::ChannelJoin {
            channel: channel.to_owned(),
        })
        .await
    }

    /// Marks a channel read up to `seq` (kept locally).
    pub async fn mark_read(&self, channel: &str, seq: u64) -> Result<()> {
        let name = channel.to_owned();
        self.inner
            .store
            .run(move |c| store::set_read(c, &name, seq))
            .await
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
