//! Configuration: a TOML file in which every key has a default, overridden by `PARLEY_*`
//! environment variables (`PARLEY_REALTIME_MAX_CONNECTIONS=500`), then by command-line flags.
//! docs/configuration.md documents every key; keep the two in step.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use parley_protocol::{Authentication, ChannelType};
use serde::{de, Deserialize, Deserializer};

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
    pub websocket: WebsocketConfig,
    pub rate_limit: RateLimitConfig,
    pub accounts: AccountsConfig,
    pub storage: StorageConfig,
    pub documents: DocumentsConfig,
    pub attachments: AttachmentsConfig,
    pub limits: LimitsConfig,
    /// Channels declared by the operator, keyed by name. Created at start if missing; their
    /// settings are applied on every start.
    pub channels: BTreeMap<String, ChannelConfig>,
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
    /// Open registration through `POST /api/register`.
    pub registration: bool,
    /// `text` or `json`.
    pub log_format: String,
    /// How often live sessions are checked for revoked tokens.
    #[serde(deserialize_with = "duration")]
    pub token_check_interval: Duration,
    /// Host names and addresses the server answers to (the request's `Host`, port ignored).
    /// Empty: any. A DNS-rebinding page reaches a local server under its own host name, so a
    /// server only meant for `localhost` lists it here.
    pub allowed_hosts: Vec<String>,
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebsocketConfig {
    #[serde(deserialize_with = "duration")]
    pub ping_interval: Duration,
    #[serde(deserialize_with = "duration")]
    pub pong_timeout: Duration,
    /// Largest frame (and message) a client may send; bigger ones close with 1009.
    #[serde(deserialize_with = "byte_size")]
    pub max_frame_size: u64,
    /// Socket buffer sizes; small values keep idle connections light.
    #[serde(deserialize_with = "byte_size")]
    pub read_buffer_size: u64,
    #[serde(deserialize_with = "byte_size")]
    pub write_buffer_size: u64,
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

/// Accounts: how much password hashing the server does at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    /// Password hashes (argon2id, 19 MiB and ~50 ms of one core each) computed at once, for
    /// logins and registrations together. 0: the number of cores.
    pub hash_concurrency: usize,
    /// Logins and registrations that may wait for a hashing slot; beyond that they are refused
    /// with 503 `server_busy` and a `Retry-After`.
    pub hash_queue: usize,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            hash_concurrency: 0,
            hash_queue: 64,
        }
    }
}

impl AccountsConfig {
    /// `hash_concurrency`, with 0 resolved to the number of cores.
    pub fn hash_workers(&self) -> usize {
        match self.hash_concurrency {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
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
            registration: true,
            log_format: "text".into(),
            token_check_interval: Duration::from_secs(30),
            allowed_hosts: Vec::new(),
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_http_connections_per_address: 256,
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
        }
    }
}

impl Default for WebsocketConfig {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(20),
            max_frame_size: 64 * 1024,
            read_buffer_size: 1024,
            write_buffer_size: 16 * 1024,
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
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        Self {
            max_size: 25 * 1024 * 1024,
            user_quota: 1024 * 1024 * 1024,
            thumbnail_max_pixels: 40_000_000,
            thumbnail_concurrency: 2,
            upload_expiry: Duration::from_secs(24 * 3600),
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
            read_connections: 4,
            auth_connections: 2,
            max_batch: 1024,
            write_queue: 8192,
            commit_mode: CommitMode::PerBatch,
        }
    }
}

/// The top-level sections `PARLEY_<SECTION>_<KEY>` variables may address.
const ENV_SECTIONS: &[&str] = &[
    "server",
    "realtime",
    "websocket",
    "rate_limit",
    "accounts",
    "storage",
    "documents",
    "attachments",
    "limits",
];

impl Config {
    /// Reads the file (if any), applies `PARLEY_*` overrides from `env`, and checks the result.
    pub fn load(
        path: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?,
            None => String::new(),
        };
        Self::from_toml_and_env(&text, env)
    }

    pub fn from_toml_and_env(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let mut ignored_env = Vec::new();
        for (name, value) in env {
            if !apply_env_override(&mut table, &name, &value)? {
                ignored_env.push(name);
            }
        }
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        config.ignored_env = ignored_env;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |msg: &str| Err(ConfigError::Parse(msg.to_owned()));
        if self.websocket.max_frame_size < 256 {
            return fail("websocket.max_frame_size must be at least 256 bytes");
        }
        if self.realtime.outbound_queue < 4 {
            return fail("realtime.outbound_queue must be at least 4");
        }
        if self.realtime.max_message_length == 0 {
            return fail("realtime.max_message_length must be at least 1");
        }
        if self.websocket.ping_interval.is_zero() || self.websocket.pong_timeout.is_zero() {
            return fail("websocket.ping_interval and pong_timeout must be above zero");
        }
        if self.realtime.max_dm_members < 2 || self.realtime.max_search_results == 0 {
            return fail(
                "realtime.max_dm_members must be at least 2, max_search_results at least 1",
            );
        }
        if self.realtime.max_history_page == 0 {
            return fail("realtime.max_history_page must be at least 1");
        }
        if self.storage.read_connections == 0 || self.storage.max_batch == 0 {
            return fail("storage.read_connections and storage.max_batch must be at least 1");
        }
        let docs = &self.documents;
        if docs.max_update_size < 64 || docs.max_document_size < docs.max_update_size {
            return fail(
                "documents.max_update_size must be at least 64 bytes and at most max_document_size",
            );
        }
        if docs.outbound_queue < 4 || docs.actor_queue < 1 || docs.max_comment_length == 0 {
            return fail("documents.outbound_queue must be at least 4, actor_queue and max_comment_length at least 1");
        }
        if docs.max_awareness_clients_per_connection == 0 || docs.max_content_reads == 0 {
            return fail(
                "documents.max_awareness_clients_per_connection and max_content_reads must be at least 1",
            );
        }
        if self.realtime.max_concurrent_searches == 0 || self.storage.auth_connections == 0 {
            return fail(
                "realtime.max_concurrent_searches and storage.auth_connections must be at least 1",
            );
        }
        if !matches!(docs.create.as_str(), "members" | "admins") {
            return fail("documents.create must be \"members\" or \"admins\"");
        }
        if !matches!(self.server.log_format.as_str(), "text" | "json") {
            return fail("server.log_format must be \"text\" or \"json\"");
        }
        let files = &self.attachments;
        if files.thumbnail_concurrency == 0 || files.upload_expiry.is_zero() {
            return fail(
                "attachments.thumbnail_concurrency must be at least 1, upload_expiry above zero",
            );
        }
        if self.server.header_read_timeout.is_zero() || self.server.body_read_timeout.is_zero() {
            return fail("server.header_read_timeout and body_read_timeout must be above zero");
        }
        for host in &self.server.allowed_hosts {
            if crate::http::transport::normalize_host(host).is_none() {
                return Err(ConfigError::Parse(format!(
                    "server.allowed_hosts: {host:?} is not a host name or address"
                )));
            }
        }
        if self.realtime.max_connections_per_address == 0
            || self.server.max_http_connections_per_address == 0
        {
            return fail(
                "realtime.max_connections_per_address and \
                 server.max_http_connections_per_address must be at least 1",
            );
        }
        for name in self.channels.keys() {
            if let Err(e) = crate::chat::channels::validate_name(name) {
                return Err(ConfigError::Parse(format!("channel {name:?}: {e}")));
            }
        }
        Ok(())
    }

    /// The data directory: configured, or the platform default.
    pub fn data_dir(&self) -> PathBuf {
        let configured = self
            .server
            .data_dir
            .clone()
            .filter(|p| !p.as_os_str().is_empty());
        configured.unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(|| PathBuf::from("."))
                .join("parley")
        })
    }
}

/// `PARLEY_REALTIME_MAX_CONNECTIONS=500` sets `realtime.max_connections`. The value is read as
/// a TOML value when it parses as one (numbers, booleans, arrays), else as a string. Variables
/// that name no known key (`PARLEY_SERVER_URL`, used by other Parley tools) are ignored with a
/// warning rather than stopping the server; a known key with a bad value is an error.
/// Returns false for a `PARLEY_<SECTION>_...` variable that was ignored.
fn apply_env_override(
    table: &mut toml::Table,
    name: &str,
    value: &str,
) -> Result<bool, ConfigError> {
    let Some(rest) = name.strip_prefix("PARLEY_") else {
        return Ok(true);
    };
    let rest = rest.to_ascii_lowercase();
    let Some(section) = ENV_SECTIONS
        .iter()
        .find(|s| rest.starts_with(&format!("{s}_")))
    else {
        return Ok(true);
    };
    let key = &rest[section.len() + 1..];
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    if !section_has_key(section, key, &parsed) {
        return Ok(false);
    }
    let entry = table
        .entry(section.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(section_table) => {
            section_table.insert(key.to_owned(), parsed);
            Ok(true)
        }
        _ => Err(ConfigError::Parse(format!("[{section}] is not a table"))),
    }
}

/// Whether `[section] key` exists: a table holding only that key is read into the section's
/// type, which refuses unknown fields.
fn section_has_key(section: &str, key: &str, value: &toml::Value) -> bool {
    fn check<T: serde::de::DeserializeOwned>(table: toml::Table, key: &str) -> bool {
        match toml::Value::Table(table).try_into::<T>() {
            Ok(_) => true,
            Err(e) => !e.to_string().contains(&format!("unknown field `{key}`")),
        }
    }
    let mut table = toml::Table::new();
    table.insert(key.to_owned(), value.clone());
    match section {
        "server" => check::<ServerConfig>(table, key),
        "realtime" => check::<RealtimeConfig>(table, key),
        "websocket" => check::<WebsocketConfig>(table, key),
        "rate_limit" => check::<RateLimitConfig>(table, key),
        "accounts" => check::<AccountsConfig>(table, key),
        "storage" => check::<StorageConfig>(table, key),
        "documents" => check::<DocumentsConfig>(table, key),
        "attachments" => check::<AttachmentsConfig>(table, key),
        "limits" => check::<LimitsConfig>(table, key),
        _ => false,
    }
}

/// Reads "30s", "5m", "7d", "1h 30m", "0" or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

/// Reads "64kb", "1mb", "512b", "4 KiB" or a bare number of bytes (k = 1024).
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(digits_end);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("invalid size {text:?}"))?;
    let multiplier: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        other => return Err(format!("invalid size unit {other:?} in {text:?}")),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match NumberOrText::deserialize(d)? {
        NumberOrText::Number(secs) => Ok(Duration::from_secs(secs)),
        NumberOrText::Text(text) => parse_duration(&text).map_err(de::Error::custom),
    }
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match NumberOrText::deserialize(d)? {
        NumberOrText::Number(n) => Ok(n),
        NumberOrText::Text(text) => parse_byte_size(&text).map_err(de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_file() {
        let c = Config::from_toml_and_env("", []).expect("defaults");
        assert_eq!(c.websocket.max_frame_size, 65536);
        assert!(c.realtime.enabled);
    }

    #[test]
    fn modelled_keys_and_env_override() {
        let text = r#"
            [realtime]
            enabled = true
            max_connections = 100
            channel_limit = 5
            message_retention = "7d"
            presence_timeout = "30s"
            [websocket]
            ping_interval = "20s"
            pong_timeout = "10s"
            max_frame_size = "64kb"
            [channels."chat-room"]
            type = "presence"
            authentication = "optional"
            presence = true
            message_history = 100
            user_specific = false
            auto_subscribe = true
            max_participants = 50
        "#;
        let env = [
            (
                "PARLEY_REALTIME_MAX_CONNECTIONS".to_string(),
                "7".to_string(),
            ),
            (
                "PARLEY_SERVER_REGISTRATION".to_string(),
                "false".to_string(),
            ),
            (
                "PARLEY_WEBSOCKET_MAX_FRAME_SIZE".to_string(),
                "1mb".to_string(),
            ),
            ("UNRELATED".to_string(), "x".to_string()),
            (
                "PARLEY_SERVER_URL".to_string(),
                "http://elsewhere".to_string(),
            ),
        ];
        let c = Config::from_toml_and_env(text, env).expect("parses");
        assert_eq!(c.ignored_env, ["PARLEY_SERVER_URL"]);
        assert_eq!(c.realtime.max_connections, 7);
        assert!(!c.server.registration);
        assert_eq!(c.websocket.max_frame_size, 1024 * 1024);
        assert_eq!(c.realtime.message_retention, Duration::from_secs(7 * 86400));
        let room = &c.channels["chat-room"];
        assert_eq!(room.kind, ChannelType::Presence);
        assert_eq!(room.max_participants, Some(50));
    }

    #[test]
    fn limits_section_and_its_env_overrides() {
        let c = Config::from_toml_and_env("", []).expect("defaults");
        assert_eq!(c.limits.channels_per_user, 100);
        assert_eq!(c.limits.version_bytes_per_user, 1024 * 1024 * 1024);
        let env = [
            (
                "PARLEY_LIMITS_DOCUMENTS_PER_USER".to_string(),
                "7".to_string(),
            ),
            (
                "PARLEY_LIMITS_VERSION_BYTES_PER_USER".to_string(),
                "10mb".to_string(),
            ),
            (
                "PARLEY_DOCUMENTS_MAX_AWARENESS_STATE".to_string(),
                "1kb".to_string(),
            ),
            (
                "PARLEY_REALTIME_SEARCH_TIMEOUT".to_string(),
                "500ms".to_string(),
            ),
        ];
        let c = Config::from_toml_and_env("[limits]\ndms_per_user = 3\n", env).expect("parses");
        assert_eq!(c.limits.documents_per_user, 7);
        assert_eq!(c.limits.dms_per_user, 3);
        assert_eq!(c.limits.version_bytes_per_user, 10 * 1024 * 1024);
        assert_eq!(c.documents.max_awareness_state, 1024);
        assert_eq!(c.realtime.search_timeout, Duration::from_millis(500));
        assert!(c.ignored_env.is_empty());
        assert!(Config::from_toml_and_env("[limits]\nbogus = 1", []).is_err());
        assert!(Config::from_toml_and_env("[realtime]\nmax_concurrent_searches = 0", []).is_err());
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let err = Config::from_toml_and_env("[websocket]\nmax_frame_size = \"64 parsecs\"", [])
            .expect_err("bad size");
        assert!(err.to_string().contains("max_frame_size") || err.to_string().contains("size"));
        assert!(Config::from_toml_and_env("[realtime]\nbogus = 1", []).is_err());
        let env = [(
            "PARLEY_REALTIME_MAX_CONNECTIONS".to_string(),
            "many".to_string(),
        )];
        assert!(
            Config::from_toml_and_env("", env).is_err(),
            "a known key with a bad value"
        );
        assert!(Config::from_toml_and_env("[channels.\"bad name!\"]", []).is_err());
    }

    #[test]
    fn attachment_limits_are_checked_and_overridable() {
        let c = Config::from_toml_and_env("", []).expect("defaults");
        assert_eq!(c.attachments.thumbnail_max_pixels, 40_000_000);
        assert_eq!(c.attachments.thumbnail_concurrency, 2);
        assert_eq!(c.attachments.upload_expiry, Duration::from_secs(86_400));
        for bad in [
            "[attachments]\nthumbnail_concurrency = 0",
            "[attachments]\nupload_expiry = \"0\"",
        ] {
            assert!(Config::from_toml_and_env(bad, []).is_err(), "{bad}");
        }
        let env = [
            (
                "PARLEY_ATTACHMENTS_UPLOAD_EXPIRY".to_string(),
                "2h".to_string(),
            ),
            (
                "PARLEY_ATTACHMENTS_THUMBNAIL_MAX_PIXELS".to_string(),
                "1000".to_string(),
            ),
        ];
        let c = Config::from_toml_and_env("", env).expect("parses");
        assert_eq!(c.attachments.upload_expiry, Duration::from_secs(7200));
        assert_eq!(c.attachments.thumbnail_max_pixels, 1000);
        assert!(c.ignored_env.is_empty());
    }

    #[test]
    fn hardening_keys_from_file_and_env() {
        let c = Config::from_toml_and_env("", []).expect("defaults");
        assert!(c.server.allowed_hosts.is_empty());
        assert_eq!(c.realtime.max_connections_per_address, 256);
        assert!(c.accounts.hash_workers() >= 1);
        let env = [
            (
                "PARLEY_SERVER_ALLOWED_HOSTS".to_string(),
                r#"["127.0.0.1","localhost"]"#.to_string(),
            ),
            ("PARLEY_ACCOUNTS_HASH_QUEUE".to_string(), "3".to_string()),
            (
                "PARLEY_SERVER_HEADER_READ_TIMEOUT".to_string(),
                "5s".to_string(),
            ),
        ];
        let c = Config::from_toml_and_env("[accounts]\nhash_concurrency = 2", env).expect("parses");
        assert_eq!(c.server.allowed_hosts, ["127.0.0.1", "localhost"]);
        assert_eq!((c.accounts.hash_workers(), c.accounts.hash_queue), (2, 3));
        assert_eq!(c.server.header_read_timeout, Duration::from_secs(5));
        assert!(c.ignored_env.is_empty());
        for bad in [
            "[server]\nallowed_hosts = [\"not a host\"]",
            "[server]\nbody_read_timeout = 0",
            "[realtime]\nmax_connections_per_address = 0",
        ] {
            assert!(Config::from_toml_and_env(bad, []).is_err(), "{bad}");
        }
    }
}
