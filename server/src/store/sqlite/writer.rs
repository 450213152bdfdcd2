//! The writer thread: group commit with one savepoint per write.

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
    store::{Published, Publisher},
};

/// State the writer keeps between batches: the newest seq per channel, so assigning the next
/// one costs no query, and which heads must be written back before the batch commits (once
/// per channel per batch rather than once per event). Reset whenever a batch fails to commit.
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
    run: Option<RunFn>,
}

/// What a write left behind until the batch commits.
struct Pending {
    ok: bool,
    published: Vec<Published>,
    deliver: Box<dyn FnOnce(Result<()>) + Send>,
}

impl Job {
    pub fn new<T: Send + 'static>(f: WriteFn<T>, reply: oneshot::Sender<Result<T>>) -> Self {
        Self {
            run: Some(Box::new(move |tx, state| match f(tx, state) {
                Ok((value, published)) => Pending {
                    ok: true,
                    published,
                    deliver: Box::new(move |commit| {
                        let _ = reply.send(commit.map(|()| value));
                    }),
                },
                Err(err) => Pending {
                    ok: false,
                    published: Vec::new(),
                    deliver: Box::new(move |_| {
                        let _ = reply.send(Err(err));
                    }),
                },
            })),
        }
    }

    pub fn stop() -> Self {
        Self { run: None }
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
            match job.run {
                Some(run) => batch.push(run),
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
        let committed = commit_batch(&mut conn, &mut state, batch.drain(..));
        // Failed batches too: a disk that fails slowly shows here.
        metrics.store_committed(started.elapsed());
        let pending = match committed {
            Ok(pending) => pending,
            Err((err, pending)) => {
                tracing::error!(%err, writes = pending.len(), "batch failed to commit");
                state = WriterState {
                    webhooks: state.webhooks,
                    ..WriterState::default()
                };
                for p in pending {
                    (p.deliver)(Err(err.clone()));
                }
                if stopping {
                    break;
                }
                continue;
            }
        };
        // Both happen only after the commit. The event is handed to its channel hub before the
        // ack is released, but the hub delivers asynchronously: a sender may see its reply
        // before the event of its own message.
        for p in pending {
            for event in p.published {
                publish(event);
            }
            (p.deliver)(Ok(()));
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

type RunFn = Box<dyn FnOnce(&rusqlite::Connection, &mut WriterState) -> Pending + Send>;

type BatchOutcome = std::result::Result<Vec<Pending>, (Error, Vec<Pending>)>;

fn commit_batch(
    conn: &mut Connection,
    state: &mut WriterState,
    jobs: impl Iterator<Item = RunFn>,
) -> BatchOutcome {
    let mut pending = Vec::new();
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            let err = Error::from(e);
            // The jobs never ran; dropping them drops their reply senders, which their callers
            // see as a failed write.
            drop(jobs.collect::<Vec<_>>());
            return Err((err, pending));
        }
    };
    let mut jobs = jobs;
    for job in jobs.by_ref() {
        // A savepoint per write: one failing write (say, a duplicate name) rolls back alone.
        // The savepoint statements are cached: parsing them per write showed up in profiles.
        if let Err(e) = run_cached(&tx, "SAVEPOINT job") {
            tracing::error!(%e, "cannot open a savepoint; write dropped");
            continue;
        }
        let result = job(&tx, state);
        if result.ok {
            state.job_succeeded();
            if let Err(e) = run_cached(&tx, "RELEASE job") {
                tracing::error!(%e, "savepoint release failed");
            }
        } else {
            state.job_failed();
            if let Err(e) =
                run_cached(&tx, "ROLLBACK TO job").and_then(|()| run_cached(&tx, "RELEASE job"))
            {
                tracing::error!(%e, "savepoint rollback failed");
            }
        }
        pending.push(result);
        // On some errors (disk full, I/O, out of memory) SQLite rolls back the whole
        // transaction by itself. Running the next write then would start and commit a
        // transaction of its own behind our back: stop and fail the whole batch instead.
        if tx.is_autocommit() {
            drop(jobs.collect::<Vec<_>>());
            return Err((
                Error::internal("the batch transaction was rolled back"),
                pending,
            ));
        }
    }
    if let Err(err) = state.write_heads(&tx) {
        return Err((err, pending));
    }
    match tx.commit() {
        Ok(()) => Ok(pending),
        Err(e) => Err((Error::from(e), pending)),
    }
}
