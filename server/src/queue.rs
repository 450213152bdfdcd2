//! A bounded queue between tasks whose buffer is allocated on first use: each WebSocket
//! connection's outbound queue (frames from its session, the channel hubs and document actors,
//! drained in order by its writer) and each open document's command queue.
//!
//! Why not tokio's `mpsc`: a bounded tokio channel allocates its first block of 32 slots and
//! its bookkeeping when it is created: about 790 bytes that every idle connection paid, and
//! 32 commands' worth for every open document (docs/benchmarks.md, "Memory per connection").
//! This queue is a `VecDeque` behind a mutex with two [`Notify`]s, the pattern tokio's own
//! documentation gives for a channel built on `Notify`: its shared state (~150 bytes) is all it
//! holds before the first item; the buffer grows with what is queued and a large one is given
//! back once drained. It keeps what Parley relies on from the bounded `mpsc` it replaces, with
//! tokio's error types: one receiver, any number of senders, `send` waits for room (a slot is kept
//! for each waiting sender; `try_send` and new senders take only the rest), `try_send` refuses when
//! full, `recv` returns `None` once every sender is gone (or the receiver closed the queue) and
//! nothing is left, a closed or dropped receiver refuses further items, and waiting uses the
//! task's cooperative budget. One difference: senders waiting for room are all woken when room
//! is made and one of them gets it, not the one that waited longest.
//!
//! One addition: the receiver's owner may park in the queue ([`Parker`]) instead of waiting in
//! a task, and is run again by the next item, the last sender going or a wake-up. A
//! connection's writer does, once idle: an idle connection then keeps no writer task.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::{
    mpsc::error::{SendError, TryRecvError, TrySendError},
    Notify,
};

/// Capacity kept by an emptied queue; above it, the queue gives its memory back once drained
/// (after a burst or a large backlog), so an idle connection holds no more than this.
const KEPT_SLOTS: usize = 16;

/// A bounded queue of `capacity` items (at least 1).
pub fn queue<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            receiver: true,
            waiting_senders: 0,
            parked: None,
            woken: false,
        }),
        readable: Notify::new(),
        writable: Notify::new(),
        capacity: capacity.max(1),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Wakes the receiver: an item was queued, or the last sender went.
    readable: Notify,
    /// Wakes senders waiting for room: an item was taken, or the receiver went.
    writable: Notify,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    senders: usize,
    receiver: bool,
    /// Senders in `send` waiting for room; the receiver wakes them only when there are some.
    waiting_senders: usize,
    /// The receiver's owner, parked while there is nothing for it (see [`Parker`]): run when
    /// an item is queued, the last sender goes or [`Parker::wake`] is called.
    parked: Option<Resume>,
    /// A wake-up asked for while the receiver was not parked: its next [`Receiver::next`]
    /// returns [`Next::Woken`], and it cannot park until then.
    woken: bool,
}

/// What a parked receiver's owner left to be run when the queue needs it again.
type Resume = Box<dyn FnOnce() + Send>;

/// What [`Receiver::next`] gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<T> {
    Item(T),
    /// [`Parker::wake`] was called (before any item queued after it is taken).
    Woken,
    /// Every sender is gone (or the queue was closed) and nothing is left.
    Ended,
}

impl<T> State<T> {
    /// Gives a large buffer back once the queue is empty (after a burst or a backlog).
    fn shrink_if_drained(&mut self) {
        if self.items.is_empty() && self.items.capacity() > KEPT_SLOTS {
            self.items = VecDeque::new();
        }
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while the lock is held; a poisoned lock still holds a sound queue.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets the receiver know there is something for it (an item, or no sender left): resumes
    /// its parked owner, or wakes it if it waits. Takes the lock so that a parked owner is
    /// taken out under it, and run (which may spawn a task) after it is released.
    fn wake_receiver(&self, mut state: MutexGuard<'_, State<T>>) {
        let resume = state.parked.take();
        drop(state);
        match resume {
            Some(resume) => resume(),
            None => self.readable.notify_one(),
        }
    }
}

/// The sending side; cloned for each producer.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Queues `item` now, or gives it back: `Full` when the queue holds `capacity` items,
    /// `Closed` when the receiver is gone.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let mut state = self.shared.lock();
        if !state.receiver {
            return Err(TrySendError::Closed(item));
        }
        // One slot is kept for each sender waiting (as tokio's permits go to waiters first).
        if state.items.len() + state.waiting_senders >= self.shared.capacity {
            return Err(TrySendError::Full(item));
        }
        state.items.push_back(item);
        self.shared.wake_receiver(state);
        Ok(())
    }

    /// Queues `item`, waiting for room; an error gives it back when the receiver is gone.
    /// Each sender that waits has a slot kept for it as room is made (new senders and
    /// `try_send` take only the rest), though waiting senders are not served in the order they
    /// came (all are woken when room is made, and they race for it).
    /// Cancel-safe: dropped while waiting, it has queued nothing. Uses the task's
    /// cooperative budget while it waits, as tokio's channels do.
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        // No room reserved for others and room now: no registration at all.
        let item = match self.try_send(item) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(item)) => return Err(SendError(item)),
            Err(TrySendError::Full(item)) => item,
        };
        tokio::task::coop::cooperative(async move {
            // Counted in `waiting_senders` from the first wait until this future ends.
            let mut waiting: Option<WaitingSender<'_, T>> = None;
            loop {
                let room = self.shared.writable.notified();
                tokio::pin!(room);
                // Registered before the queue is looked at, so a take in between is not missed.
                room.as_mut().enable();
                {
                    let mut state = self.shared.lock();
                    if !state.receiver {
                        drop(state);
                        return Err(SendError(item));
                    }
                    let first_wait = waiting.is_none();
                    // A sender not yet waiting leaves a slot to each of those that are.
                    let kept = if first_wait { state.waiting_senders } else { 0 };
                    if state.items.len() + kept < self.shared.capacity {
                        state.items.push_back(item);
                        self.shared.wake_receiver(state);
                        return Ok(());
                    }
                    if first_wait {
                        state.waiting_senders += 1;
                    }
                }
                if waiting.is_none() {
                    waiting = Some(WaitingSender(&self.shared));
                }
                room.await;
            }
        })
        .await
    }

    /// Free slots: how many items could be queued now (those kept for waiting senders aside).
    pub fn capacity(&self) -> usize {
        let state = self.shared.lock();
        self.shared
            .capacity
            .saturating_sub(state.items.len() + state.waiting_senders)
    }

    /// The bound the queue was made with.
    pub fn max_capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Whether the receiver is gone or has closed the queue (items are refused).
    pub fn is_closed(&self) -> bool {
        !self.shared.lock().receiver
    }
}

/// Counts a sender waiting for room for as long as it waits, cancellation included.
struct WaitingSender<'a, T>(&'a Shared<T>);

impl<T> Drop for WaitingSender<'_, T> {
    /// A sender stops waiting (it queued its item, gave up or found the queue closed). Room
    /// still free is passed on to the senders still waiting: they may have seen it reserved
    /// for this one, and no take may come to wake them.
    fn drop(&mut self) {
        let pass_on = {
            let mut state = self.0.lock();
            state.waiting_senders = state.waiting_senders.saturating_sub(1);
            state.waiting_senders > 0 && state.items.len() < self.0.capacity
        };
        if pass_on {
            self.0.writable.notify_waiters();
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.senders -= 1;
        if state.senders == 0 {
            self.shared.wake_receiver(state);
        }
    }
}

/// The receiving side (one per queue).
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next item, waiting for one; `None` once every sender is gone and the queue is empty.
    /// Cancel-safe: dropped while waiting, it has taken nothing.
    /// Uses the task's cooperative budget, as tokio's channels do.
    pub async fn recv(&mut self) -> Option<T> {
        tokio::task::coop::cooperative(async {
            loop {
                match self.try_recv() {
                    Ok(item) => return Some(item),
                    Err(TryRecvError::Disconnected) => return None,
                    // A sender that queues after this look stores a wake-up for the one waiter
                    // (`notify_one`), so it is not missed.
                    Err(TryRecvError::Empty) => self.shared.readable.notified().await,
                }
            }
        })
        .await
    }

    /// The next item, or a wake-up asked for with [`Parker::wake`] (it comes first), waiting
    /// for either; `Ended` once every sender is gone and nothing is left. Cancel-safe.
    pub async fn next(&mut self) -> Next<T> {
        tokio::task::coop::cooperative(async {
            loop {
                if let Some(next) = self.take(true) {
                    return next;
                }
                // As in `recv`: whoever queues or wakes after this look stores a wake-up.
                self.shared.readable.notified().await;
            }
        })
        .await
    }

    /// Waits for at least one item, then moves up to `limit` into `into`; the number moved,
    /// 0 once every sender is gone (or the queue was closed) and nothing is left. Cancel-safe.
    pub async fn recv_many(&mut self, into: &mut Vec<T>, limit: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        let Some(first) = self.recv().await else {
            return 0;
        };
        into.push(first);
        // The rest under one lock, and waiting senders woken once.
        let (moved, wake_senders) = {
            let mut state = self.shared.lock();
            let more = state.items.len().min(limit - 1);
            into.extend(state.items.drain(..more));
            state.shrink_if_drained();
            (1 + more, state.waiting_senders > 0)
        };
        if wake_senders {
            self.shared.writable.notify_waiters();
        }
        moved
    }

    /// The next item if there is one now.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.take(false) {
            Some(Next::Item(item)) => Ok(item),
            Some(Next::Ended) => Err(TryRecvError::Disconnected),
            Some(Next::Woken) | None => Err(TryRecvError::Empty),
        }
    }

    /// What there is now, under one lock: a wake-up (only when `woken` is asked for, which
    /// takes it), an item, the end, or nothing (`None`).
    fn take(&mut self, woken: bool) -> Option<Next<T>> {
        let (item, wake_senders) = {
            let mut state = self.shared.lock();
            if woken && state.woken {
                state.woken = false;
                return Some(Next::Woken);
            }
            let Some(item) = state.items.pop_front() else {
                let ended = state.senders == 0 || !state.receiver;
                return ended.then_some(Next::Ended);
            };
            state.shrink_if_drained();
            (item, state.waiting_senders > 0)
        };
        if wake_senders {
            self.shared.writable.notify_waiters();
        }
        Some(Next::Item(item))
    }

    /// A handle to park this receiver's owner with, wake it, and see it go.
    pub fn parker(&self) -> Parker<T> {
        Parker {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Refuses further items (senders see `Closed`); what is queued can still be received.
    pub fn close(&mut self) {
        self.shared.lock().receiver = false;
        self.shared.writable.notify_waiters();
    }

    /// Items queued now.
    pub fn len(&self) -> usize {
        self.shared.lock().items.len()
    }

    /// Whether nothing is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let items = {
            let mut state = self.shared.lock();
            state.receiver = false;
            std::mem::take(&mut state.items)
        };
        // Dropped outside the lock: an item's drop may run arbitrary code.
        drop(items);
        self.shared.writable.notify_waiters();
    }
}

/// Lets the owner of a queue's receiver stop running while there is nothing for it, and be
/// started again when there is: an idle WebSocket connection keeps no writer task, only what
/// its writer needs to resume (docs/benchmarks.md, "Memory per connection"). Not a sender: it
/// does not keep the queue open.
pub struct Parker<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Parker<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Parker<T> {
    /// Parks `owner`, which holds this queue's receiver: `resume(owner)` runs (once, on the
    /// thread that caused it, with no lock held) when an item is queued, the last sender goes
    /// or [`Parker::wake`] is called. Refused, giving `owner` back, when there is something
    /// for it already: an item, a wake-up not yet taken, or no sender left.
    ///
    /// While parked, the queue holds `owner` and `owner` holds the queue: something must
    /// resume it in the end (a connection's close does, by waking it).
    ///
    /// Parking also gives back the queue's buffer (the next item allocates a small one): a
    /// parked owner is an idle one. Pass `resume` as a function item, not a pointer, and the
    /// box holds `owner` alone.
    pub fn park<S, F>(&self, owner: S, resume: F) -> Result<(), S>
    where
        S: Send + 'static,
        F: FnOnce(S) + Send + 'static,
    {
        let mut state = self.shared.lock();
        if !state.items.is_empty() || state.woken || state.senders == 0 || state.parked.is_some() {
            return Err(owner);
        }
        state.items = VecDeque::new();
        state.parked = Some(Box::new(move || resume(owner)));
        Ok(())
    }

    /// Resumes the parked owner; when it is not parked, its next [`Receiver::next`] returns
    /// [`Next::Woken`] (and it cannot park before taking that).
    pub fn wake(&self) {
        let mut state = self.shared.lock();
        if state.parked.is_none() {
            state.woken = true;
        }
        self.shared.wake_receiver(state);
    }

    /// Whether an owner is parked now.
    pub fn is_parked(&self) -> bool {
        self.shared.lock().parked.is_some()
    }

    /// Waits until the receiver is gone (dropped or closed).
    pub async fn receiver_gone(&self) {
        loop {
            let gone = self.shared.writable.notified();
            tokio::pin!(gone);
            // Registered before the look, so a drop in between is not missed.
            gone.as_mut().enable();
            if !self.shared.lock().receiver {
                return;
            }
            gone.await;
        }
    }
}

#[cfg(test)]
mod park_tests;
#[cfg(test)]
mod tests;
