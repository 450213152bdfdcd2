//! Rate limits shared by every node (`ratelimit::Limit`): per user, per login name, per login
//! address. Each is a GCRA cell in Redis (`<prefix>:rl:<limit>:<key>`, the theoretical arrival
//! time in microseconds of Redis's own clock, so the nodes' clocks need not agree), updated by
//! one Lua script per request; it expires once the allowance is whole again, so Redis holds
//! only the keys that were busy lately. When Redis cannot answer in time, each node counts on
//! its own for a second ([`PAUSE`]) before asking again, so a hung Redis costs a send at most
//! one short wait a second.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::Cluster;
use crate::ratelimit::SharedLimiter;

/// 0 when a unit was taken, else the milliseconds until one is available.
/// ARGV: the emission interval (µs per unit) and the tolerance (µs: interval × burst).
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local next_tat = tat + interval
local wait = next_tat - tolerance - now
if wait > 0 then return math.ceil(wait / 1000) end
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return 0";

/// How long a node counts on its own after the shared count failed to answer.
const PAUSE: Duration = Duration::from_secs(1);
/// The longest a request waits for the shared count.
const WAIT: Duration = Duration::from_millis(250);

impl Cluster {
    pub(super) fn limits_paused(&self) -> bool {
        self.limits_paused_until
            .lock()
            .ok()
            .and_then(|until| *until)
            .is_some_and(|until| tokio::time::Instant::now() < until)
    }

    pub(super) async fn pause_limits(&self) {
        if let Ok(mut until) = self.limits_paused_until.lock() {
            *until = Some(tokio::time::Instant::now() + PAUSE);
        }
        *self.calls.lock().await = None;
    }

    /// Runs a shared-count script (rate limits, connection counts) within [`WAIT`] for the
    /// connection and again for the answer. None while paused, or when Redis does not answer
    /// in time or fails (then paused: each node counts on its own for [`PAUSE`]).
    pub(super) async fn shared_count<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        what: &str,
    ) -> Option<T> {
        if self.limits_paused() {
            return None;
        }
        let Ok(Ok(mut conn)) = tokio::time::timeout(WAIT, self.connection()).await else {
            self.pause_limits().await;
            return None;
        };
        match tokio::time::timeout(WAIT.min(self.redis_timeout()), cmd.query_async(&mut conn)).await
        {
            Ok(Ok(answer)) => Some(answer),
            Ok(Err(err)) => {
                tracing::warn!(%err, "shared {what} unavailable; counting on this node");
                self.pause_limits().await;
                None
            }
            Err(_) => {
                tracing::warn!("shared {what} timed out; counting on this node");
                self.pause_limits().await;
                None
            }
        }
    }

    /// Runs a script that gives a shared count back, within the same waits; its failure only
    /// leaves the count high until the entry expires or this node's fields go.
    pub(super) async fn shared_release(&self, cmd: &redis::Cmd) {
        let Ok(Ok(mut conn)) = tokio::time::timeout(WAIT, self.connection()).await else {
            return;
        };
        let call = cmd.query_async::<redis::Value>(&mut conn);
        match tokio::time::timeout(WAIT.min(self.redis_timeout()), call).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::debug!(%err, "cannot give a shared count back"),
            Err(_) => tracing::debug!("giving a shared count back timed out"),
        }
    }
}

impl SharedLimiter for Cluster {
    fn take(&self, key: String, rate: f64, burst: f64) -> BoxFuture<'_, Option<Result<(), u64>>> {
        Box::pin(async move {
            let interval = (1_000_000.0 / rate).ceil().max(1.0) as u64;
            let tolerance = (interval as f64 * burst.max(1.0)) as u64;
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(TAKE)
                .arg(1)
                .arg(format!("{}:rl:{key}", self.prefix))
                .arg(interval)
                .arg(tolerance);
            match self.shared_count::<u64>(&cmd, "rate limits").await? {
                0 => Some(Ok(())),
                wait_ms => Some(Err(wait_ms)),
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test: a panic is how it fails
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{config::ClusterConfig, metrics::Metrics, ratelimit::Limit};

    /// No Redis: the limit is counted on this node, and the shared count is not asked again
    /// for a while (a hung Redis costs one short wait a second, not one per request).
    #[tokio::test]
    async fn without_redis_each_node_counts_on_its_own() {
        let config = ClusterConfig {
            redis_url: Some("redis://127.0.0.1:1".into()),
            ..ClusterConfig::default()
        };
        let cluster = Cluster::new(&config, Arc::new(Metrics::new()))
            .unwrap()
            .unwrap();
        assert_eq!(cluster.take("send:1".into(), 1.0, 2.0).await, None);
        assert!(cluster.limits_paused());
        let limit = Limit::new("send", 0.01, 2.0, 8).shared(Some(cluster));
        assert!(limit.take(1).await.is_ok());
        assert!(limit.take(1).await.is_ok());
        assert!(limit.take(1).await.is_err(), "this node's own bucket");
    }

    /// A Redis that takes connections and never answers: an admission and a give-back each
    /// cost their bounded waits, not a task that waits forever, and admissions stop asking.
    #[tokio::test]
    async fn a_hung_redis_costs_bounded_waits() {
        use crate::address::SharedConnections;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let mut silent = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                silent.push(socket);
            }
        });
        let config = ClusterConfig {
            redis_url: Some(format!("redis://127.0.0.1:{port}")),
            ..ClusterConfig::default()
        };
        let cluster = Cluster::new(&config, Arc::new(Metrics::new()))
            .unwrap()
            .unwrap();
        let ip = std::net::IpAddr::from([192, 0, 2, 1]);
        let bound = Duration::from_secs(3);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(RELEASE_PROBE).arg(0);
        tokio::time::timeout(bound, cluster.shared_release(&cmd))
            .await
            .expect("a give-back waited past its bound");
        let admitted = tokio::time::timeout(bound, cluster.admit(ip, false, (4, 1)))
            .await
            .expect("an admission waited past its bound");
        assert_eq!(admitted, None, "this node's own count decides");
        assert!(cluster.limits_paused());
        held.abort();
    }

    const RELEASE_PROBE: &str = "return 0";
}
