//! Document leases in Redis (docs/scaling.md, `docs::owner`): the key `<prefix>:doc:<id>`
//! holds `<node> <advertised URL>` of the node serving the document, with an expiry of
//! `cluster.document_lease`, renewed every third of it while the document is open there. Each
//! step is one Lua script, so a read and the write that depends on it cannot interleave with
//! another node's.

use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::MultiplexedConnection;

use super::{wire, Cluster};
use crate::docs::owner::{DocLeases, Owner};

/// A Redis failure, as a sentence for the log (a warning: the store's claim keeps documents
/// safe without Redis, so this is no server error).
type Result<T> = std::result::Result<T, String>;

/// The holder, taking the lease for ARGV[1] when nobody holds it.
const OWNER: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder then return holder end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]";

/// 1 when ARGV[1] holds the lease (renewed) or took it again (it had lapsed); 0 when another
/// node holds it.
const RENEW: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0";

/// Replaces the holder ARGV[3] (an earlier process of this node, at this node's address) with
/// ARGV[1]; 1 when it did.
const TAKE_OVER: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0";

impl Cluster {
    /// Where the other nodes reach this one; set from the listening address when
    /// `cluster.advertise` is not.
    pub fn advertise_default(&self, scheme: &str, addr: std::net::SocketAddr) {
        let _ = self.advertise.set(format!("{scheme}://{addr}"));
    }

    /// This node's value in a lease.
    fn holder(&self) -> Option<String> {
        self.advertise
            .get()
            .map(|url| format!("{:016x} {url}", self.node))
    }

    fn lease_key(&self, doc_id: i64) -> String {
        format!("{}:doc:{doc_id}", self.prefix)
    }

    /// The shared connection for leases and rate limits (made on first use, made again after
    /// an error).
    /// Nothing waits on the lock while connecting: callers connect side by side, and the
    /// first connection made is the one kept.
    pub(super) async fn connection(&self) -> Result<MultiplexedConnection> {
        if let Some(conn) = &*self.calls.lock().await {
            return Ok(conn.clone());
        }
        let conn = tokio::time::timeout(
            self.redis_timeout(),
            self.client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| "connecting to Redis timed out".to_owned())?
        .map_err(|e| format!("Redis: {e}"))?;
        Ok(self.calls.lock().await.get_or_insert(conn).clone())
    }

    pub(super) fn redis_timeout(&self) -> Duration {
        (self.lease / 3).min(Duration::from_secs(2))
    }

    /// Runs one of the scripts above on the lease of `doc_id`.
    async fn lease_script<T: redis::FromRedisValue>(
        &self,
        script: &str,
        doc_id: i64,
        holder: &str,
    ) -> Result<T> {
        self.lease_script_with(script, doc_id, holder, "").await
    }

    async fn lease_script_with<T: redis::FromRedisValue>(
        &self,
        script: &str,
        doc_id: i64,
        holder: &str,
        extra: &str,
    ) -> Result<T> {
        let mut conn = self.connection().await?;
        let ms = u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script)
            .arg(1)
            .arg(self.lease_key(doc_id))
            .arg(holder)
            .arg(ms)
            .arg(extra);
        let call = cmd.query_async::<T>(&mut conn);
        let result = match tokio::time::timeout(self.redis_timeout(), call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(format!("Redis: {err}")),
            Err(_) => Err("a Redis call timed out".to_owned()),
        };
        if result.is_err() {
            // The next call connects afresh.
            *self.calls.lock().await = None;
        }
        result
    }
}

impl DocLeases for Cluster {
    fn owner(&self, doc_id: i64) -> BoxFuture<'_, Owner> {
        Box::pin(async move {
            let (Some(me), Some(my_url)) = (self.holder(), self.advertise.get()) else {
                return Owner::Here;
            };
            for _ in 0..2 {
                let holder = match self.lease_script::<String>(OWNER, doc_id, &me).await {
                    Ok(holder) => holder,
                    Err(err) => {
                        // Serve it here: the store's claim keeps a second writer out.
                        tracing::warn!(doc_id, %err, "cannot read a document's lease");
                        return Owner::Here;
                    }
                };
                if holder == me {
                    return Owner::Here;
                }
                match holder.split_once(' ') {
                    // This node's address under another node id: a process that ran here
                    // before (killed, restarted). Relaying would come back here; take it over
                    // (and look again if someone else took it meanwhile).
                    Some((_, url)) if url == my_url => {
                        match self
                            .lease_script_with::<i64>(TAKE_OVER, doc_id, &me, &holder)
                            .await
                        {
                            Ok(1) => return Owner::Here,
                            Ok(_) => continue,
                            Err(err) => {
                                tracing::warn!(doc_id, %err, "cannot take over a document's lease");
                                return Owner::Here;
                            }
                        }
                    }
                    Some((_, url)) if !url.is_empty() => return Owner::There(url.to_owned()),
                    _ => {
                        tracing::warn!(doc_id, holder, "a document lease names no node");
                        return Owner::Here;
                    }
                }
            }
            Owner::Here
        })
    }

    fn renew(&self, doc_id: i64) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let Some(me) = self.holder() else {
                return Ok(true);
            };
            Ok(self.lease_script::<i64>(RENEW, doc_id, &me).await? == 1)
        })
    }

    fn release(&self, doc_id: i64) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let Some(me) = self.holder() else {
                return;
            };
            if let Err(err) = self.lease_script::<i64>(RELEASE, doc_id, &me).await {
                tracing::debug!(doc_id, %err, "cannot release a document's lease; it lapses");
            }
        })
    }

    fn renew_every(&self) -> Duration {
        self.lease / 3
    }

    fn changed(&self, doc_id: i64, user_id: Option<i64>) {
        if self
            .outbox
            .try_send(wire::doc_changed(self.node, doc_id, user_id))
            .is_err()
        {
            self.metrics.cluster.unsent.inc();
        }
    }
}
