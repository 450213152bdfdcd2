//! The writer thread: group commit with one savepoint per write (none for a batch of repeatable
//! writes while none fails), as in the SQLite store. The
//! difference is the connection: a database on the network can restart or drop us, so a batch
//! that failed because the connection closed is answered with the error and the writer
//! connects again (with back-off) before the next batch.

use std::time::{Duration, Instant};

use std::collections::HashMap;

use postgres::{Client, Statement, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::{Target, WriteFn};
use crate::{
    error::{Error, Result},
    metrics::Metrics,
    store::{
        queued::{self, Write},
        refusals, Published, Publisher,
    },
};

/// What the writer keeps between batches.
#[derive(Default)]
pub struct WriterState {
    /// Events with a webhook type go to the webhook outbox too (`webhooks.rs`).
    pub webhooks: bool,
    /// The hot path's statements, prepared once on the writer's connection (a statement sent
    /// as text is prepared and then executed: two round trips, and a parse, every time).
    /// Forgotten when the writer connects again.
    statements: HashMap<&'static str, Statement>,
}

impl WriterState {
    /// `sql` prepared on the writer's connection (once per connection).
    pub fn prepared(&mut self, tx: &mut Transaction<'_>, sql: &'static str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = tx.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    /// Takes the next seq of `channel_id` inside the write's transaction: the channel's row
    /// stays locked until the batch commits, so writers of one channel on every node take
    /// turns and seqs follow commit order. `channel_not_found` when the channel is gone.
    pub fn next_seq(&mut self, tx: &mut Transaction<'_>, channel_id: i64) -> Result<u64> {
        let next = self.prepared(
            tx,
            "UPDATE channels SET head_seq = head_seq + 1 WHERE id = $1 RETURNING head_seq",
        )?;
        let row = tx.query_opt(&next, &[&channel_id])?;
        row.map(|r| r.get::<_, i64>(0) as u64)
            .ok_or_else(refusals::channel_gone)
    }
}

impl WriterState {
    /// Gives back the seq this write just took (nothing was stored under it). Only right
    /// while the write holds the channel's row, which it does from `next_seq` on.
    pub fn give_back_seq(&mut self, tx: &mut Transaction<'_>, channel_id: i64) -> Result<()> {
        tx.execute(
            "UPDATE channels SET head_seq = head_seq - 1 WHERE id = $1",
            &[&channel_id],
        )?;
        Ok(())
    }
}

/// One queued write with the way back to its caller.
pub struct Job {
    /// None: stop after committing everything queued before this job.
    write: Option<Box<Queued>>,
}

/// A queued write as the writer thread sees it (its result's type erased).
type Queued = dyn for<'a, 'b> Write<&'a mut Transaction<'b>, WriterState>;

/// A write that may run more than once (see [`Job::repeatable`]).
pub type RepeatFn<T> =
    Box<dyn FnMut(&mut Transaction<'_>, &mut WriterState) -> Result<(T, Vec<Published>)> + Send>;

impl Job {
    /// A write that runs once, in a savepoint of its own.
    pub fn new<T: Send + 'static>(f: WriteFn<T>, reply: oneshot::Sender<Result<T>>) -> Self {
        let write: queued::Queued<T, WriteFn<T>, RepeatFn<T>> = queued::Queued::once(f, reply);
        Self {
            write: Some(Box::new(write)),
        }
    }

    /// A write that may run again from the start after its batch's transaction was rolled
    /// back: it changes nothing but the database (rolled back with it), so a second run differs
    /// only in what it reads again (the clock, identity values). A batch of such writes needs
    /// no savepoints, two round trips fewer per write. It must return every database error it
    /// meets: PostgreSQL answers COMMIT on an aborted transaction by rolling back without an
    /// error, so a swallowed error would acknowledge writes that were never stored.
    pub fn repeatable<T: Send + 'static>(
        f: RepeatFn<T>,
        reply: oneshot::Sender<Result<T>>,
    ) -> Self {
        let write: queued::Queued<T, WriteFn<T>, RepeatFn<T>> =
            queued::Queued::repeatable(f, reply);
        Self {
            write: Some(Box::new(write)),
        }
    }

    pub fn stop() -> Self {
        Self { write: None }
    }
}

pub fn run(
    mut client: Client,
    target: Target,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    publish: Publisher,
    metrics: &Metrics,
) {
    let mut state = WriterState::default();
    let mut batch = Vec::with_capacity(max_batch);
    let mut stopping = false;
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job.write {
                Some(write) => batch.push(write),
                None => {
                    stopping = true;
                    break;
                }
            }
            if batch.len() < max_batch {
                next = rx.try_recv().ok();
            }
        }
        if batch.is_empty() {
            break;
        }
        if client.is_closed() {
            match reconnect(&target, &mut rx) {
                Some(fresh) => {
                    client = fresh;
                    state.statements.clear();
                }
                None => {
                    // Stopping while the database is away: the queued writes fail.
                    drop(batch.drain(..));
                    break;
                }
            }
        }
        let started = Instant::now();
        let committed = commit_batch(&mut client, &mut state, &mut batch);
        metrics.store_committed(started.elapsed());
        match committed {
            Ok(()) => {
                for mut write in batch.drain(..) {
                    for event in write.take_published() {
                        publish(event);
                    }
                    write.finish(Ok(()));
                }
            }
            Err(err) => {
                tracing::error!(%err, writes = batch.len(), "batch failed to commit");
                // Prepared statements may be what failed (dropped by a pooler, invalidated by
                // a schema change): the next batch prepares them again.
                state.statements.clear();
                for write in batch.drain(..) {
                    write.finish(Err(err.clone()));
                }
            }
        }
        if stopping {
            break;
        }
    }
    tracing::debug!("store writer stopped");
}

/// Connects again, backing off up to 5 s between tries, until it succeeds or the store is
/// stopped (every sender dropped): None then.
fn reconnect(target: &Target, rx: &mut mpsc::Receiver<Job>) -> Option<Client> {
    let mut wait = Duration::from_millis(50);
    loop {
        match target.connect() {
            Ok(client) => {
                tracing::info!("the store writer is connected to PostgreSQL again");
                return Some(client);
            }
            Err(err) => tracing::warn!(%err, "the store writer cannot reach PostgreSQL"),
        }
        if rx.is_closed() {
            return None;
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// Runs a batch in one transaction and commits it. A batch of repeatable writes runs first
/// without savepoints (each costs two round trips per write: `SAVEPOINT` and `RELEASE`); if
/// one of them fails, the transaction is rolled back and the batch runs again with a
/// savepoint per write, so that the failed write rolls back alone.
fn commit_batch(
    client: &mut Client,
    state: &mut WriterState,
    batch: &mut [Box<Queued>],
) -> Result<()> {
    if batch.iter().all(|w| w.repeatable()) && run_batch(client, state, batch, false)? {
        return Ok(());
    }
    run_batch(client, state, batch, true).map(|_| ())
}

/// One attempt at the batch, with a savepoint per write or without any (then rolled back at
/// the first failed write: false, nothing committed).
fn run_batch(
    client: &mut Client,
    state: &mut WriterState,
    batch: &mut [Box<Queued>],
    savepoints: bool,
) -> Result<bool> {
    let mut tx = client.transaction()?;
    for write in batch.iter_mut() {
        if !savepoints {
            if !write.run(&mut tx, state) {
                // The transaction is aborted; dropping it rolls it back. The failure may be a
                // prepared statement the server no longer has: they are prepared again.
                state.statements.clear();
                return Ok(false);
            }
            continue;
        }
        // A savepoint per write: one failing write (say, a duplicate name) rolls back alone.
        let mut savepoint = match tx.savepoint("job") {
            Ok(savepoint) => savepoint,
            // The whole batch fails: every write, whatever an earlier attempt left, is
            // answered with this error.
            Err(e) => return Err(Error::from(e)),
        };
        let ended = if write.run(&mut savepoint, state) {
            savepoint.commit()
        } else {
            // Usually a refusal (a name taken, a limit), but it may be a prepared statement
            // the server no longer has: they are prepared again, a few round trips.
            state.statements.clear();
            savepoint.rollback()
        };
        ended?;
    }
    tx.commit()?;
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is how they fail
mod tests;
