//! `[cluster]`: several nodes sharing one PostgreSQL database and one Redis (docs/scaling.md).

use std::time::Duration;

use serde::Deserialize;

use super::units::duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// The Redis that carries what is live between nodes (`redis://host:port/db`). Unset: this
    /// node is alone. Needs `storage.backend = "postgres"`. Also `PARLEY_CLUSTER_REDIS_URL`.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and pub/sub channel Parley uses, so several workspaces can
    /// share one Redis.
    pub prefix: String,
    /// Events committed here and waiting to be published to Redis; past it they are not sent
    /// (the other nodes fill such gaps from PostgreSQL).
    pub publish_queue: usize,
    /// How often a node tells Redis it is alive; a node that hears nothing on its
    /// subscription for three of these reconnects.
    #[serde(deserialize_with = "duration")]
    pub heartbeat_interval: Duration,
    /// Where the other nodes reach this one (`http://10.0.0.5:8080`, or `https://` when this
    /// node serves TLS): a document is served by one node at a time, and a connection to it
    /// that lands on another node is passed on to this address. Unset: the address this node
    /// listens on, which must then not be a wildcard (0.0.0.0, ::).
    pub advertise: Option<String>,
    /// How long a node's hold on a document lasts without renewal (renewed every third of
    /// it while the document is open there): after a node dies, its documents move to
    /// another node within this.
    #[serde(deserialize_with = "duration")]
    pub document_lease: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            prefix: "parley".into(),
            publish_queue: 65_536,
            heartbeat_interval: Duration::from_secs(2),
            advertise: None,
            document_lease: Duration::from_secs(10),
        }
    }
}

impl ClusterConfig {
    pub(super) fn validate(
        &self,
        backend: super::StorageBackend,
        listen: std::net::SocketAddr,
    ) -> Result<(), String> {
        let Some(url) = &self.redis_url else {
            return Ok(());
        };
        if backend != super::StorageBackend::Postgres {
            return Err(
                "cluster.redis_url needs storage.backend = \"postgres\" (nodes share one database)"
                    .into(),
            );
        }
        redis::Client::open(url.as_str())
            .map_err(|e| format!("cluster.redis_url is not a Redis URL: {e}"))?;
        if self.prefix.is_empty() || self.prefix.len() > 64 {
            return Err("cluster.prefix must be 1 to 64 characters".into());
        }
        if self.heartbeat_interval < Duration::from_millis(100) {
            return Err("cluster.heartbeat_interval must be at least 100ms".into());
        }
        if self.publish_queue == 0 {
            return Err("cluster.publish_queue must be at least 1".into());
        }
        if self.document_lease < Duration::from_millis(300) {
            return Err("cluster.document_lease must be at least 300ms".into());
        }
        match &self.advertise {
            Some(url) => check_advertise(url)?,
            None if listen.ip().is_unspecified() => {
                return Err(format!(
                    "cluster.advertise must say where the other nodes reach this one: \
                     server.listen ({listen}) is every interface"
                ))
            }
            None => {}
        }
        Ok(())
    }
}

/// `http://host:port` or `https://host:port`, nothing after it.
fn check_advertise(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("cluster.advertise {url:?} must start with http:// or https://"))?;
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "cluster.advertise {url:?} must be a scheme, a host and a port, nothing more"
        ));
    }
    Ok(())
}
