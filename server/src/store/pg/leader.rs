//! One node delivers webhooks (`WebhookStore::lead_deliveries`): every node writes the events
//! it commits to the shared outbox, but only the node holding a session-level advisory lock
//! turns the outbox into deliveries and sends them, so each delivery goes out from one place,
//! in order per channel. The lock lives with the connection that took it: when that node stops,
//! crashes or loses the database, PostgreSQL releases it and the next node to ask takes over.

use std::sync::Mutex;

use postgres::Client;

use super::{PgStore, Target};
use crate::error::{Error, Result};

/// The advisory lock key of webhook delivery ("PARLEY" + 1).
const DELIVERY_LOCK: i64 = 0x5041_524c_4559 + 1;

pub(super) struct Leader {
    target: Target,
    /// The connection holding the lock, while this node holds it.
    held: Mutex<Option<Client>>,
}

impl Leader {
    pub(super) fn new(target: Target) -> Self {
        Self {
            target,
            held: Mutex::new(None),
        }
    }

    /// True while this node holds the lock (checked on its connection), or once it took it.
    fn check(&self) -> Result<bool> {
        let mut held = self
            .held
            .lock()
            .map_err(|_| Error::internal("leader lock poisoned"))?;
        if let Some(client) = held.as_mut() {
            if !client.is_closed() && client.simple_query("SELECT 1").is_ok() {
                return Ok(true);
            }
            // The connection is gone, and the lock with it.
            tracing::warn!("lost the webhook delivery lock with its connection");
            *held = None;
        }
        let mut client = self.target.connect()?;
        let taken: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&DELIVERY_LOCK])?
            .get(0);
        if taken {
            tracing::info!("this node delivers the webhooks");
            *held = Some(client);
        }
        Ok(taken)
    }
}

impl Drop for Leader {
    /// The client owns a small runtime, not to be dropped on an async worker.
    fn drop(&mut self) {
        if let Some(client) = self.held.get_mut().ok().and_then(Option::take) {
            let _ = std::thread::Builder::new()
                .name("parley-store-close".into())
                .spawn(move || drop(client));
        }
    }
}

impl PgStore {
    pub(super) async fn lead(&self) -> Result<bool> {
        let leader = std::sync::Arc::clone(&self.leader);
        tokio::task::spawn_blocking(move || leader.check())
            .await
            .map_err(|e| Error::internal(format_args!("leader check failed: {e}")))?
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test: a panic is how it fails
mod tests {
    use std::sync::Arc;

    use crate::{config::StorageConfig, store::WebhookStore};

    /// Two nodes on one database: one leads; when it goes, the other takes over.
    #[tokio::test]
    async fn one_node_leads_and_another_takes_over_when_it_goes() {
        let (pg, first, second) = tokio::task::spawn_blocking(|| {
            let pg = parley_testkit::postgres::Postgres::start();
            let config = StorageConfig {
                read_connections: 1,
                auth_connections: 1,
                ..StorageConfig::default()
            };
            let open = || {
                super::super::open(&pg.url(), &config, None, Arc::new(|_| {}), Arc::default())
                    .unwrap()
                    .0
            };
            let (first, second) = (open(), open());
            (pg, first, second)
        })
        .await
        .unwrap();
        assert!(first.lead_deliveries().await.unwrap());
        assert!(first.lead_deliveries().await.unwrap(), "it keeps the lead");
        assert!(!second.lead_deliveries().await.unwrap());
        drop(first);
        // The first node's lock goes with its connection, closed on a thread of its own.
        let took_over = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while !second.lead_deliveries().await.unwrap() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(took_over.is_ok(), "the second node takes over");
        drop(pg);
    }
}
