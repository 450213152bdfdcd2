//! Token buckets for the per-connection, per-user and per-login-name rate limits.

use std::time::Instant;

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
}
