//! Admission for expensive requests (decoding a document's content, full-text searches): at most
//! `running` of one kind run at once, at most `waiting` more wait their turn, and any further one
//! is refused at once with `server_busy` (503, `Retry-After`) instead of queueing without bound.
//!
//! The permit is an owned value: move it into the blocking task that does the work, so a
//! request that goes away (its future dropped) keeps counting until that work really ends.

use std::sync::Arc;

use parley_protocol::{ErrorBody, ErrorCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// How long a refused caller is told to wait: these jobs take up to a few seconds.
const RETRY_AFTER_MS: u64 = 1000;

pub struct WorkGate {
    what: &'static str,
    admitted: Arc<Semaphore>,
    running: Arc<Semaphore>,
}

/// A place among the running jobs of a [`WorkGate`]; the place is given back when it drops.
pub struct Admission {
    _admitted: OwnedSemaphorePermit,
    _running: OwnedSemaphorePermit,
}

impl WorkGate {
    /// `what` names the work in the refusal ("document content reads").
    pub fn new(what: &'static str, running: usize, waiting: usize) -> Self {
        let running = running.max(1);
        Self {
            what,
            admitted: Arc::new(Semaphore::new(running + waiting)),
            running: Arc::new(Semaphore::new(running)),
        }
    }

    /// Waits for a place to run, or refuses at once when too many already wait.
    pub async fn enter(&self) -> Result<Admission> {
        let admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| self.busy())?;
        let running = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("work gate closed"))?;
        Ok(Admission {
            _admitted: admitted,
            _running: running,
        })
    }

    fn busy(&self) -> Error {
        let mut body = ErrorBody::new(
            ErrorCode::ServerBusy,
            format!("too many {} at once; try again shortly", self.what),
        );
        body.retry_after_ms = Some(RETRY_AFTER_MS);
        Error(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_waits_then_refuses() {
        let gate = WorkGate::new("tests", 1, 1);
        let first = gate.enter().await.expect("runs");
        // The second waits for the first; a third is refused while it waits.
        let second = tokio::spawn({
            let admitted = Arc::clone(&gate.admitted);
            let running = Arc::clone(&gate.running);
            async move {
                let gate = WorkGate {
                    what: "tests",
                    admitted,
                    running,
                };
                gate.enter().await.map(|_| ())
            }
        });
        while gate.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let refused = gate.enter().await.err().expect("refused");
        assert_eq!(refused.code(), ErrorCode::ServerBusy);
        assert_eq!(refused.0.retry_after_ms, Some(RETRY_AFTER_MS));
        drop(first);
        assert!(second.await.expect("joins").is_ok());
        assert!(gate.enter().await.is_ok(), "places come back");
    }
}
