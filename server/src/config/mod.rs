//! Configuration: a TOML file in which every key has a default, overridden by `PARLEY_*`
//! environment variables (`PARLEY_REALTIME_MAX_CONNECTIONS=500`), then by command-line flags.
//! docs/configuration.md documents every key; keep the two in step.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use parley_protocol::{Authentication, ChannelType};
use serde::Deserialize;

mod accounts;
mod analytics;
mod cluster;
mod hosts;
mod load;
mod units;
mod web;
mod webhooks;
mod websocket;

pub use accounts::{AccountsConfig, Registration};
pub use analytics::AnalyticsConfig;
pub use cluster::ClusterConfig;
pub use hosts::{check_origin, normalize_host};
use units::{byte_size, duration, opt_duration};
pub use units::{parse_byte_size, parse_duration};
pub use web::WebConfig;
pub use webhooks::{WebhookConfig, WebhookDeliveryConfig};
pub use websocket::WebsocketConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config: {0}")]
    Parse(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub realtime: RealtimeConfig,
    /// `[websocket_config]`, as the realtime product Parley is modelled on names it, is the same
    /// section.
    #[serde(alias = "websocket_config")]
    pub websocket: WebsocketConfig,
    pub rate_limit: RateLimitConfig,
    pub accounts: AccountsConfig,
    pub storage: StorageConfig,
    pub cluster: ClusterConfig,
    pub documents: DocumentsConfig,
    pub attachments: AttachmentsConfig,
    pub limits: LimitsConfig,
    pub workspace: WorkspaceConfig,
    pub metrics: MetricsConfig,
    /// Channels declared by the operator, keyed by name. Created at start if missing; their
    /// settings are applied on every start.
    pub channels: BTreeMap<String, ChannelConfig>,
    /// Webhook endpoints declared by the operator (`[[webhooks]]`).
    pub webhooks: Vec<WebhookConfig>,
    pub webhook_delivery: WebhookDeliveryConfig,
    pub analytics: AnalyticsConfig,
    /// The web app at `/` and browsers' session cookie.
    pub web: WebConfig,
    /// `PARLEY_*` variables that named no setting and were ignored (logged once logging runs).
    #[serde(skip)]
    pub ignored_env: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where the database lives. Empty means the platform's data directory (`~/.local/share/parley`).
    pub data_dir: Option<PathBuf>,
    /// Browser origins allowed to open `/ws`. Requests without an `Origin` header (native
    /// clients) are always allowed. `"*"` allows every origin.
    pub allowed_origins: Vec<String>,
    /// `text` or `json`.
    pub log_format: String,
    /// How often live sessions are checked for revoked tokens.
    #[serde(deserialize_with = "duration")]
    pub token_check_interval: Duration,
    /// Host names and addresses the server answers to (the request's `Host`, port ignored).
    /// Empty: any. A DNS-rebinding page reaches a local server under its own host name, so a
    /// server only meant for `localhost` lists it here.
    pub allowed_hosts: Vec<String>,
    /// Browser origins whose pages may call the HTTP API (`/api/…`): CORS answers for them
    /// only. Empty (the default): none. `"*"`: every origin, without credentials.
    pub cors_origins: Vec<String>,
    /// Longest wait for a request's head (request line and headers), and for the next request
    /// on an idle keep-alive connection. Cuts connections that trickle their headers.
    #[serde(deserialize_with = "duration")]
    pub header_read_timeout: Duration,
    /// Longest wait for the next piece of a request body. Idle time, not total, so a large
    /// upload on a slow link is fine as long as it keeps moving.
    #[serde(deserialize_with = "duration")]
    pub body_read_timeout: Duration,
    /// HTTP connections one client address (IPv6: one /64) may hold open at once, upgraded
    /// WebSockets not counted; further connections are closed as soon as they are accepted.
    pub max_http_connections_per_address: usize,
    /// After a shutdown request (SIGTERM), how long the server keeps serving everything while
    /// `/readyz` answers 503, so that a load balancer stops sending it new clients before it
    /// stops accepting them. 0: stop at once.
    #[serde(deserialize_with = "duration")]
    pub drain_period: Duration,
    /// PEM certificate chain (leaf first) for serving HTTPS and WSS. Set with `tls_key`;
    /// both empty: plain HTTP. The files are read again on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Reverse proxies (addresses or CIDR ranges such as `10.0.0.0/8`) whose
    /// `X-Forwarded-For` header names the client. Requests from anyone else are taken to come
    /// from their peer address, whatever they claim. Empty: no proxy is trusted.
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeConfig {
    pub enabled: bool,
    /// Concurrent WebSocket connections; more are refused with HTTP 503.
    pub max_connections: usize,
    /// Concurrent WebSocket connections (`/ws` and `/docs`) from one client address (IPv6: one
    /// /64); more are refused with HTTP 429 `too_many_connections`.
    pub max_connections_per_address: usize,
    /// Of those, connections that brought no token to the upgrade.
    pub max_anonymous_connections_per_address: usize,
    /// Subscriptions per connection.
    pub channel_limit: u32,
    /// Instance default for how long messages are kept ("0" = forever).
    #[serde(deserialize_with = "duration")]
    pub message_retention: Duration,
    /// Instance default for how many durable events (messages, membership changes) a channel
    /// keeps (0 = no limit).
    pub message_history: u64,
    /// A session with no traffic (frames or pongs) for this long is dropped from presence and
    /// its connection closed.
    #[serde(deserialize_with = "duration")]
    pub presence_timeout: Duration,
    /// Longest message text, in characters.
    pub max_message_length: u64,
    /// Frames queued for one connection before it is considered too slow and closed for resync.
    pub outbound_queue: usize,
    /// How long a typing indicator lasts unless renewed.
    #[serde(deserialize_with = "duration")]
    pub typing_ttl: Duration,
    /// At most one typing broadcast per user and channel per this interval.
    #[serde(deserialize_with = "duration")]
    pub typing_interval: Duration,
    /// How often retention is enforced.
    #[serde(deserialize_with = "duration")]
    pub retention_sweep_interval: Duration,
    /// Sends one connection may have waiting for their commit; a further send waits until one
    /// is answered, and the connection reads nothing else meanwhile. Replies to sends may
    /// arrive after replies to requests sent later.
    pub max_pending_sends: usize,
    /// Most people in a direct-message channel (the one who opens it included).
    pub max_dm_members: usize,
    /// Most hits one `search` returns.
    pub max_search_results: u32,
    /// Most messages one history request returns.
    pub max_history_page: u32,
    /// Longest a fresh connection may stay before its first frame (anonymous sessions included).
    #[serde(deserialize_with = "duration")]
    pub handshake_timeout: Duration,
    /// Longest one `search` may run; a search cut short answers `query_too_broad`.
    #[serde(deserialize_with = "duration")]
    pub search_timeout: Duration,
    /// Searches that run at once (more wait, up to four times this many; beyond, `server_busy`).
    pub max_concurrent_searches: usize,
    /// Largest `data` of a custom event (`publish`), as JSON bytes; more is `event_too_large`.
    #[serde(deserialize_with = "byte_size")]
    pub max_event_size: u64,
    /// How long the `client_id` of an ephemeral custom event is remembered (a repeat within it
    /// is answered `duplicate` and not published again). Durable ones are remembered as long
    /// as the server keeps the channel's events.
    #[serde(deserialize_with = "duration")]
    pub publish_dedup_window: Duration,
    /// Most `client_id`s of ephemeral custom events remembered at once (the oldest go first).
    pub publish_dedup_entries: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sends per second per connection (0 disables), with a burst allowance.
    pub messages_per_second: f64,
    pub message_burst: f64,
    /// Sends per second per user across all their connections (0 disables).
    pub user_messages_per_second: f64,
    pub user_message_burst: f64,
    /// Frames of any kind per second per connection (0 disables).
    pub requests_per_second: f64,
    pub request_burst: f64,
    /// Login and registration attempts per second per user name (0 disables).
    pub logins_per_second: f64,
    pub login_burst: f64,
    /// Read-state changes (`mark_read`, `mute`, `unmute`) per second per user (0 disables).
    pub user_state_changes_per_second: f64,
    pub user_state_change_burst: f64,
    /// Login and registration attempts per second per client address (IPv6: per /64;
    /// 0 disables).
    pub address_logins_per_second: f64,
    pub address_login_burst: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Where everything durable lives: `sqlite` (the data directory; one node) or `postgres`
    /// (`postgres_url`; the database several nodes share, docs/scaling.md).
    pub backend: StorageBackend,
    /// The PostgreSQL database (`postgres://user:password@host:port/database`), for
    /// `backend = "postgres"`. Also `PARLEY_STORAGE_POSTGRES_URL`.
    pub postgres_url: Option<String>,
    /// Read-only SQLite connections in the read pool.
    pub read_connections: usize,
    /// Read-only SQLite connections kept for token checks alone, so heavy reads (searches,
    /// history) never make signing in wait.
    pub auth_connections: usize,
    /// Most writes committed in one transaction (group commit).
    pub max_batch: usize,
    /// Pending writes before senders wait (back-pressure).
    pub write_queue: usize,
    /// `per_batch` (group commit, the default) or `per_write` (one transaction per write;
    /// only for measuring what group commit buys).
    pub commit_mode: CommitMode,
    /// The writer folds the write-ahead log into the database once it holds this many pages,
    /// so the log restarts from its beginning instead of growing while writes never pause.
    pub checkpoint_pages: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageBackend {
    #[default]
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitMode {
    #[default]
    PerBatch,
    PerWrite,
}

/// Per-channel settings, named as in the realtime product Parley is modelled on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelConfig {
    #[serde(rename = "type")]
    pub kind: ChannelType,
    pub authentication: Authentication,
    pub presence: Option<bool>,
    /// Messages kept (0 = no count limit). Unset: the instance default.
    pub message_history: Option<u64>,
    /// How long messages are kept. Unset: the instance default.
    #[serde(deserialize_with = "opt_duration")]
    pub message_retention: Option<Duration>,
    /// A personal instance per user (`NAME` resolves to the caller's own); only that user may
    /// subscribe.
    pub user_specific: bool,
    /// Subscribe every session that may read it as soon as it authenticates.
    pub auto_subscribe: bool,
    pub max_participants: Option<u32>,
    pub topic: Option<String>,
    /// Who may publish custom events: `members` (whoever may send), `admins` (the channel's
    /// admins) or `bots` (bot tokens with the `publish` scope). Workspace admins always may.
    pub publish: parley_protocol::PublishPolicy,
    /// How the channel's documents merge concurrent edits (see [`DocumentsConfig`]).
    pub conflict_resolution: Option<ConflictResolution>,
}

impl ServerConfig {
    /// The certificate and key files when TLS is configured (empty paths count as unset).
    pub fn tls_files(&self) -> Option<(PathBuf, PathBuf)> {
        let set = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        Some((set(&self.tls_cert)?, set(&self.tls_key)?))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            data_dir: None,
            allowed_origins: vec![
                "tauri://localhost".into(),
                "http://tauri.localhost".into(),
                "https://tauri.localhost".into(),
            ],
            log_format: "text".into(),
            token_check_interval: Duration::from_secs(30),
            allowed_hosts: Vec::new(),
            cors_origins: Vec::new(),
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_http_connections_per_address: 256,
            drain_period: Duration::ZERO,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_connections: 20_000,
            max_connections_per_address: 256,
            max_anonymous_connections_per_address: 64,
            channel_limit: 200,
            message_retention: Duration::ZERO,
            message_history: 0,
            presence_timeout: Duration::from_secs(90),
            max_message_length: 8_000,
            outbound_queue: 1024,
            typing_ttl: Duration::from_secs(5),
            typing_interval: Duration::from_secs(1),
            retention_sweep_interval: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            search_timeout: Duration::from_secs(2),
            max_concurrent_searches: 2,
            max_history_page: 500,
            max_pending_sends: 64,
            max_dm_members: 9,
            max_search_results: 100,
            max_event_size: 16 * 1024,
            publish_dedup_window: Duration::from_secs(600),
            publish_dedup_entries: 65_536,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            messages_per_second: 10.0,
            message_burst: 30.0,
            user_messages_per_second: 20.0,
            user_message_burst: 60.0,
            requests_per_second: 100.0,
            request_burst: 300.0,
            logins_per_second: 1.0,
            login_burst: 10.0,
            user_state_changes_per_second: 10.0,
            user_state_change_burst: 50.0,
            address_logins_per_second: 2.0,
            address_login_burst: 30.0,
        }
    }
}

/// Files attached to messages (`/api/attachments`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttachmentsConfig {
    /// Largest file one upload may carry.
    #[serde(deserialize_with = "byte_size")]
    pub max_size: u64,
    /// Total bytes of the files one user has uploaded.
    #[serde(deserialize_with = "byte_size")]
    pub user_quota: u64,
    /// Largest image that gets a thumbnail, in pixels of 4 bytes: decoding one may hold at most
    /// 4 × this many bytes, pixels at their real depth and the decoder's buffers included.
    pub thumbnail_max_pixels: u64,
    /// Images decoded for thumbnails at once; other uploads wait for their turn.
    pub thumbnail_concurrency: usize,
    /// How long a resumable upload session lives after it opens, finished or not.
    #[serde(deserialize_with = "duration")]
    pub upload_expiry: Duration,
    pub dir: Option<PathBuf>, // a directory nodes share for files instead of PostgreSQL
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        Self {
            max_size: 25 * 1024 * 1024,
            user_quota: 1024 * 1024 * 1024,
            thumbnail_max_pixels: 40_000_000,
            thumbnail_concurrency: 2,
            upload_expiry: Duration::from_secs(24 * 3600),
            dir: None,
        }
    }
}

/// Collaborative documents (`/docs/{name}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentsConfig {
    /// Largest single y-websocket frame (one update, or a client's whole state on sync); bigger
    /// frames close the connection with 1009.
    #[serde(deserialize_with = "byte_size")]
    pub max_update_size: u64,
    /// Largest document (its encoded state plus updates not yet compacted); an update that would
    /// pass it closes the sender with 4004 and is not applied.
    #[serde(deserialize_with = "byte_size")]
    pub max_document_size: u64,
    /// Compact the update log into a snapshot once it holds this many bytes.
    #[serde(deserialize_with = "byte_size")]
    pub compact_after: u64,
    /// A document with no connection for this long is compacted and unloaded.
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// Frames queued for one document connection before it is closed as too slow (4000).
    pub outbound_queue: usize,
    /// Commands queued for one document's actor before connections wait.
    pub actor_queue: usize,
    /// Longest comment body, in characters.
    pub max_comment_length: u64,
    /// Named versions kept per document (saving one more fails).
    pub max_versions: u64,
    /// Who may create workspace documents (also by connecting to a new name): `members` (every
    /// signed-in user) or `admins`.
    pub create: String,
    /// Root types rendered in a content answer's `text` (the rest: `truncated`).
    pub max_content_roots: usize,
    /// Content answers decoded at once (more wait, up to four times this many; beyond,
    /// `server_busy`).
    pub max_content_reads: usize,
    /// Largest awareness state (its JSON) one client may announce.
    #[serde(deserialize_with = "byte_size")]
    pub max_awareness_state: u64,
    /// Awareness clients one connection may announce (a stock client has one).
    pub max_awareness_clients_per_connection: usize,
    /// Awareness changes (and queries) per second per connection (0 disables), with a burst;
    /// more are dropped.
    pub awareness_per_second: f64,
    pub awareness_burst: f64,
    /// How concurrent edits are merged. Parley's documents are a Yjs CRDT, which converges
    /// whatever the order: `"crdt"`, or `"operational_transform"` (accepted, with a notice at
    /// start, for configurations written for OT-based products).
    pub conflict_resolution: Option<ConflictResolution>,
}

/// `conflict_resolution` of a channel or of `[documents]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictResolution {
    Crdt,
    OperationalTransform,
}

impl Config {
    /// What the configuration asks for that Parley does differently, to log at start (one line
    /// each; nothing is refused).
    pub fn notices(&self) -> Vec<String> {
        let ot = |place: &str| {
            format!(
                "{place}: conflict_resolution = \"operational_transform\" is accepted; Parley's \
                 documents are a Yjs CRDT, which converges to the same content for everyone \
                 whatever the order edits arrive in, so there is nothing to transform (see \
                 docs/configuration.md)"
            )
        };
        let mut notices = Vec::new();
        if self.documents.conflict_resolution == Some(ConflictResolution::OperationalTransform) {
            notices.push(ot("[documents]"));
        }
        for (name, channel) in &self.channels {
            if channel.conflict_resolution == Some(ConflictResolution::OperationalTransform) {
                notices.push(ot(&format!("[channels.\"{name}\"]")));
            }
        }
        notices
    }
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        Self {
            max_update_size: 8 * 1024 * 1024,
            max_document_size: 64 * 1024 * 1024,
            compact_after: 4 * 1024 * 1024,
            idle_timeout: Duration::from_secs(30),
            outbound_queue: 1024,
            actor_queue: 1024,
            max_comment_length: 10_000,
            max_versions: 1000,
            create: "members".into(),
            max_content_roots: 1000,
            max_content_reads: 2,
            max_awareness_state: 16 * 1024,
            max_awareness_clients_per_connection: 8,
            awareness_per_second: 20.0,
            awareness_burst: 60.0,
            conflict_resolution: None,
        }
    }
}

/// Per-user limits on what one may create or keep (`limit_reached` beyond them). Workspace
/// admins are exempt.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Channels a user has created and that still exist (direct messages, threads and
    /// documents' comments channels not included).
    pub channels_per_user: u64,
    /// Documents a user has created and that still exist.
    pub documents_per_user: u64,
    /// Direct-message channels a user has opened (created) and that still exist.
    pub dms_per_user: u64,
    /// Total bytes of the named document versions a user has saved.
    #[serde(deserialize_with = "byte_size")]
    pub version_bytes_per_user: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            channels_per_user: 100,
            documents_per_user: 200,
            dms_per_user: 500,
            version_bytes_per_user: 1024 * 1024 * 1024,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Sqlite,
            postgres_url: None,
            read_connections: 4,
            auth_connections: 2,
            max_batch: 1024,
            write_queue: 8192,
            commit_mode: CommitMode::PerBatch,
            checkpoint_pages: 2000,
        }
    }
}

/// `GET /metrics` (docs/metrics.md).
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics` at all (off: 404).
    pub enabled: bool,
    /// A bearer token that lets addresses other than loopback read `/metrics`. Unset: only
    /// loopback peers may.
    pub token: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            token: None,
        }
    }
}

/// The token stays out of debug output (and so out of logs).
impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("enabled", &self.enabled)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

#[cfg(test)]
mod tests;

/// What a new workspace starts with.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// The public channel a fresh workspace is created with, which every account joins (it
    /// auto-subscribes, see `[channels.*] auto_subscribe`). Made once, when the data directory
    /// is first opened: a workspace whose admins delete it does not get it back. Empty: none.
    pub first_channel: String,
}

impl Default for WorkspaceConfig {
    fn default() -> Self {
        Self {
            first_channel: "general".to_owned(),
        }
    }
}

impl WorkspaceConfig {
    /// `first_channel`, or None when it is empty.
    pub fn first_channel(&self) -> Option<&str> {
        Some(self.first_channel.as_str()).filter(|name| !name.is_empty())
    }
}
