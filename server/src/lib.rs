//! parley-server: Parley's realtime server as a library, so that tests (through the test kit)
//! can run the real thing in-process; the desktop app runs the `parley-server` binary. `main.rs`
//! only parses the command line, binds and calls [`run`].
//!
//! Layout, outside in (imports point one way; ARCHITECTURE.md "Inside the server"): `http`
//! (router, extractors, upgrades, accept loop) → the two kinds of WebSocket connection
//! (`chat::session`, `docs::conn`) → the areas `chat`, `docs`, `accounts`, `attachments` →
//! `ws` (connection machinery both kinds share) and `store` (traits, SQLite, the
//! group-committing writer). `config`, `error`, `metrics`, `names`, `ratelimit`, `gate` and
//! `address` are used by all. [`AppState`] bundles the areas' services (`chat::Chat`,
//! `docs::Documents`, `accounts::Accounts`, `attachments::Attachments`); `maintenance` runs the
//! upkeep loops.

pub mod accounts;
pub mod address;
mod analytics;
mod attachments;
pub mod backup;
pub mod chat;
pub mod cluster;
pub mod config;
pub mod datadir;
pub mod docs;
pub mod error;
mod gate;
pub mod hook_rules;
mod http;
pub(crate) mod maintenance;
pub mod metrics;
pub mod names;
pub mod process;
pub mod queue;
pub mod ratelimit;
pub mod scope;
pub mod store;
pub mod webhooks;
pub mod ws;

use std::{future::Future, sync::Arc, time::Duration};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use error::{Error, Result};
pub use http::tls::{Tls, TlsError};

/// Everything a request handler needs, passed explicitly (no globals): one service per area.
pub struct AppState {
    pub config: Arc<Config>,
    /// Storage, seen per area through its traits.
    pub stores: store::Stores,
    /// Channels, members, messages, reads, threads, search, and the hubs that fan events out.
    pub chat: Arc<chat::Chat>,
    /// Documents: who may do what with them, comments, versions, the actors of open ones.
    pub docs: docs::Documents,
    /// Uploads, downloads, upload sessions and thumbnails.
    pub(crate) attachments: Arc<attachments::Attachments>,
    /// Signing in and out, registering, the user behind a token.
    pub accounts: accounts::Accounts,
    /// Every live WebSocket connection, their caps, and the shutdown signal.
    pub connections: Arc<ws::Connections>,
    /// Per-user limits shared by chat and documents (sends, read-state changes).
    rates: Arc<ratelimit::UserRates>,
    /// What `/metrics` serves; the services count into it too.
    pub metrics: Arc<metrics::Metrics>,
    /// Cancelled when a shutdown is requested: `/readyz` answers 503 from then on, through
    /// `server.drain_period` and the stop that follows.
    pub(crate) draining: CancellationToken,
    /// Outbound webhooks: what the outbox holds goes to the endpoints.
    pub webhooks: Arc<webhooks::Dispatcher>,
    /// Cancelled once the store has stopped: the relay to the other nodes stops with it.
    cluster_stop: CancellationToken,
    /// This node's part in a cluster (`cluster.redis_url`), if any.
    pub cluster: Option<Arc<cluster::Cluster>>,
}

/// How long shutdown waits for connections to flush and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A server whose storage is open and ready; [`Server::serve`] starts answering.
pub struct Server {
    state: Arc<AppState>,
    writer: std::thread::JoinHandle<()>,
    tls: Option<Arc<Tls>>,
}

/// Opens storage and serves on `listener` until `shutdown` completes (see [`Server::serve`]).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    Server::open(config).await?.serve(listener, shutdown).await
}

/// Opens the store the configuration names (`storage.backend`).
async fn open_store(
    config: &Arc<Config>,
    publisher: store::Publisher,
    metrics: Arc<metrics::Metrics>,
) -> Result<(store::Stores, std::thread::JoinHandle<()>)> {
    match config.storage.backend {
        config::StorageBackend::Sqlite => {
            let (store, writer) = store::open(
                &config.data_dir(),
                &config.storage,
                config.workspace.first_channel(),
                publisher,
                metrics,
            )?;
            Ok((store::Stores::new(Arc::new(store)), writer))
        }
        config::StorageBackend::Postgres => {
            let shared_files = config.attachments.dir.is_some();
            let config = Arc::clone(config);
            // Connecting blocks (the client is synchronous): off the async workers.
            let (store, writer) = tokio::task::spawn_blocking(move || {
                let url = config.storage.postgres_url.as_deref().unwrap_or_default();
                store::pg::open(
                    url,
                    &config.storage,
                    config.workspace.first_channel(),
                    publisher,
                    metrics,
                )
            })
            .await
            .map_err(|e| error::Error::internal(format_args!("opening the store failed: {e}")))??;
            let store = Arc::new(store);
            let mut stores = store::Stores::new(Arc::clone(&store));
            // Attachment contents in PostgreSQL, unless the nodes share a directory for them.
            if !shared_files {
                stores = stores.with_contents(Arc::clone(&store) as Arc<dyn store::ContentStore>);
            }
            // Upload sessions any node can continue.
            stores = stores.with_upload_sessions(store);
            Ok((stores, writer))
        }
    }
}

impl Server {
    /// Opens the database (running migrations), loads channels and applies configured ones.
    pub async fn open(config: Config) -> Result<Self> {
        let config = Arc::new(config);
        let metrics = Arc::new(metrics::Metrics::new());
        let hubs = Arc::new(chat::hub::Hubs::new(
            chat::hub::HubConfig {
                presence_timeout: config.realtime.presence_timeout,
                typing_ttl: config.realtime.typing_ttl,
                typing_interval: config.realtime.typing_interval,
                catchup_limit: config.realtime.outbound_queue * 4,
                queue: 4096,
                presence_tap: std::sync::OnceLock::new(),
                gap_filler: std::sync::OnceLock::new(),
                relay: std::sync::OnceLock::new(),
            },
            Arc::clone(&metrics),
        ));
        let cluster = cluster::Cluster::new(&config.cluster, Arc::clone(&metrics))?;
        let publisher: store::Publisher = match &cluster {
            Some(cluster) => cluster.publisher(Arc::clone(&hubs)),
            None => {
                let hubs = Arc::clone(&hubs);
                Arc::new(move |event| hubs.publish(event))
            }
        };
        let (stores, writer) = open_store(&config, publisher, Arc::clone(&metrics)).await?;
        let cluster_stop = CancellationToken::new();
        let directory = Arc::new(chat::channels::Directory::load(&*stores.channels).await?);
        let doc_dir = Arc::new(docs::Docs::load(&*stores.documents, &directory).await?);
        let connections = Arc::new(ws::Connections::new(
            config.realtime.max_connections,
            CancellationToken::new(),
        ));
        if let Some(cluster) = &cluster {
            connections
                .per_address
                .share(Arc::clone(cluster) as Arc<dyn address::SharedConnections>);
        }
        let shared_limits = cluster
            .clone()
            .map(|c| c as Arc<dyn ratelimit::SharedLimiter>);
        let rates = Arc::new(ratelimit::UserRates::new(
            &config.rate_limit,
            Arc::clone(&metrics),
            shared_limits.clone(),
        ));
        let draining = CancellationToken::new();
        let dispatcher = webhooks::Dispatcher::start(
            Arc::clone(&stores.webhooks),
            &config,
            Arc::clone(&metrics),
            draining.clone(),
        )
        .await?;
        let chat = Arc::new(chat::Chat::new(
            Arc::clone(&config),
            stores.clone(),
            hubs,
            Arc::clone(&directory),
            Arc::clone(&rates),
            // Documents live in channels: leaving or deleting one changes who may open them.
            vec![Arc::clone(&doc_dir) as Arc<dyn chat::ChannelListener>],
            Arc::clone(&metrics),
        ));
        chat.set_webhooks(Arc::clone(&dispatcher));
        if let Some(cluster) = &cluster {
            cluster.start(
                Arc::clone(&chat),
                Arc::clone(&stores.events),
                cluster_stop.clone(),
            );
        }
        let state = Arc::new(AppState {
            accounts: accounts::Accounts::new(
                Arc::clone(&stores.accounts),
                Arc::clone(&stores.tokens),
                Arc::clone(&stores.people),
                Arc::clone(&config),
                Arc::clone(&connections),
                Arc::clone(&metrics),
            )
            .with_shared_limits(shared_limits),
            config: Arc::clone(&config),
            stores: stores.clone(),
            attachments: Arc::new(
                attachments::Attachments::new(
                    Arc::clone(&stores.attachments),
                    Arc::clone(&config),
                    directory,
                )
                .with_contents(stores.contents.clone())
                .with_upload_sessions(stores.upload_sessions.clone()),
            ),
            docs: docs::Documents::new(
                Arc::clone(&config),
                stores,
                Arc::clone(&chat),
                doc_dir,
                Arc::clone(&rates),
                Arc::clone(&connections),
                Arc::clone(&metrics),
            )
            .with_leases(
                cluster
                    .clone()
                    .map(|c| c as Arc<dyn docs::owner::DocLeases>),
            ),
            chat,
            connections,
            rates,
            metrics,
            draining,
            webhooks: dispatcher,
            cluster_stop,
            cluster,
        });
        let repaired = state
            .stores
            .accounts
            .repair_users(accounts::user_rules())
            .await?;
        if repaired > 0 {
            tracing::warn!(
                repaired,
                "display names brought under the display-name rules"
            );
        }
        state.chat.apply_configured_channels().await?;
        state.chat.ensure_personal_template().await?;
        // Before anyone can upload: files of cut-off uploads and files no row refers to.
        attachments::sweep_at_start(&state.attachments).await;
        Ok(Self {
            state,
            writer,
            tls: None,
        })
    }

    /// Serves HTTPS and WSS with `tls` (loaded from `server.tls_cert`/`tls_key` by the caller,
    /// which can then report a bad file as it likes), reloaded on SIGHUP.
    pub fn with_tls(mut self, tls: Option<Arc<Tls>>) -> Self {
        self.tls = tls;
        self
    }

    /// `https` when the server serves TLS, else `http`: how its address is written.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serves until `shutdown` completes, then closes every WebSocket with 1001 after flushing
    /// what was queued for it, commits pending writes and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let Self { state, writer, tls } = self;
        if let Some(cluster) = &state.cluster {
            cluster.advertise_default(
                if tls.is_some() { "https" } else { "http" },
                listener.local_addr().map_err(Error::internal)?,
            );
            cluster.set_docs(state.docs.remote());
        }
        let token = state.connections.shutdown.clone();
        maintenance::spawn(Arc::clone(&state));
        analytics::spawn(Arc::clone(&state));
        #[cfg(unix)]
        reload_on_sighup(tls.clone(), token.clone());

        let trigger = token.clone();
        let draining = state.draining.clone();
        let drain_period = state.config.server.drain_period;
        tokio::spawn(async move {
            shutdown.await;
            draining.cancel();
            if !drain_period.is_zero() {
                tracing::info!(
                    ?drain_period,
                    "draining: /readyz answers 503 until the stop"
                );
                tokio::time::sleep(drain_period).await;
            }
            trigger.cancel();
        });

        let router = http::router(Arc::clone(&state));
        http::transport::serve(
            listener,
            router,
            http::transport::HttpSettings::new(&state.config.server, tls),
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
        state.stores.control.stop().await;
        let cluster_stop = state.cluster_stop.clone();
        drop(state);
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        cluster_stop.cancel();
        tracing::info!("shut down");
        Ok(())
    }
}

/// SIGHUP reads the TLS files again (what a certificate renewal hook or `systemctl reload`
/// sends); without TLS there is nothing to reload, and the signal is only logged rather than
/// ending the server as its default action would.
#[cfg(unix)]
fn reload_on_sighup(tls: Option<Arc<Tls>>, stop: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(err) => {
            tracing::warn!(%err, "cannot handle SIGHUP; TLS files will not be reloaded");
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                got = hangups.recv() => if got.is_none() { return },
            }
            match &tls {
                None => tracing::info!("SIGHUP: no TLS files to reload"),
                Some(tls) => match tls.reload() {
                    Ok(()) => tracing::info!("SIGHUP: TLS certificate and key reloaded"),
                    Err(err) => {
                        tracing::error!(%err, "SIGHUP: TLS reload failed; keeping the certificate in use")
                    }
                },
            }
        }
    });
}

impl AppState {
    /// Forgets full buckets so the maps stay bounded by recent activity.
    fn prune_rate_limits(&self) {
        self.rates.prune();
        self.accounts.prune_rate_limits();
    }
}
