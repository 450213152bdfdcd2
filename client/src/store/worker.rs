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

/// A job for the cache thread. It holds the connection (as a blocking task did), locks it
/// itself, and lets go of it before it replies.
type Job = Box<dyn FnOnce() + Send>;

/// Jobs waiting for the cache thread; a caller beyond it waits for room.
const QUEUE: usize = 256;

/// Sends jobs to the cache thread. The thread ends when the last `Jobs` is dropped (with the
/// last `Store`) and the jobs queued before are done. The connection closes when the last
/// `Store` and the last job holding it are gone, as with blocking tasks.
#[derive(Clone)]
pub(super) struct Jobs {
    queue: mpsc::Sender<Job>,
    conn: Arc<Mutex<Connection>>,
}

impl Jobs {
    pub(super) fn start(conn: &Arc<Mutex<Connection>>) -> Result<Self> {
        let (queue, mut jobs) = mpsc::channel::<Job>(QUEUE);
        // Jobs run inside the caller's runtime when there is one (as blocking tasks did), so
        // whatever they drop or start may use it.
        let runtime = tokio::runtime::Handle::try_current().ok();
        std::thread::Builder::new()
            .name("parley-cache".into())
            .spawn(move || {
                let _inside = runtime.as_ref().map(tokio::runtime::Handle::enter);
                while let Some(job) = jobs.blocking_recv() {
                    // A job that panics drops its reply: its caller gets an error, and the
                    // thread serves the next one.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            })
            .map_err(|e| Error::Storage(format!("cannot start the cache thread: {e}")))?;
        Ok(Self {
            queue,
            conn: Arc::clone(conn),
        })
    }

    /// Runs `f` on the cache thread with the connection locked, and returns what it returns.
    /// A caller that stops waiting does not cancel the job (like a blocking task).
    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let conn = Arc::clone(&self.conn);
        let job: Job = Box::new(move || {
            let result = conn
                .lock()
                .map_err(|_| Error::Storage("the cache lock is poisoned".into()))
                .and_then(|mut guard| f(&mut guard));
            drop(conn);
            let _ = reply.send(result);
        });
        self.queue
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
        jobs.run(|c| Ok(c.execute_batch("CREATE TABLE t (i INTEGER)")?))
            .await
            .unwrap();
        // Fifty callers at once: each sends its job on its first poll, in this order.
        let threads = futures_util::future::join_all((0..50u32).map(|i| {
            jobs.run(move |c| {
                c.execute("INSERT INTO t VALUES (?1)", [i])?;
                Ok(std::thread::current().name().map(str::to_owned))
            })
        }))
        .await;
        for thread in threads {
            assert_eq!(thread.unwrap().as_deref(), Some("parley-cache"));
        }
        let order: Vec<u32> = jobs
            .run(|c| {
                let mut rows = c.prepare("SELECT i FROM t ORDER BY rowid")?;
                let order = rows
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(order)
            })
            .await
            .unwrap();
        assert_eq!(order, (0..50).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_job_runs_inside_the_callers_runtime() {
        let (_conn, jobs) = jobs();
        let inside = jobs
            .run(|_| Ok(tokio::runtime::Handle::try_current().is_ok()))
            .await
            .unwrap();
        assert!(inside);
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
        drop(jobs);
        assert!(
            weak.upgrade().is_none(),
            "the cache thread kept the connection open"
        );
    }

    #[tokio::test]
    async fn jobs_queued_when_the_last_store_goes_still_run() {
        use std::{sync::mpsc, time::Duration};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.db");
        let conn = Arc::new(Mutex::new(Connection::open(&path).unwrap()));
        let jobs = Jobs::start(&conn).unwrap();
        let (started, wait) = mpsc::channel::<()>();
        let (release, hold) = mpsc::channel::<()>();
        let (done, ran) = mpsc::channel::<()>();
        // The first job holds the thread until released; the second is queued behind it.
        // Both callers stop waiting, and the store goes before either job is done.
        let first = jobs.run(move |_| {
            let _ = started.send(());
            let _ = hold.recv();
            Ok(())
        });
        let _ = tokio::time::timeout(Duration::from_millis(1), first).await;
        wait.recv_timeout(Duration::from_secs(10)).unwrap();
        let second = jobs.run(move |c| {
            c.execute_batch("CREATE TABLE written (x INTEGER)")?;
            let _ = done.send(());
            Ok(())
        });
        let _ = tokio::time::timeout(Duration::from_millis(1), second).await;
        drop(jobs);
        drop(conn);
        release.send(()).unwrap();
        ran.recv_timeout(Duration::from_secs(10))
            .expect("a job queued before the last store went was dropped");
        let reopened = Connection::open(&path).unwrap();
        let written: u32 = reopened
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'written'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(written, 1);
    }
}
