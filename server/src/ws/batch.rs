//! Batched delivery (`batch_ms` at connect): the frames due to a connection within one window
//! go out as one text frame holding a JSON array of them, in order.

use std::{pin::Pin, time::Duration};

use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::WaitForCancellationFuture;

use super::Frame;

/// A connection's batch window and the most bytes one batch gathers.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    pub window: Duration,
    pub max_bytes: usize,
}

/// Frames in one batch at most (besides the byte bound).
const MAX_FRAMES_PER_BATCH: usize = 4096;

/// Gathers `first` and the frames that follow it within the window into one JSON array. The
/// window ends early when a frame that must not wait arrives (see `Frame::may_wait`), when the
/// batch holds `max_bytes` or more, or when the connection is closing. The frames are text
/// frames of the JSON protocol, each one complete JSON value.
pub async fn gather(
    first: Frame,
    rx: &mut super::OutboundRx,
    batching: Batching,
    mut closing: Pin<&mut WaitForCancellationFuture<'_>>,
) -> Frame {
    let deadline = Instant::now() + batching.window;
    // One timer for the whole window (registered when first waited on), not one per wait.
    let window = tokio::time::sleep_until(deadline);
    tokio::pin!(window);
    // Room for what is queued already, within the bound.
    let guess = (first.as_str().len() + 1).saturating_mul(rx.len() + 1) + 2;
    let mut text = String::with_capacity(guess.min(batching.max_bytes + first.as_str().len()));
    text.push('[');
    text.push_str(first.as_str());
    let mut ends = !first.may_wait();
    let mut frames = 1;
    while !ends
        && text.len() < batching.max_bytes
        && frames < MAX_FRAMES_PER_BATCH
        && Instant::now() < deadline
    {
        let next = match rx.try_recv() {
            Ok(next) => next,
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => tokio::select! {
                biased;
                next = rx.recv() => match next {
                    Some(next) => next,
                    None => break,
                },
                () = &mut window => break,
                () = closing.as_mut() => break,
            },
        };
        text.push(',');
        text.push_str(next.as_str());
        frames += 1;
        ends = !next.may_wait();
    }
    text.push(']');
    Frame::from(text)
}

/// Everything still queued, as one batch (at shutdown, when nothing waits for a window).
pub fn drain(rx: &mut super::OutboundRx) -> Option<Frame> {
    let first = rx.try_recv().ok()?;
    let mut text = String::with_capacity(first.as_str().len() + 2);
    text.push('[');
    text.push_str(first.as_str());
    while let Ok(next) = rx.try_recv() {
        text.push(',');
        text.push_str(next.as_str());
    }
    text.push(']');
    Some(Frame::from(text))
}
