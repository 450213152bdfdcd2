//! Password hashing inside the server, bounded. One argon2id hash takes 19 MiB and tens of
//! milliseconds of a core; before this bound, 300 parallel logins with unknown names ran 300
//! hashes at once on tokio's blocking pool (up to 512 threads): 703 MB resident and `/healthz`
//! answering after 3.9 s (release build).
//!
//! Now at most `accounts.hash_concurrency` hashes run at once, each on a blocking thread, and at
//! most `accounts.hash_queue` more attempts wait for one; any further attempt is refused at
//! once with 503 `server_busy` and a `Retry-After`, before it reads the database. The blocking
//! pool keeps its other threads for the store's reads (token checks), whose latency this keeps.

use std::sync::Arc;

use parley_protocol::{ErrorBody, ErrorCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// What a refused attempt is told to wait: about the time the queue takes to move on.
const BUSY_RETRY_MS: u64 = 1000;

/// The bounded hashing workers, shared by login and registration.
pub struct PasswordHashing {
    /// Running plus waiting attempts.
    admitted: Arc<Semaphore>,
    /// Running attempts.
    running: Arc<Semaphore>,
}

/// An attempt that got a place (running or in the queue); it keeps the place until dropped.
pub struct HashTicket {
    _admitted: OwnedSemaphorePermit,
    running: Arc<Semaphore>,
}

impl PasswordHashing {
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        Self {
            admitted: Arc::new(Semaphore::new(workers.saturating_add(queue))),
            running: Arc::new(Semaphore::new(workers)),
        }
    }

    /// A place for one attempt, or `server_busy` at once when the queue is full.
    pub fn admit(&self) -> Result<HashTicket> {
        let admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| {
                Error(ErrorBody {
                    code: ErrorCode::ServerBusy,
                    message: "too many sign-ins at once; retry shortly".into(),
                    retry_after_ms: Some(BUSY_RETRY_MS),
                    request_id: None,
                })
            })?;
        Ok(HashTicket {
            _admitted: admitted,
            running: Arc::clone(&self.running),
        })
    }
}

impl HashTicket {
    /// Waits for a worker, then runs `work` (argon2) on a blocking thread. If the caller goes
    /// away meanwhile, a hash already started still finishes and keeps its worker until then.
    pub async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let running = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("password hashing stopped"))?;
        tokio::task::spawn_blocking(move || {
            let _places = (running, self);
            work()
        })
        .await
        .map_err(|e| Error::internal(format_args!("password hashing failed: {e}")))
    }
}
