//! The writer thread: group commit with one savepoint per write, or none for a batch of
//! repeatable writes while none of them fails (`commit_batch`).

use std::{
    collections::{HashMap, HashSet},
    time::Instant,
};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::WriteFn;
use crate::{
    error::{Error, Result},
    metrics::Metrics,
    store::{
        queued::{self, Write},
        Published, Publisher,
    },
};

/// State the writer keeps between batches: the newest seq per channel, so assigning the next
/// one costs no query, and which heads must be written back before the batch commits (once
/// per channel per batch rather than once per event). Reset whenever a batch fails to commit,
/// and when a batch run without savepoints is rolled back to run again with them.
#[derive(Default)]
pub struct WriterState {
    /// Events with a webhook type go to the webhook outbox too (`webhooks.rs`); kept when a
    /// batch fails.
    pub webhooks: bool,
    heads: HashMap<i64, u64>,
    /// Heads set by the write in progress; kept only if it succeeds.
    job: HashMap<i64, u64>,
    dirty: HashSet<i64>,
}

impl WriterState {
    /// The next seq for `channel_id` (reads the stored head the first time).
    pub fn next_seq(&mut self, tx: &rusqlite::Connection, channel_id: i64) -> Result<u64> {
        let head = match self
            .job
            .get(&channel_id)
            .or_else(|| self.heads.get(&channel_id))
        {
            Some(head) => *head,
            None => super::heads::head_seq(tx, channel_id)?,
        };
        Ok(head + 1)
    }

    /// Records that `seq` is now the channel's head (call after the SQL succeeded).
    pub fn set_head(&mut self, channel_id: i64, seq: u64) {
        self.job.insert(channel_id, seq);
    }

    pub fn forget(&mut self, channel_id: i64) {
        self.heads.remove(&channel_id);
        self.job.remove(&channel_id);
        self.dirty.remove(&channel_id);
    }

    fn job_succeeded(&mut self) {
        for (channel, seq) in self.job.drain() {
            self.heads.insert(channel, seq);
            self.dirty.insert(channel);
        }
    }

    fn job_failed(&mut self) {
        self.job.clear();
    }

    /// Forgets the heads, which are read again from the database: after a rollback they may
    /// be ahead of it.
    fn reset(&mut self) {
        self.heads.clear();
        self.job.clear();
        self.dirty.clear();
    }

    fn write_heads(&mut self, tx: &rusqlite::Connection) -> Result<()> {
        for channel in self.dirty.drain() {
            if let Some(seq) = self.heads.get(&channel) {
                super::heads::set_head(tx, channel, *seq)?;
            }
        }
        Ok(())
    }
}

/// One queued write with the way back to its caller.
pub struct Job {
    /// None: stop after committing everything queued before this job.
    write: Option<Box<Queued>>,
}

/// A queued write as the writer thread sees it (its result's type erased).
type Queued = dyn for<'a> Write<&'a Connection, WriterState>;

/// A write that may run more than once (see [`Job::repeatable`]).
pub type RepeatFn<T> =
    Box<dyn FnMut(&Connection, &mut WriterState) -> Result<(T, Vec<Published>)> + Send>;

impl Job {
    /// A write that runs once, in a savepoint of its own.
    pub fn new<T: Send + 'static>(f: WriteFn<T>, reply: oneshot::Sender<Result<T>>) -> Self {
        let write: queued::Queued<T, WriteFn<T>, RepeatFn<T>> = queued::Queued::once(f, reply);
        Self {
            write: Some(Box::new(write)),
        }
    }

    /// A write that may run again from the start after its batch's transaction was rolled
    /// back: it changes nothing but the database and the [`WriterState`] (both rolled back
    /// with it), so a second run differs only in what it reads again (the clock). It must
    /// return every database error it meets: a batch of such writes has no savepoints, and a
    /// swallowed error would go unnoticed until the commit.
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
    mut conn: Connection,
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
        let started = Instant::now();
        let committed = commit_batch(&mut conn, &mut state, &mut batch);
        // Failed batches too: a disk that fails slowly shows here.
        metrics.store_committed(started.elapsed());
        match committed {
            // Both happen only after the commit. The event is handed to its channel hub before
            // the ack is released, but the hub delivers asynchronously: a sender may see its
            // reply before the event of its own message.
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
                state.reset();
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

fn run_cached(tx: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs a batch in one transaction and commits it. A batch of repeatable writes runs first
/// without savepoints (a savepoint copies every page a write changes into its sub-journal,
/// and opening and releasing one per write were a sixth of the writer's time); if one of them
/// fails, the transaction is rolled back and the batch runs again with a savepoint per write,
/// so that the failed write rolls back alone.
fn commit_batch(
    conn: &mut Connection,
    state: &mut WriterState,
    batch: &mut [Box<Queued>],
) -> Result<()> {
    if batch.iter().all(|w| w.repeatable()) {
        match run_batch(conn, state, batch, false)? {
            Ran::AllSucceeded => return Ok(()),
            Ran::SomeFailed => state.reset(),
        }
    }
    run_batch(conn, state, batch, true).map(|_| ())
}

enum Ran {
    AllSucceeded,
    /// Without savepoints: rolled back at the first failed write.
    SomeFailed,
}

/// One attempt at the batch: with a savepoint per write (a failed write rolls back alone) or
/// without any (rolled back at the first failure, nothing committed).
fn run_batch(
    conn: &mut Connection,
    state: &mut WriterState,
    batch: &mut [Box<Queued>],
    savepoints: bool,
) -> Result<Ran> {
    let tx = conn.transaction()?;
    for write in batch.iter_mut() {
        // The savepoint statements are cached: parsing them per write showed up in profiles.
        if savepoints {
            if let Err(e) = run_cached(&tx, "SAVEPOINT job") {
                tracing::error!(%e, "cannot open a savepoint; write dropped");
                write.forget();
                continue;
            }
        }
        let ok = write.run(&tx, state);
        if ok {
            state.job_succeeded();
            if savepoints {
                if let Err(e) = run_cached(&tx, "RELEASE job") {
                    tracing::error!(%e, "savepoint release failed");
                }
            }
        } else {
            state.job_failed();
            if !savepoints {
                // Dropping the transaction rolls it back.
                return Ok(Ran::SomeFailed);
            }
            // If the failed write cannot be rolled back, its rows would commit under seqs the
            // writer no longer counts: the whole batch fails instead.
            run_cached(&tx, "ROLLBACK TO job").and_then(|()| run_cached(&tx, "RELEASE job"))?;
        }
        // On some errors (disk full, I/O, out of memory) SQLite rolls back the whole
        // transaction by itself. Running the next write then would start and commit a
        // transaction of its own behind our back: stop and fail the whole batch instead.
        if tx.is_autocommit() {
            return Err(Error::internal("the batch transaction was rolled back"));
        }
    }
    state.write_heads(&tx)?;
    tx.commit()?;
    Ok(Ran::AllSucceeded)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is how they fail
mod tests;
