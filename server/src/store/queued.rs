//! A write queued for a store's writer thread, shared by the SQLite and PostgreSQL writers: its
//! body (a closure that runs once, or one that may run again after a rollback), the outcome of
//! its last run, and the way back to its caller.

use tokio::sync::oneshot;

use super::Published;
use crate::error::{Error, Result};

/// What a write's run produced: its value and the durable events to publish after the commit.
pub type Outcome<T> = Result<(T, Vec<Published>)>;

/// A queued write as a writer thread sees it, whatever its result's type. `Tx` is what a write
/// runs against (the SQLite connection of the batch's transaction, or the PostgreSQL
/// transaction), `S` the writer's own state.
pub trait Write<Tx, S>: Send {
    /// Runs the write; true if it succeeded. A repeatable write may run again after its batch
    /// was rolled back: the last run's outcome is the one delivered.
    fn run(&mut self, tx: Tx, state: &mut S) -> bool;
    fn repeatable(&self) -> bool;
    /// The durable events of its last run, to publish once the batch committed.
    fn take_published(&mut self) -> Vec<Published>;
    /// Forgets the outcome of an earlier run (the write is not in the batch after all).
    fn forget(&mut self);
    /// Answers the caller: its own error, or the batch's outcome. A write that never ran drops
    /// its reply, which its caller sees as a failed write.
    fn finish(self: Box<Self>, commit: Result<()>);
}

enum Body<Once, Repeat> {
    Once(Option<Once>),
    Repeat(Repeat),
}

/// A write with its reply. `Once` runs at most once; `Repeat` may run again from the start
/// with the same effect, because it changes nothing but the database and the writer's state
/// (both rolled back with the batch).
pub struct Queued<T, Once, Repeat> {
    body: Body<Once, Repeat>,
    outcome: Option<Outcome<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, Once, Repeat> Queued<T, Once, Repeat> {
    pub fn once(f: Once, reply: oneshot::Sender<Result<T>>) -> Self {
        Self::new(Body::Once(Some(f)), reply)
    }

    pub fn repeatable(f: Repeat, reply: oneshot::Sender<Result<T>>) -> Self {
        Self::new(Body::Repeat(f), reply)
    }

    fn new(body: Body<Once, Repeat>, reply: oneshot::Sender<Result<T>>) -> Self {
        Self {
            body,
            outcome: None,
            reply,
        }
    }
}

impl<T, Tx, S, Once, Repeat> Write<Tx, S> for Queued<T, Once, Repeat>
where
    T: Send,
    Once: FnOnce(Tx, &mut S) -> Outcome<T> + Send,
    Repeat: FnMut(Tx, &mut S) -> Outcome<T> + Send,
{
    fn run(&mut self, tx: Tx, state: &mut S) -> bool {
        let outcome = match &mut self.body {
            Body::Once(f) => match f.take() {
                Some(f) => f(tx, state),
                None => Err(Error::internal("a write ran twice")),
            },
            Body::Repeat(f) => f(tx, state),
        };
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn repeatable(&self) -> bool {
        matches!(self.body, Body::Repeat(_))
    }

    fn take_published(&mut self) -> Vec<Published> {
        match &mut self.outcome {
            Some(Ok((_, published))) => std::mem::take(published),
            _ => Vec::new(),
        }
    }

    fn forget(&mut self) {
        self.outcome = None;
    }

    fn finish(self: Box<Self>, commit: Result<()>) {
        let answer = match self.outcome {
            Some(Ok((value, _))) => commit.map(|()| value),
            Some(Err(err)) => Err(err),
            None => return,
        };
        let _ = self.reply.send(answer);
    }
}
