//! Token buckets for the per-connection, per-user, per-login-name and per-address rate limits.
//! The limits on users, login names and login addresses ([`Limit`]) are shared by every node
//! of a cluster (`cluster/limits.rs`); a connection's own limits need not be.

use std::{
    collections::HashMap,
    fmt::Display,
    hash::Hash,
    sync::{Arc, Mutex},
    time::Instant,
};

use futures_util::future::BoxFuture;

use crate::metrics::Metrics;

/// A rate limit counted for every node of a cluster together (in Redis).
pub trait SharedLimiter: Send + Sync {
    /// Takes one unit of `key`'s allowance (`rate` per second, `burst` at once) on behalf of
    /// every node: Ok, or the milliseconds until one is available. None when the shared count
    /// cannot be reached: the caller counts on its own node meanwhile.
    fn take(&self, key: String, rate: f64, burst: f64) -> BoxFuture<'_, Option<Result<(), u64>>>;
}

/// A keyed limit (per user, per login name, per address): counted for the whole cluster when
/// the node is part of one, and by this node's [`KeyedBuckets`] otherwise, or while the shared
/// count cannot be reached.
pub struct Limit<K> {
    local: KeyedBuckets<K>,
    /// Names the limit among the shared counts (`send`, `login`, ...).
    name: &'static str,
    shared: Option<Arc<dyn SharedLimiter>>,
}

impl<K: Eq + Hash + Display> Limit<K> {
    pub fn new(name: &'static str, rate: f64, burst: f64, cap: usize) -> Self {
        Self {
            local: KeyedBuckets::new(rate, burst, cap),
            name,
            shared: None,
        }
    }

    /// Counts this limit with the other nodes of a cluster.
    pub fn shared(mut self, shared: Option<Arc<dyn SharedLimiter>>) -> Self {
        self.shared = shared;
        self
    }

    /// Takes a unit of `key`'s allowance, or says how many milliseconds until one is there.
    /// A rate of 0 (disabled) always succeeds.
    pub async fn take(&self, key: K) -> Result<(), u64> {
        if self.local.rate <= 0.0 {
            return Ok(());
        }
        if let Some(shared) = &self.shared {
            let (rate, burst) = (self.local.rate, self.local.burst);
            if let Some(answer) = shared
                .take(format!("{}:{key}", self.name), rate, burst)
                .await
            {
                return answer;
            }
        }
        self.local.take(key)
    }

    pub fn prune(&self) {
        self.local.prune();
    }
}

/// A token bucket: `rate` tokens per second, holding at most `burst`. A rate of 0 disables it.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        let burst = burst.max(1.0);
        Self {
            rate,
            burst,
            tokens: burst,
            updated: Instant::now(),
        }
    }

    /// Takes one token, or says how many milliseconds until one is available.
    pub fn take(&mut self) -> Result<(), u64> {
        self.take_at(Instant::now())
    }

    fn take_at(&mut self, now: Instant) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / self.rate;
            Err((wait * 1000.0).ceil().max(1.0) as u64)
        }
    }

    /// True when the bucket is full (nothing to remember about it).
    pub fn is_idle(&self, now: Instant) -> bool {
        self.rate <= 0.0
            || self.tokens + now.saturating_duration_since(self.updated).as_secs_f64() * self.rate
                >= self.burst
    }
}

/// One bucket per key (a user name, a client address), created on first use. At most `cap`
/// keys are remembered: full buckets are forgotten by [`KeyedBuckets::prune`] and, when the map
/// is full, on the spot; if every remembered key is still busy, a new key is refused as if its
/// bucket were empty. So memory stays bounded however many keys an attacker can use, at the
/// price of refusing newcomers while more than `cap` keys are all over their limits.
pub struct KeyedBuckets<K> {
    buckets: Mutex<HashMap<K, TokenBucket>>,
    rate: f64,
    burst: f64,
    cap: usize,
}

/// How long a refused newcomer is told to wait when the map is full.
const FULL_RETRY_MS: u64 = 1000;

impl<K: Eq + Hash> KeyedBuckets<K> {
    pub fn new(rate: f64, burst: f64, cap: usize) -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            rate,
            burst,
            cap: cap.max(1),
        }
    }

    /// Takes a token from `key`'s bucket, or says how many milliseconds until one is available.
    /// A rate of 0 (disabled) always succeeds and remembers nothing.
    pub fn take(&self, key: K) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        // A poisoned lock only means another thread panicked mid-update of a counter.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(&key) && buckets.len() >= self.cap {
            let now = Instant::now();
            buckets.retain(|_, b| !b.is_idle(now));
            if buckets.len() >= self.cap {
                return Err(FULL_RETRY_MS);
            }
        }
        buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::new(self.rate, self.burst))
            .take()
    }

    /// Forgets full buckets (nothing to remember about them).
    pub fn prune(&self) {
        let now = Instant::now();
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets.retain(|_, b| !b.is_idle(now));
        }
    }

    pub fn len(&self) -> usize {
        self.buckets.lock().map_or(0, |b| b.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The per-user limits every area shares, keyed by user id: sends (messages, edits, reactions,
/// comments; `user_messages_per_second`) and read-state changes (`mark_read`, `mute`, `unmute`,
/// each may append a durable event to the user's `@me`; `user_state_changes_per_second`).
/// Keys are accounts, so the maps are bounded by the account table; idle buckets are pruned.
pub struct UserRates {
    sends: Limit<i64>,
    state_changes: Limit<i64>,
    /// Refusals are counted (`parley_rate_limited_total`).
    metrics: Arc<Metrics>,
}

impl UserRates {
    pub fn new(
        limits: &crate::config::RateLimitConfig,
        metrics: Arc<Metrics>,
        shared: Option<Arc<dyn SharedLimiter>>,
    ) -> Self {
        Self {
            metrics,
            sends: Limit::new(
                "send",
                limits.user_messages_per_second,
                limits.user_message_burst,
                usize::MAX,
            )
            .shared(shared.clone()),
            state_changes: Limit::new(
                "state",
                limits.user_state_changes_per_second,
                limits.user_state_change_burst,
                usize::MAX,
            )
            .shared(shared),
        }
    }

    /// One send by `user_id`, shared by all of the user's connections (on every node).
    pub async fn check_send(&self, user_id: i64) -> crate::Result<()> {
        self.sends.take(user_id).await.map_err(|ms| {
            self.metrics.rate_limited.user_sends.inc();
            rate_limited(ms)
        })
    }

    /// One read-state change by `user_id`.
    pub async fn check_state_change(&self, user_id: i64) -> crate::Result<()> {
        self.state_changes.take(user_id).await.map_err(|ms| {
            self.metrics.rate_limited.user_state_changes.inc();
            rate_limited(ms)
        })
    }

    /// Forgets full buckets so the maps stay bounded by recent activity.
    pub fn prune(&self) {
        self.sends.prune();
        self.state_changes.prune();
    }
}

fn rate_limited(retry_after_ms: u64) -> crate::Error {
    crate::Error(parley_protocol::ErrorBody::rate_limited(retry_after_ms))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn burst_then_refill() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(2.0, 3.0);
        for _ in 0..3 {
            assert!(bucket.take_at(start).is_ok());
        }
        let wait = bucket.take_at(start).expect_err("empty");
        assert_eq!(wait, 500);
        assert!(bucket.take_at(start + Duration::from_millis(500)).is_ok());
        assert!(
            TokenBucket::new(0.0, 1.0).take().is_ok(),
            "rate 0 disables the limit"
        );
    }

    #[test]
    fn keyed_buckets_stay_within_their_cap() {
        let limits = KeyedBuckets::new(1.0, 2.0, 3);
        for key in 0..3 {
            assert!(limits.take(key).is_ok());
            assert!(limits.take(key).is_ok());
        }
        // Three busy keys: a fourth is refused rather than remembered.
        assert_eq!(limits.take(3), Err(FULL_RETRY_MS));
        assert_eq!(limits.len(), 3);
        assert!(limits.take(0).is_err(), "key 0 has spent its burst");
        let off = KeyedBuckets::new(0.0, 1.0, 1);
        for key in 0..10 {
            assert!(off.take(key).is_ok());
        }
        assert!(off.is_empty(), "a disabled limit remembers nothing");
    }
}
