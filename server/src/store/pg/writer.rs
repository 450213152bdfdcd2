//! The writer thread: group commit with one savepoint per write, as in the SQLite store. The
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
    store::{refusals, Published, Publisher},
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
    run: Option<RunFn>,
}

/// What a write left behind until the batch commits.
struct Pending {
    published: Vec<Published>,
    deliver: Box<dyn FnOnce(Result<()>) + Send>,
}

type RunFn = Box<dyn FnOnce(&mut Transaction<'_>, &mut WriterState) -> (bool, Pending) + Send>;

impl Job {
    pub fn new<T: Send + 'static>(f: WriteFn<T>, reply: oneshot::Sender<Result<T>>) -> Self {
        Self {
            run: Some(Box::new(move |tx, state| match f(tx, state) {
                Ok((value, published)) => (
                    true,
                    Pending {
                        published,
                        deliver: Box::new(move |commit| {
                            let _ = reply.send(commit.map(|()| value));
                        }),
                    },
                ),
                Err(err) => (
                    false,
                    Pending {
                        published: Vec::new(),
                        deliver: Box::new(move |_| {
                            let _ = reply.send(Err(err));
                        }),
                    },
                ),
            })),
        }
    }

    pub fn stop() -> Self {
        Self { run: None }
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
        let committed = commit_batch(&mut client, &mut state, batch.drain(..));
        metrics.store_committed(started.elapsed());
        match committed {
            Ok(pending) => {
                for p in pending {
                    for event in p.published {
                        publish(event);
                    }
                    (p.deliver)(Ok(()));
                }
            }
            Err((err, pending)) => {
                tracing::error!(%err, writes = pending.len(), "batch failed to commit");
                // Prepared statements may be what failed (dropped by a pooler, invalidated by
                // a schema change): the next batch prepares them again.
                state.statements.clear();
                for p in pending {
                    (p.deliver)(Err(err.clone()));
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

type BatchOutcome = std::result::Result<Vec<Pending>, (Error, Vec<Pending>)>;

fn commit_batch(
    client: &mut Client,
    state: &mut WriterState,
    jobs: impl Iterator<Item = RunFn>,
) -> BatchOutcome {
    let mut pending = Vec::new();
    let mut tx = match client.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            // The jobs never ran; dropping them drops their reply senders, which their callers
            // see as a failed write.
            drop(jobs.collect::<Vec<_>>());
            return Err((Error::from(e), pending));
        }
    };
    let mut jobs = jobs;
    for job in jobs.by_ref() {
        // A savepoint per write: one failing write (say, a duplicate name) rolls back alone.
        let mut savepoint = match tx.savepoint("job") {
            Ok(savepoint) => savepoint,
            Err(e) => {
                drop(jobs.collect::<Vec<_>>());
                return Err((Error::from(e), pending));
            }
        };
        let (ok, result) = job(&mut savepoint, state);
        let ended = if ok {
            savepoint.commit()
        } else {
            // Usually a refusal (a name taken, a limit), but it may be a prepared statement
            // the server no longer has: they are prepared again, a few round trips.
            state.statements.clear();
            savepoint.rollback()
        };
        pending.push(result);
        if let Err(e) = ended {
            drop(jobs.collect::<Vec<_>>());
            return Err((Error::from(e), pending));
        }
    }
    match tx.commit() {
        Ok(()) => Ok(pending),
        Err(e) => Err((Error::from(e), pending)),
    }
}
