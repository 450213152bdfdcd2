//! The in-memory store: every store trait over plain data structures, with the semantics of the
//! SQLite store (the conformance suite holds both to one contract). For tests, and as the
//! second implementation that keeps the traits honest.
//!
//! The state sits behind one `RwLock`. Reads take it briefly on the caller's task. Writes go
//! through a queue to a writer thread of the store's own, one at a time and in queue order:
//! it applies the write under the lock, lets go of the lock, publishes the write's events, then
//! answers. So seqs are given in commit order, events are published in that order on a thread
//! that may block (the hubs' back-pressure), and nothing waits on the lock while it publishes.
//! A write checks everything that can refuse it before it changes anything: that is how a
//! refused write leaves no trace, as a rolled-back savepoint does in SQLite.

mod accounts;
mod attachments;
mod channels;
mod docs;
mod messages;
mod people;
mod people_state;
mod search;
mod state;
mod tokens;
mod webhooks;

use std::sync::{Arc, RwLock};

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::{traits::Committed, Published, Publisher, StoreControl};
use crate::error::{Error, Result};
use state::State;

/// Writes that may wait in the queue before senders wait too (back-pressure).
const WRITE_QUEUE: usize = 1024;

/// The in-memory store. Cheap to clone; the writer thread stops once every clone is dropped
/// or [`StoreControl::stop`] is called.
#[derive(Clone)]
pub struct MemoryStore {
    state: Arc<RwLock<State>>,
    writer: mpsc::Sender<Job>,
}

/// A queued write: applies itself to the state and says what to publish and how to answer.
type Job = Option<Box<dyn FnOnce(&mut State) -> Applied + Send>>;

struct Applied {
    published: Vec<Published>,
    answer: Box<dyn FnOnce() + Send>,
}

impl MemoryStore {
    /// An empty store whose committed events go to `publisher`.
    pub fn open(publisher: Publisher) -> Result<Self> {
        let state = Arc::new(RwLock::new(State::default()));
        let (writer, jobs) = mpsc::channel(WRITE_QUEUE);
        let shared = Arc::clone(&state);
        std::thread::Builder::new()
            .name("parley-memory-writer".into())
            .spawn(move || run_writer(&shared, jobs, &publisher))
            .map_err(|e| Error::internal(format_args!("cannot start writer thread: {e}")))?;
        Ok(Self { state, writer })
    }

    /// Runs `f` on the writer thread; resolves once it is applied and its events published.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State) -> Result<(T, Vec<Published>)> + Send + 'static,
    ) -> Result<T> {
        self.submit(f).await?.await
    }

    /// Queues `f` and returns once it is queued (writes apply in queue order).
    async fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State) -> Result<(T, Vec<Published>)> + Send + 'static,
    ) -> Result<Committed<T>> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Some(Box::new(move |state: &mut State| match f(state) {
            Ok((value, published)) => Applied {
                published,
                answer: Box::new(move || {
                    let _ = reply.send(Ok(value));
                }),
            },
            Err(err) => Applied {
                published: Vec::new(),
                answer: Box::new(move || {
                    let _ = reply.send(Err(err));
                }),
            },
        }));
        self.writer
            .send(job)
            .await
            .map_err(|_| Error::internal("the store writer has stopped"))?;
        Ok(Committed::new(answer))
    }

    /// Runs `f` on the state as committed so far.
    fn read<T>(&self, f: impl FnOnce(&State) -> Result<T>) -> Result<T> {
        let state = self
            .state
            .read()
            .map_err(|_| Error::internal("memory store poisoned"))?;
        f(&state)
    }
}

fn run_writer(state: &RwLock<State>, mut jobs: mpsc::Receiver<Job>, publish: &Publisher) {
    while let Some(Some(job)) = jobs.blocking_recv() {
        let applied = match state.write() {
            Ok(mut state) => job(&mut state),
            Err(_) => {
                tracing::error!("memory store poisoned; writer stops");
                return;
            }
        };
        for event in applied.published {
            publish(event);
        }
        (applied.answer)();
    }
}

impl StoreControl for MemoryStore {
    fn healthy(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { !self.writer.is_closed() && self.state.read().is_ok() })
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.writer.send(None).await;
        })
    }

    fn barrier(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.write(|_| Ok(((), Vec::new()))).await;
        })
    }

    fn queued_writes(&self) -> usize {
        self.writer.max_capacity() - self.writer.capacity()
    }
}
