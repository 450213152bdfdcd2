//! The cache's own thread. Every `Store::run` job runs there, one at a time and in the order
//! sent, with the connection locked. One long-lived thread instead of a tokio blocking thread
//! per job: jobs waited for the same lock anyway, and each of the up to ten blocking threads
//! a sync started kept its own malloc arena with SQLite's pages in it for as long as the app
//! ran (docs/benchmarks.md, "Desktop app").

use std::{
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::{Error, Result};

/// A job for the cache thread: it locks the connection itself, and lets go of it before it
/// replies.
type Job = Box<dyn FnOnce(Arc<Mutex<Connection>>) + Send>;

/// Jobs waiting for the cache thread; a caller beyond it waits for room.
const QUEUE: usize = 256;

/// Sends jobs to the cache thread. The thread ends when the last `Jobs` is dropped (with the
/// last `Store`); it holds the connection only while it runs a job, so the connection closes
/// with the last `Store` as before.
#[derive(Clone)]
pub(super) struct Jobs(mpsc::Sender<Job>);

impl Jobs {
    pub(super) fn start(conn: &Arc<Mutex<Connection>>) -> Result<Self> {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let conn = Arc::downgrade(conn);
        std::thread::Builder::new()
            .name("parley-cache".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    let Some(conn) = conn.upgrade() else { break };
                    // A job that panics drops its reply: its caller gets an error, and the
                    // thread serves the next one.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(conn)));
                }
            })
            .map_err(|e| Error::Storage(format!("cannot start the cache thread: {e}")))?;
        Ok(Self(tx))
    }

    /// Runs `f` on the cache thread with the connection locked, and returns what it returns.
    /// A caller that stops waiting does not cancel the job (like a blocking task).
    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = conn
                .lock()
                .map_err(|_| Error::Storage("the cache lock is poisoned".into()))
                .and_then(|mut guard| f(&mut guard));
            drop(conn);
            let _ = reply.send(result);
        });
        self.0
            .send(job)
            .await
            .map_err(|_| Error::Storage("the cache thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Storage("a cache task failed (it panicked)".into()))?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn jobs() -> (Arc<Mutex<Connection>>, Jobs) {
        let conn = Arc::new(Mutex::new(Connection::open_in_memory().unwrap()));
        let jobs = Jobs::start(&conn).unwrap();
        (conn, jobs)
    }

    #[tokio::test]
    async fn jobs_run_in_order_on_one_thread() {
        let (_conn, jobs) = jobs();
        let mut waits = Vec::new();
        for i in 0..50u32 {
            let jobs = jobs.clone();
            waits.push(tokio::spawn(async move {
                jobs.run(move |c| {
                    c.execute_batch("CREATE TABLE IF NOT EXISTS t (i INTEGER)")?;
                    c.execute("INSERT INTO t VALUES (?1)", [i])?;
                    Ok(std::thread::current().name().map(str::to_owned))
                })
                .await
            }));
        }
        for w in waits {
            assert_eq!(w.await.unwrap().unwrap().as_deref(), Some("parley-cache"));
        }
        let n: u32 = jobs
            .run(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 50);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_thread_goes_on() {
        let (conn, jobs) = jobs();
        let failed = jobs
            .run(|_| -> Result<()> { panic!("a bug in a job") })
            .await
            .unwrap_err();
        assert!(failed.to_string().contains("panicked"), "{failed}");
        // The lock was poisoned by the panic, as with any panic under it; the thread lives.
        conn.clear_poison();
        assert_eq!(jobs.run(|_| Ok(7)).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn the_connection_closes_with_the_last_store() {
        let (conn, jobs) = jobs();
        jobs.run(|_| Ok(())).await.unwrap();
        let weak = Arc::downgrade(&conn);
        drop(conn);
        assert!(
            weak.upgrade().is_none(),
            "the cache thread kept the connection open"
        );
        drop(jobs);
    }
}
