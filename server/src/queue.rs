//! A bounded queue between tasks that costs nothing before its first item: each WebSocket
//! connection's outbound queue (frames from its session, the channel hubs and document actors,
//! drained in order by its writer) and each open document's command queue.
//!
//! Why not tokio's `mpsc`: a bounded tokio channel allocates its first block of 32 slots and
//! its bookkeeping when it is created: about 790 bytes that every idle connection paid, and
//! 32 commands' worth for every open document (docs/benchmarks.md, "Memory per connection").
//! This queue is a `VecDeque` behind a mutex with two [`Notify`]s, the pattern tokio's own
//! documentation gives for a channel built on `Notify`: about 150 bytes before the first item;
//! it grows with what is queued and gives a large buffer back once drained. It keeps the
//! semantics of the bounded `mpsc` it replaces, with tokio's error types: one receiver, any
//! number of senders, `send` waits for room, `try_send` refuses when full, `recv` returns
//! `None` once every sender is gone (or the receiver closed the queue) and nothing is left,
//! and a closed or dropped receiver refuses further items.

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
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while the lock is held; a poisoned lock still holds a sound queue.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
        if state.items.len() >= self.shared.capacity {
            return Err(TrySendError::Full(item));
        }
        state.items.push_back(item);
        drop(state);
        self.shared.readable.notify_one();
        Ok(())
    }

    /// Queues `item`, waiting for room; an error gives it back when the receiver is gone.
    /// Cancel-safe: dropped while waiting, it has queued nothing.
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        loop {
            let room = self.shared.writable.notified();
            tokio::pin!(room);
            // Registered before the queue is looked at, so a take in between is not missed.
            room.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if !state.receiver {
                    return Err(SendError(item));
                }
                if state.items.len() < self.shared.capacity {
                    state.items.push_back(item);
                    drop(state);
                    self.shared.readable.notify_one();
                    return Ok(());
                }
                state.waiting_senders += 1;
            }
            let waiting = WaitingSender(&self.shared);
            room.await;
            drop(waiting);
        }
    }

    /// Free slots: how many items could be queued now.
    pub fn capacity(&self) -> usize {
        self.shared
            .capacity
            .saturating_sub(self.shared.lock().items.len())
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
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.waiting_senders = state.waiting_senders.saturating_sub(1);
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
        let last = {
            let mut state = self.shared.lock();
            state.senders -= 1;
            state.senders == 0
        };
        if last {
            self.shared.readable.notify_one();
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
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            match self.try_recv() {
                Ok(item) => return Some(item),
                Err(TryRecvError::Disconnected) => return None,
                // A sender that queues after this look stores a wake-up for the one waiter
                // (`notify_one`), so it is not missed.
                Err(TryRecvError::Empty) => self.shared.readable.notified().await,
            }
        }
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
        let mut moved = 1;
        while moved < limit {
            match self.try_recv() {
                Ok(item) => into.push(item),
                Err(_) => break,
            }
            moved += 1;
        }
        moved
    }

    /// The next item if there is one now.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let (item, wake_senders) = {
            let mut state = self.shared.lock();
            let Some(item) = state.items.pop_front() else {
                return Err(if state.senders == 0 || !state.receiver {
                    TryRecvError::Disconnected
                } else {
                    TryRecvError::Empty
                });
            };
            if state.items.is_empty() && state.items.capacity() > KEPT_SLOTS {
                state.items = VecDeque::new();
            }
            (item, state.waiting_senders > 0)
        };
        if wake_senders {
            self.shared.writable.notify_waiters();
        }
        Ok(item)
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

#[cfg(test)]
mod tests;
