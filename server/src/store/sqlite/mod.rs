//! The SQLite store: WAL mode, numbered migrations, and every SQL statement of the server.
//! Each area's file holds its queries and its part of the store traits.
//!
//! Writes go to one writer thread that group-commits: it takes every write waiting in its queue
//! (up to `max_batch`), runs each inside its own savepoint of one transaction (or, for a batch of
//! writes that may run twice, without savepoints: `writer::commit_batch`), commits once, and
//! only then answers the callers and publishes the durable events they produced, in commit
//! order. Reads go through a small pool of read-only connections on blocking threads, so no SQL
//! ever runs on the async workers. Token checks have a pool of their own (`read_auth`): every
//! request and connection starts with one, and heavy reads (searches) must never make them wait.

pub mod admin;
pub mod attachments;
pub mod backup;
pub mod channels;
pub mod comments;
pub mod custom_events;
pub mod docs;
pub mod events;
pub mod heads;
pub mod limits;
pub mod message_rows;
pub mod messages;
mod migrations;
pub mod people;
pub mod reactions;
pub mod reads;
pub mod redact;
pub mod search;
pub mod threads;
pub mod token_rows;
pub mod tokens;
pub mod users;
pub mod webhooks;
pub mod writer;

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot, Semaphore};

pub use writer::WriterState;

use super::{traits::Committed, Published, Publisher};
use crate::{
    config::{CommitMode, StorageConfig},
    error::{Error, Result},
};

/// A write: runs inside a savepoint of the current batch transaction.
pub type WriteFn<T> =
    Box<dyn FnOnce(&rusqlite::Connection, &mut WriterState) -> Result<(T, Vec<Published>)> + Send>;

/// A failed statement is an internal error: callers learn nothing of SQLite.
impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Self::internal(format_args!("database: {err}"))
    }
}

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    writer: mpsc::Sender<writer::Job>,
    readers: Arc<ReadPool>,
    auth_readers: Arc<ReadPool>,
    /// One process writes a SQLite data directory: its document claims live here.
    pub(in crate::store) claims: Arc<crate::store::claims::Claims>,
}

struct ReadPool {
    connections: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    fn open(path: &Path, connections: usize) -> Result<Arc<Self>> {
        let mut readers = Vec::with_capacity(connections);
        for _ in 0..connections {
            readers.push(open_connection(path, true)?);
        }
        Ok(Arc::new(Self {
            permits: Arc::new(Semaphore::new(readers.len())),
            connections: Mutex::new(readers),
        }))
    }

    /// Runs `f` with one of the pool's connections on a blocking thread.
    async fn run<T: Send + 'static>(
        self: Arc<Self>,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // The permit moves into the blocking task: if this future is dropped (a client went
        // away), the connection is still in use until the task ends, and so is the permit.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("read pool closed"))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = self
                .connections
                .lock()
                .map_err(|_| Error::internal("read pool poisoned"))?
                .pop()
                .ok_or_else(|| Error::internal("read pool empty under permit"))?;
            let result = f(&mut conn);
            if let Ok(mut conns) = self.connections.lock() {
                conns.push(conn);
            }
            result
        })
        .await
        .map_err(|e| Error::internal(format_args!("read task failed: {e}")))?
    }
}

/// Opens (creating if needed) the database in `dir`, runs migrations and starts the writer.
/// A database created here starts with `first_channel` (`migrations::run`).
/// The writer thread stops once every `Store` clone is dropped, after committing what it holds;
/// the returned join handle lets the caller wait for that.
pub fn open(
    dir: &Path,
    config: &StorageConfig,
    first_channel: Option<&str>,
    publisher: Publisher,
    metrics: Arc<crate::metrics::Metrics>,
) -> Result<(SqliteStore, std::thread::JoinHandle<()>)> {
    create_private_dir(dir)?;
    let path = dir.join("parley.db");
    let mut conn = open_connection(&path, false)?;
    migrations::run(&mut conn, first_channel)?;
    // A thread of its own (below) folds the log in every second, off the writer's path. Under
    // writes that never pause it cannot finish (the writer appends while it copies), and the
    // log would grow without bound (gigabytes a minute at full speed, each new page zeroed by
    // the kernel): past `checkpoint_pages` the writer checkpoints itself between commits, so
    // the log restarts from its beginning.
    conn.pragma_update(None, "wal_autocheckpoint", config.checkpoint_pages.max(1))?;
    // The connection that writes is the one that truncates the WAL when it restarts it.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    let checkpointer = Checkpointer::start(&path)?;
    let readers = ReadPool::open(&path, config.read_connections.max(1))?;
    let auth_readers = ReadPool::open(&path, config.auth_connections.max(1))?;
    let (tx, rx) = mpsc::channel(config.write_queue.max(1));
    let batch = match config.commit_mode {
        CommitMode::PerBatch => config.max_batch,
        CommitMode::PerWrite => 1,
    };
    let handle = std::thread::Builder::new()
        .name("parley-store-writer".into())
        .spawn(move || {
            writer::run(conn, rx, batch, publisher, &metrics);
            // Last: fold the WAL into the database once the writer is done.
            checkpointer.stop();
        })
        .map_err(|e| Error::internal(format_args!("cannot start writer thread: {e}")))?;
    let store = SqliteStore {
        writer: tx,
        readers,
        auth_readers,
        claims: Arc::default(),
    };
    Ok((store, handle))
}

/// Copies the WAL back into the database every second, on a connection of its own, so the
/// writer thread seldom pays for checkpoints itself (only past `storage.checkpoint_pages`).
/// PASSIVE never blocks the writer; the WAL file is kept from growing past 64 MiB once idle.
struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Checkpointer {
    fn start(path: &Path) -> Result<Self> {
        let conn = open_connection(path, false)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("parley-store-checkpoint".into())
            .spawn(move || loop {
                let last = !matches!(
                    stopped.recv_timeout(CHECKPOINT_EVERY),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                );
                let mode = if last { "TRUNCATE" } else { "PASSIVE" };
                if let Err(err) =
                    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
                {
                    tracing::warn!(%err, "checkpoint failed");
                }
                if last {
                    return;
                }
            })
            .map_err(|e| Error::internal(format_args!("cannot start checkpoint thread: {e}")))?;
        Ok(Self { stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// Creates the data directory readable by the server's user only (it holds every message,
/// document, attachment and token hash), and tightens an existing one to 0700.
fn create_private_dir(dir: &Path) -> Result<()> {
    let failed = |e: std::io::Error| {
        Error::internal(format_args!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(failed)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(failed)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).map_err(failed)
    }
}

/// Opens the database for the admin subcommands (no writer thread: they run one statement at a
/// time and SQLite's own locking keeps them safe beside a running server).
pub(super) fn open_admin(dir: &Path, first_channel: Option<&str>) -> Result<Connection> {
    create_private_dir(dir)?;
    let mut conn = open_connection(&dir.join("parley.db"), false)?;
    migrations::run(&mut conn, first_channel)?;
    Ok(conn)
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL in WAL mode: a commit survives a process crash (SIGKILL); only an OS crash or
        // power loss can lose the last transactions. Durable against what a server process sees.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Each write runs in a savepoint; keep their sub-journals in memory, not temp files.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -16_384)?; // KiB
    }
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Query planner stability: without it, SQLite built with STAT4 may re-prepare statements
    // whenever a bound value changes, which profiles showed as most of the writer's time.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl SqliteStore {
    /// Runs `f` on the writer thread inside the next batch; resolves after the batch commits.
    pub(in crate::store) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection, &mut WriterState) -> Result<(T, Vec<Published>)>
            + Send
            + 'static,
    ) -> Result<T> {
        self.submit(f).await?.await
    }

    /// Queues `f` for the writer and returns once it is queued (writes run in queue order);
    /// the returned future resolves after its batch commits. Lets a connection keep reading
    /// while its earlier writes commit, without giving up their order.
    pub(in crate::store) async fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection, &mut WriterState) -> Result<(T, Vec<Published>)>
            + Send
            + 'static,
    ) -> Result<Committed<T>> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.queue(writer::Job::new(Box::new(f), reply_tx), reply_rx)
            .await
    }

    /// Like [`SqliteStore::submit`], for a write that may run more than once with the same
    /// effect ([`writer::Job::repeatable`]: it changes nothing outside the database and the
    /// [`WriterState`]): batches of these commit without a savepoint per write.
    pub(in crate::store) async fn submit_repeatable<T: Send + 'static>(
        &self,
        f: impl FnMut(&rusqlite::Connection, &mut WriterState) -> Result<(T, Vec<Published>)>
            + Send
            + 'static,
    ) -> Result<Committed<T>> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.queue(writer::Job::repeatable(Box::new(f), reply_tx), reply_rx)
            .await
    }

    async fn queue<T>(
        &self,
        job: writer::Job,
        reply: oneshot::Receiver<Result<T>>,
    ) -> Result<Committed<T>> {
        self.writer
            .send(job)
            .await
            .map_err(|_| Error::internal("the store writer has stopped"))?;
        Ok(Committed::new(reply))
    }

    /// Asks the writer to commit what is queued and stop. Later writes fail.
    pub(in crate::store) async fn stop(&self) {
        let _ = self.writer.send(writer::Job::stop()).await;
    }

    /// Runs `f` with a read-only connection on a blocking thread.
    pub(in crate::store) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        Arc::clone(&self.readers).run(|conn| f(conn)).await
    }

    /// Like [`SqliteStore::read`], with the connection mutable (to install a progress handler that
    /// bounds a query's time); `f` must leave it as it found it.
    pub(in crate::store) async fn read_mut<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        Arc::clone(&self.readers).run(f).await
    }

    /// Runs `f` on the pool kept for token checks (`storage.auth_connections`): short lookups
    /// only, so that they never wait behind heavy reads.
    pub(in crate::store) async fn read_auth<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        Arc::clone(&self.auth_readers).run(|conn| f(conn)).await
    }

    /// True when the database answers a trivial query (for `/healthz`).
    pub(in crate::store) async fn healthy(&self) -> bool {
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM channels", [], |r| r.get::<_, i64>(0))?;
            Ok(())
        })
        .await
        .is_ok()
    }
}

impl crate::store::StoreControl for SqliteStore {
    fn healthy(&self) -> futures_util::future::BoxFuture<'_, bool> {
        Box::pin(SqliteStore::healthy(self))
    }

    fn stop(&self) -> futures_util::future::BoxFuture<'_, ()> {
        Box::pin(SqliteStore::stop(self))
    }

    fn barrier(&self) -> futures_util::future::BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.write(|_, _| Ok(((), Vec::new()))).await;
        })
    }

    fn queued_writes(&self) -> usize {
        self.writer.max_capacity() - self.writer.capacity()
    }
}
