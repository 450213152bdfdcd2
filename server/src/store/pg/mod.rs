//! The PostgreSQL store (`storage.backend = "postgres"`): the same traits and the same contract
//! as the SQLite store (`store/conformance/` runs against both), for several nodes sharing one
//! database. Each area's file holds its queries and its part of the store traits.
//!
//! Built like the SQLite store, on the synchronous `postgres` client (tokio-postgres under a
//! blocking API): writes go to one writer thread per node that group-commits, each write in a
//! savepoint of the batch's transaction, and answers and publishes only after the commit.
//! Reads go through a small pool of connections on blocking threads; token checks have a pool
//! of their own. What SQLite gets from being the only writer, this store gets from the
//! database: a durable event takes its channel's next seq by incrementing the channel's
//! `head_seq` inside the write's transaction, so writers on several nodes queue on the
//! channel's row and seqs follow commit order; limits and uniqueness are checked by statements
//! inside the write (constraints, or a row lock on what is counted).

pub mod admin;
pub mod attachments;
pub mod channels;
pub mod comments;
pub mod contents;
pub mod custom_events;
pub mod docs;
pub mod events;
pub mod history;
mod leader;
pub mod message_rows;
pub mod messages;
pub mod migrate;
pub mod people;
pub mod reactions;
pub mod reads;
pub mod redact;
mod schema;
pub mod search;
pub mod search_text;
pub mod threads;
pub mod tokens;
mod uploads;
pub mod users;
pub mod webhooks;
pub mod writer;

use std::sync::{Arc, Mutex};

use postgres::{Client, NoTls, Transaction};
use tokio::sync::{mpsc, oneshot, Semaphore};

pub use writer::WriterState;

use super::{traits::Committed, Published, Publisher};
use crate::{
    config::{CommitMode, StorageConfig},
    error::{Error, Result},
};

/// A read-only transaction at REPEATABLE READ: a read of several statements sees one
/// snapshot, so a write that commits in between cannot show half of itself.
pub(super) fn snapshot(client: &mut Client) -> Result<Transaction<'_>> {
    Ok(client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?)
}

/// A failed statement is an internal error: callers learn nothing of the database.
impl From<postgres::Error> for Error {
    fn from(err: postgres::Error) -> Self {
        Self::internal(format_args!("database: {err}"))
    }
}

/// True when the statement failed on a unique constraint (a name taken, a duplicate key).
pub fn is_unique_violation(err: &postgres::Error) -> bool {
    err.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// The PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    writer: mpsc::Sender<writer::Job>,
    readers: Arc<ReadPool>,
    auth_readers: Arc<ReadPool>,
    /// The connection holding the webhook deliveries' lock, on the node that holds it
    /// (`leader.rs`).
    leader: Arc<leader::Leader>,
}

/// How to reach the database: parsed once, used for every connection (and reconnection).
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let mut config: postgres::Config = url.parse().map_err(|e| {
            Error::internal(format_args!("storage.postgres_url is not a valid URL: {e}"))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(5));
        }
        config.application_name("parley-server");
        Ok(Self { config })
    }

    /// A new connection (blocking: call it on a thread of the store's own, never an async
    /// worker).
    pub(crate) fn connect(&self) -> Result<Client> {
        self.config
            .connect(NoTls)
            .map_err(|e| Error::internal(format_args!("cannot connect to PostgreSQL: {e}")))
    }
}

struct ReadPool {
    target: Target,
    connections: Mutex<Vec<Client>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    fn open(target: &Target, connections: usize) -> Result<Arc<Self>> {
        let mut clients = Vec::with_capacity(connections);
        for _ in 0..connections {
            clients.push(target.connect()?);
        }
        Ok(Arc::new(Self {
            target: target.clone(),
            permits: Arc::new(Semaphore::new(clients.len())),
            connections: Mutex::new(clients),
        }))
    }

    /// Runs `f` with one of the pool's connections on a blocking thread. A connection the
    /// database closed (a restart, a network cut) is replaced before use.
    async fn run<T: Send + 'static>(
        self: Arc<Self>,
        f: impl FnOnce(&mut Client) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("read pool closed"))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let taken = self
                .connections
                .lock()
                .map_err(|_| Error::internal("read pool poisoned"))?
                .pop();
            let mut client = match taken {
                Some(client) if !client.is_closed() => client,
                _ => self.target.connect()?,
            };
            let result = f(&mut client);
            if !client.is_closed() {
                if let Ok(mut clients) = self.connections.lock() {
                    clients.push(client);
                }
            }
            result
        })
        .await
        .map_err(|e| Error::internal(format_args!("read task failed: {e}")))?
    }
}

impl Drop for ReadPool {
    /// A client owns a small runtime of its own, which must not be dropped on an async worker:
    /// the connections are closed on a thread of their own.
    fn drop(&mut self) {
        let clients = self
            .connections
            .get_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        if !clients.is_empty() {
            let _ = std::thread::Builder::new()
                .name("parley-store-close".into())
                .spawn(move || drop(clients));
        }
    }
}

/// Connects to the database at `url`, runs migrations and starts the writer. A database
/// created here starts with `first_channel`. The writer thread stops once every clone is
/// dropped (or [`StoreControl::stop`](crate::store::StoreControl::stop)), after committing what
/// it holds; the returned join handle lets the caller wait for that. Blocking: call it before
/// the runtime starts or on a blocking thread.
pub fn open(
    url: &str,
    config: &StorageConfig,
    first_channel: Option<&str>,
    publisher: Publisher,
    metrics: Arc<crate::metrics::Metrics>,
) -> Result<(PgStore, std::thread::JoinHandle<()>)> {
    let target = Target::parse(url)?;
    let target_for_leader = target.clone();
    let mut client = target.connect()?;
    schema::run(&mut client, first_channel)?;
    let readers = ReadPool::open(&target, config.read_connections.max(1))?;
    let auth_readers = ReadPool::open(&target, config.auth_connections.max(1))?;
    let (tx, rx) = mpsc::channel(config.write_queue.max(1));
    let batch = match config.commit_mode {
        CommitMode::PerBatch => config.max_batch.max(1),
        CommitMode::PerWrite => 1,
    };
    let handle = std::thread::Builder::new()
        .name("parley-store-writer".into())
        .spawn(move || writer::run(client, target, rx, batch, publisher, &metrics))
        .map_err(|e| Error::internal(format_args!("cannot start writer thread: {e}")))?;
    Ok((
        PgStore {
            writer: tx,
            readers,
            auth_readers,
            leader: Arc::new(leader::Leader::new(target_for_leader)),
        },
        handle,
    ))
}

/// A write: runs inside a savepoint of the current batch's transaction.
pub type WriteFn<T> =
    Box<dyn FnOnce(&mut Transaction<'_>, &mut WriterState) -> Result<(T, Vec<Published>)> + Send>;

impl PgStore {
    /// Runs `f` on the writer thread inside the next batch; resolves after the batch commits.
    pub(in crate::store) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>, &mut WriterState) -> Result<(T, Vec<Published>)>
            + Send
            + 'static,
    ) -> Result<T> {
        self.submit(f).await?.await
    }

    /// Queues `f` for the writer and returns once it is queued (writes run in queue order);
    /// the returned future resolves after its batch commits.
    pub(in crate::store) async fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>, &mut WriterState) -> Result<(T, Vec<Published>)>
            + Send
            + 'static,
    ) -> Result<Committed<T>> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.queue(writer::Job::new(Box::new(f), reply_tx), reply_rx)
            .await
    }

    /// Like [`PgStore::submit`], for a write that may run more than once with the same effect
    /// ([`writer::Job::repeatable`]: it changes nothing outside the database): batches of these
    /// commit without a savepoint per write.
    pub(in crate::store) async fn submit_repeatable<T: Send + 'static>(
        &self,
        f: impl FnMut(&mut Transaction<'_>, &mut WriterState) -> Result<(T, Vec<Published>)>
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

    /// Runs `f` with a pooled connection on a blocking thread. Each statement sees what was
    /// committed when it started; a read that needs one snapshot across statements opens a
    /// transaction on the client (`client.build_transaction().read_only(true)`).
    pub(in crate::store) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        Arc::clone(&self.readers).run(f).await
    }

    /// Runs `f` on the pool kept for token checks (`storage.auth_connections`): short lookups
    /// only, so that they never wait behind heavy reads.
    pub(in crate::store) async fn read_auth<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        Arc::clone(&self.auth_readers).run(f).await
    }
}

impl crate::store::StoreControl for PgStore {
    fn healthy(&self) -> futures_util::future::BoxFuture<'_, bool> {
        Box::pin(async move {
            self.read(|client| {
                client.query_one("SELECT count(*) FROM parley_schema", &[])?;
                Ok(())
            })
            .await
            .is_ok()
        })
    }

    fn stop(&self) -> futures_util::future::BoxFuture<'_, ()> {
        Box::pin(PgStore::stop(self))
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
