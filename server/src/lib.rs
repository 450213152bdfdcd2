//! parley-server: Parley's realtime server as a library, so that tests (through the test kit)
//! can run the real thing in-process; the desktop app runs the `parley-server` binary. `main.rs`
//! only parses the command line, binds and calls [`run`].
//!
//! Layout, outside in (imports point one way; ARCHITECTURE.md "Inside the server"): `http`
//! (router, extractors, upgrades, accept loop) → the two kinds of WebSocket connection
//! (`chat::session`, `docs::conn`) → the areas `chat`, `docs`, `accounts`, `attachments` →
//! `ws` (connection machinery both kinds share) and `store` (traits, SQLite, the
//! group-committing writer). `config`, `error`, `names`, `ratelimit`, `gate` and `address` are
//! used by all. [`AppState`] bundles every area's state; `maintenance` runs the upkeep loops.

pub mod accounts;
pub mod address;
mod attachments;
pub mod chat;
pub mod config;
pub mod datadir;
pub mod docs;
pub mod error;
mod gate;
mod http;
pub(crate) mod maintenance;
pub mod names;
pub mod process;
pub mod ratelimit;
pub mod store;
pub mod ws;

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use error::{Error, Result};

/// Everything a request handler needs, passed explicitly (no globals).
pub struct AppState {
    pub config: Arc<Config>,
    pub store: store::Store,
    pub hubs: Arc<chat::hub::Hubs>,
    pub directory: Arc<chat::channels::Directory>,
    /// Documents: their directory and the actors of open ones.
    pub docs: docs::Docs,
    /// Uploads, downloads, upload sessions and thumbnails.
    pub(crate) attachments: Arc<attachments::Attachments>,
    /// Signing in and out, registering, the user behind a token.
    pub accounts: accounts::Accounts,
    /// Every live WebSocket connection, their caps, and the shutdown signal.
    pub connections: Arc<ws::Connections>,
    user_send_limits: Mutex<HashMap<i64, ratelimit::TokenBucket>>,
    /// `mark_read`, `mute`, `unmute` per user.
    user_state_limits: Mutex<HashMap<i64, ratelimit::TokenBucket>>,
    /// Document content answers being decoded (`documents.max_content_reads`).
    content_gate: gate::WorkGate,
    /// Searches running (`realtime.max_concurrent_searches`).
    search_gate: gate::WorkGate,
}

/// How long shutdown waits for connections to flush and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A server whose storage is open and ready; [`Server::serve`] starts answering.
pub struct Server {
    state: Arc<AppState>,
    writer: std::thread::JoinHandle<()>,
}

/// Opens storage and serves on `listener` until `shutdown` completes (see [`Server::serve`]).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    Server::open(config).await?.serve(listener, shutdown).await
}

impl Server {
    /// Opens the database (running migrations), loads channels and applies configured ones.
    pub async fn open(config: Config) -> Result<Self> {
        let config = Arc::new(config);
        let hubs = Arc::new(chat::hub::Hubs::new(chat::hub::HubConfig {
            presence_timeout: config.realtime.presence_timeout,
            typing_ttl: config.realtime.typing_ttl,
            typing_interval: config.realtime.typing_interval,
            catchup_limit: config.realtime.outbound_queue * 4,
            queue: 4096,
        }));
        let publisher_hubs = Arc::clone(&hubs);
        let (store, writer) = store::open(
            &config.data_dir(),
            &config.storage,
            Arc::new(move |event| publisher_hubs.publish(event)),
        )?;
        let directory = Arc::new(chat::channels::Directory::load(&store).await?);
        let docs = docs::Docs::load(&store, &directory).await?;
        let connections = Arc::new(ws::Connections::new(
            config.realtime.max_connections,
            CancellationToken::new(),
        ));
        let state = Arc::new(AppState {
            accounts: accounts::Accounts::new(
                store.clone(),
                Arc::clone(&config),
                Arc::clone(&connections),
            ),
            config: Arc::clone(&config),
            store: store.clone(),
            attachments: Arc::new(attachments::Attachments::new(
                store.clone(),
                Arc::clone(&config),
                Arc::clone(&directory),
            )),
            hubs,
            directory,
            docs,
            connections,
            user_send_limits: Mutex::new(HashMap::new()),
            user_state_limits: Mutex::new(HashMap::new()),
            content_gate: gate::WorkGate::new(
                "document content reads",
                config.documents.max_content_reads,
                config.documents.max_content_reads * 4,
            ),
            search_gate: gate::WorkGate::new(
                "searches",
                config.realtime.max_concurrent_searches,
                config.realtime.max_concurrent_searches * 4,
            ),
        });
        let repaired = state
            .store
            .write(|tx, _| Ok((accounts::repair_stored_users(tx)?, Vec::new())))
            .await?;
        if repaired > 0 {
            tracing::warn!(
                repaired,
                "display names brought under the display-name rules"
            );
        }
        state.apply_configured_channels().await?;
        state.ensure_personal_template().await?;
        // Before anyone can upload: files of cut-off uploads and files no row refers to.
        attachments::sweep_at_start(&state.attachments).await;
        drop(store);
        Ok(Self { state, writer })
    }

    /// Serves until `shutdown` completes, then closes every WebSocket with 1001 after flushing
    /// what was queued for it, commits pending writes and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let Self { state, writer } = self;
        let token = state.connections.shutdown.clone();
        maintenance::spawn(Arc::clone(&state));

        let trigger = token.clone();
        tokio::spawn(async move {
            shutdown.await;
            trigger.cancel();
        });

        let router = http::router(Arc::clone(&state));
        http::transport::serve(
            listener,
            router,
            http::transport::HttpSettings::from(&state.config.server),
            token.clone(),
            SHUTDOWN_GRACE,
        )
        .await;
        token.cancel();

        // Sessions see the token, flush their queues and close with 1001.
        state.connections.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, state.connections.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close in time");
        }
        state.store.stop().await;
        drop(state);
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        tracing::info!("shut down");
        Ok(())
    }
}

impl AppState {
    /// Per-user send limit, shared by all of the user's connections.
    pub fn check_user_send_rate(&self, user_id: i64) -> Result<()> {
        let rl = &self.config.rate_limit;
        if rl.user_messages_per_second <= 0.0 {
            return Ok(());
        }
        let mut limits = self
            .user_send_limits
            .lock()
            .map_err(|_| Error::internal("rate limit lock"))?;
        limits
            .entry(user_id)
            .or_insert_with(|| {
                ratelimit::TokenBucket::new(rl.user_messages_per_second, rl.user_message_burst)
            })
            .take()
            .map_err(|ms| Error(parley_protocol::ErrorBody::rate_limited(ms)))
    }

    /// Read-state changes (`mark_read`, `mute`, `unmute`) per user: each may append a durable
    /// event to the user's `@me`.
    pub fn check_user_state_rate(&self, user_id: i64) -> Result<()> {
        let rl = &self.config.rate_limit;
        if rl.user_state_changes_per_second <= 0.0 {
            return Ok(());
        }
        let mut limits = self
            .user_state_limits
            .lock()
            .map_err(|_| Error::internal("rate limit lock"))?;
        limits
            .entry(user_id)
            .or_insert_with(|| {
                ratelimit::TokenBucket::new(
                    rl.user_state_changes_per_second,
                    rl.user_state_change_burst,
                )
            })
            .take()
            .map_err(|ms| Error(parley_protocol::ErrorBody::rate_limited(ms)))
    }

    /// Forgets full buckets so the maps stay bounded by recent activity.
    fn prune_rate_limits(&self) {
        let now = std::time::Instant::now();
        if let Ok(mut limits) = self.user_send_limits.lock() {
            limits.retain(|_, b| !b.is_idle(now));
        }
        if let Ok(mut limits) = self.user_state_limits.lock() {
            limits.retain(|_, b| !b.is_idle(now));
        }
        self.accounts.prune_rate_limits();
    }
}
