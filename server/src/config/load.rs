//! Reading the configuration: the TOML file, then `PARLEY_*` environment overrides, then the
//! checks a loaded configuration must pass.

use std::path::PathBuf;

use super::{
    normalize_host, AccountsConfig, AttachmentsConfig, Config, ConfigError, DocumentsConfig,
    LimitsConfig, MetricsConfig, RateLimitConfig, RealtimeConfig, ServerConfig, StorageConfig,
    WebsocketConfig, WorkspaceConfig,
};

/// The top-level sections `PARLEY_<SECTION>_<KEY>` variables may address.
const ENV_SECTIONS: &[&str] = &[
    "server",
    "realtime",
    "websocket",
    "rate_limit",
    "accounts",
    "storage",
    "cluster",
    "documents",
    "attachments",
    "limits",
    "workspace",
    "metrics",
    "webhook_delivery",
    "analytics",
    "web",
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
        if let Some(toml::Value::Table(server)) = table.get("server") {
            if server.contains_key("registration") {
                return Err(ConfigError::Parse(
                    super::accounts::REGISTRATION_MOVED.into(),
                ));
            }
        }
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
        if self.accounts.max_tokens_per_user == 0 {
            return fail("accounts.max_tokens_per_user must be at least 1");
        }
        if self.realtime.max_message_length == 0 {
            return fail("realtime.max_message_length must be at least 1");
        }
        if self.websocket.max_batch_bytes == 0 {
            return fail("websocket.max_batch_bytes must be at least 1 byte");
        }
        if self.realtime.max_event_size == 0 {
            return fail("realtime.max_event_size must be at least 1 byte");
        }
        if self.analytics.enabled {
            if self.analytics.interval < std::time::Duration::from_millis(100) {
                return fail("analytics.interval must be at least 100ms");
            }
            crate::names::validate_channel_name(&self.analytics.channel)
                .map_err(|e| ConfigError::Parse(format!("analytics.channel: {e}")))?;
        }
        let delivery = &self.webhook_delivery;
        if delivery.concurrency == 0 || delivery.timeout.is_zero() || delivery.max_endpoints == 0 {
            return fail(
                "webhook_delivery.concurrency, timeout and max_endpoints must be above zero",
            );
        }
        if delivery.poll_interval < std::time::Duration::from_millis(10) {
            return fail("webhook_delivery.poll_interval must be at least 10ms");
        }
        if delivery.retry_schedule.len() > 50 {
            return fail("webhook_delivery.retry_schedule has at most 50 waits");
        }
        if self.webhooks.len() > delivery.max_endpoints {
            return fail("more [[webhooks]] than webhook_delivery.max_endpoints");
        }
        for hook in &self.webhooks {
            crate::hook_rules::check_endpoint(
                &hook.url,
                &hook.secret,
                &hook.events,
                &hook.channels,
            )
            .map_err(|e| {
                ConfigError::Parse(format!("[[webhooks]] {}: {}", hook.url, e.0.message))
            })?;
        }
        if self.websocket.ping_interval.is_zero() || self.websocket.pong_timeout.is_zero() {
            return fail("websocket.ping_interval and pong_timeout must be above zero");
        }
        if self.realtime.max_dm_members < 2 || self.realtime.max_search_results == 0 {
            return fail(
                "realtime.max_dm_members must be at least 2, max_search_results at least 1",
            );
        }
        self.accounts.validate().map_err(ConfigError::Parse)?;
        self.cluster
            .validate(self.storage.backend, self.server.listen)
            .map_err(ConfigError::Parse)?;
        self.web.validate().map_err(ConfigError::Parse)?;
        if self.realtime.max_history_page == 0 {
            return fail("realtime.max_history_page must be at least 1");
        }
        if self.storage.backend == super::StorageBackend::Postgres {
            match &self.storage.postgres_url {
                None => return fail("storage.backend = \"postgres\" needs storage.postgres_url"),
                Some(url) => {
                    if let Err(e) = url.parse::<postgres::Config>() {
                        return Err(ConfigError::Parse(format!(
                            "storage.postgres_url is not a PostgreSQL URL: {e}"
                        )));
                    }
                }
            }
        }
        if self.storage.read_connections == 0
            || self.storage.max_batch == 0
            || self.storage.checkpoint_pages == 0
        {
            return fail(
                "storage.read_connections, storage.max_batch and storage.checkpoint_pages must be at least 1",
            );
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
        if let Some(dir) = &files.dir {
            if self.storage.backend != super::StorageBackend::Postgres {
                return fail(
                    "attachments.dir is for nodes that share a directory: it needs \
                     storage.backend = \"postgres\" (a SQLite workspace keeps its files in its \
                     data directory, where backup and restore find them)",
                );
            }
            if !dir.is_absolute() {
                return fail("attachments.dir must be an absolute path");
            }
        }
        if self.server.header_read_timeout.is_zero() || self.server.body_read_timeout.is_zero() {
            return fail("server.header_read_timeout and body_read_timeout must be above zero");
        }
        for host in &self.server.allowed_hosts {
            if normalize_host(host).is_none() {
                return Err(ConfigError::Parse(format!(
                    "server.allowed_hosts: {host:?} is not a host name or address"
                )));
            }
        }
        for origin in &self.server.cors_origins {
            if let Err(why) = super::check_origin(origin) {
                return Err(ConfigError::Parse(format!("server.cors_origins: {why}")));
            }
        }
        if let Err(e) = crate::address::TrustedProxies::parse(&self.server.trusted_proxies) {
            return Err(ConfigError::Parse(format!("server.trusted_proxies: {e}")));
        }
        let set = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| !p.as_os_str().is_empty());
        if set(&self.server.tls_cert) != set(&self.server.tls_key) {
            return fail("server.tls_cert and server.tls_key must be set together");
        }
        if self
            .metrics
            .token
            .as_ref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return fail("metrics.token must not be empty: leave it out to serve loopback only");
        }
        if self.realtime.max_connections_per_address == 0
            || self.server.max_http_connections_per_address == 0
        {
            return fail(
                "realtime.max_connections_per_address and \
                 server.max_http_connections_per_address must be at least 1",
            );
        }
        if let Some(name) = self.workspace.first_channel() {
            if let Err(e) = crate::names::validate_channel_name(name) {
                return Err(ConfigError::Parse(format!("workspace.first_channel: {e}")));
            }
        }
        for name in self.channels.keys() {
            if let Err(e) = crate::names::validate_channel_name(name) {
                return Err(ConfigError::Parse(format!("channel {name:?}: {e}")));
            }
        }
        Ok(())
    }

    /// Where attachment files live: `attachments.dir`, or `<data_dir>/attachments`.
    pub fn attachments_dir(&self) -> PathBuf {
        self.attachments
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir().join("attachments"))
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
    if *section == "server" && key == "registration" {
        return Err(ConfigError::Parse(
            super::accounts::REGISTRATION_MOVED.into(),
        ));
    }
    let text = toml::Value::String(value.to_owned());
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| text.clone());
    let Some(fits) = section_key_fits(section, key, &parsed) else {
        return Ok(false);
    };
    // A string setting keeps the text as given: a token of digits (or `1e5`) stays a string.
    let parsed = if !fits && section_key_fits(section, key, &text) == Some(true) {
        text
    } else {
        parsed
    };
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

/// Whether `[section] key` exists (None: it does not) and takes `value`: a table holding only
/// that key is read into the section's type, which refuses unknown fields.
fn section_key_fits(section: &str, key: &str, value: &toml::Value) -> Option<bool> {
    fn check<T: serde::de::DeserializeOwned>(table: toml::Table, key: &str) -> Option<bool> {
        match toml::Value::Table(table).try_into::<T>() {
            Ok(_) => Some(true),
            Err(e) if e.to_string().contains(&format!("unknown field `{key}`")) => None,
            Err(_) => Some(false),
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
        "cluster" => check::<super::ClusterConfig>(table, key),
        "documents" => check::<DocumentsConfig>(table, key),
        "attachments" => check::<AttachmentsConfig>(table, key),
        "limits" => check::<LimitsConfig>(table, key),
        "workspace" => check::<WorkspaceConfig>(table, key),
        "metrics" => check::<MetricsConfig>(table, key),
        "webhook_delivery" => check::<super::WebhookDeliveryConfig>(table, key),
        "analytics" => check::<super::AnalyticsConfig>(table, key),
        "web" => check::<super::WebConfig>(table, key),
        _ => None,
    }
}
