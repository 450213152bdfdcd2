//! The writer half of a connection: drains its bounded queue, gathers frames into one flush,
//! sends the pings the liveness sweep asks for (`liveness`), and closes with the code it was
//! asked for.
//!
//! A writer runs as a task only while its connection has something to write: once nothing
//! was queued for `LINGER` it parks in its queue (`queue::Parker`), keeping only the state
//! it resumes from (~130 bytes instead of a ~750-byte task), and the next frame queued, a ping
//! asked for or the connection's close starts it again as a new task. A busy connection
//! (anything more often than once per `LINGER`) keeps its task; an idle one costs no task.

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use futures_util::{stream::SplitSink, SinkExt};
use parley_protocol::close_code;
use tokio::time::Instant;
use tokio_util::sync::WaitForCancellationFuture;

use super::{batch, Batching, ConnControl, Frame, OutboundRx};
use crate::{queue::Next, store};

pub struct WriterTiming {
    /// How long a write may wait on the socket before the connection is closed as stalled.
    pong_timeout: Duration,
    /// Batched delivery, when the client asked for it.
    pub batching: Option<Batching>,
}

impl From<&Arc<crate::Config>> for WriterTiming {
    fn from(config: &Arc<crate::Config>) -> Self {
        Self {
            pong_timeout: config.websocket.pong_timeout,
            batching: None,
        }
    }
}

/// Frames written before one flush.
const MAX_FRAMES_PER_FLUSH: usize = 256;

/// How long a writer with nothing to write stays a task before it parks. Long enough that a
/// connection receiving a few frames a second keeps its task (starting one costs a spawn),
/// short enough that idle connections soon hold none.
const LINGER: Duration = Duration::from_secs(1);

/// Everything a connection's writer needs, kept in its queue while it is parked.
pub struct Writer {
    sink: SplitSink<WebSocket, WsMessage>,
    rx: OutboundRx,
    control: Arc<ConnControl>,
    timing: WriterTiming,
    /// The runtime to resume on: whoever queues the frame that resumes it may be on a thread
    /// of its own.
    runtime: tokio::runtime::Handle,
}

/// How the active part of a writer ended.
enum Done {
    /// Nothing queued for `LINGER`: park.
    Quiet,
    /// The connection is closing: write the close frame (and, on shutdown, what is queued,
    /// starting with the frame taken but not written).
    Close(Option<Frame>),
    /// The socket failed: nothing more can be written.
    Failed,
}

/// The reader's hold on its connection's writer: finishes it (marking the reader done and
/// waking the writer) when asked or when dropped, however the reader ends, so a parked writer
/// is never left behind holding the socket. It does not cancel the connection's `closing`:
/// that means the connection was closed (by us), and a document's actor ignores what such a
/// connection sent; a peer that closed normally has its last updates applied.
pub struct WriterHandle {
    parker: crate::queue::Parker<Frame>,
    control: Arc<ConnControl>,
}

impl WriterHandle {
    /// Asks the writer to finish: it writes the close frame with the code asked for (1000 when
    /// none was) and ends.
    pub fn close(&self) {
        self.control.reader_done.store(true, Ordering::Release);
        self.parker.wake();
    }

    /// Runs a parked writer now, so that it sees the connection closing at once (rather than
    /// when the reader has finished cleaning up).
    pub fn wake(&self) {
        self.parker.wake();
    }

    /// Waits until the writer has ended (its queue's receiver is gone).
    pub async fn finished(&self) {
        self.parker.receiver_gone().await;
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        self.close();
    }
}

impl Writer {
    /// Called on the runtime the writer is to run on.
    pub fn new(
        sink: SplitSink<WebSocket, WsMessage>,
        rx: OutboundRx,
        control: Arc<ConnControl>,
        timing: WriterTiming,
    ) -> Self {
        Self {
            sink,
            rx,
            control,
            timing,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Starts the writer parked (the first frame queued runs it); the handle for its reader.
    pub fn start(self) -> WriterHandle {
        let handle = WriterHandle {
            parker: self.rx.parker(),
            control: Arc::clone(&self.control),
        };
        if let Err(writer) = handle.parker.park(self, resume) {
            resume(writer);
        }
        handle
    }

    /// Writes until the connection closes or has been quiet for `LINGER`.
    async fn active(&mut self) -> Done {
        let control = Arc::clone(&self.control);
        // One cancellation future for the whole run: making a new one per frame registers and
        // deregisters a waiter each time, which showed up in fan-out profiles.
        let closing = control.closing.cancelled();
        tokio::pin!(closing);
        // One timer for the run, moved on only when it fires (not once per frame).
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        let mut last = Instant::now();
        loop {
            // Looked at on every turn (one load): the reader's end wakes the writer to see it.
            if control.reader_done.load(Ordering::Acquire) {
                return Done::Close(None);
            }
            if control.ping_due.swap(false, Ordering::AcqRel) {
                // Boxed: rare, and every running writer would carry its state otherwise.
                if let Err(done) = Box::pin(self.ping()).await {
                    return done;
                }
            }
            // Queued frames first: the close signal is checked when there is nothing to write,
            // or when the socket makes a write wait (a stuck reader is closed from there).
            tokio::select! {
                biased;
                next = self.rx.next() => match next {
                    Next::Item(frame) => {
                        if let Some(done) = self.write(frame, closing.as_mut()).await {
                            return done;
                        }
                        last = Instant::now();
                    }
                    // A ping asked for, or the reader's end: looked at above.
                    Next::Woken => {}
                    Next::Ended => return Done::Close(None),
                },
                () = &mut closing => return Done::Close(None),
                () = &mut linger => {
                    let until = last + LINGER;
                    if Instant::now() >= until {
                        return Done::Quiet;
                    }
                    linger.as_mut().reset(until);
                }
            }
        }
    }

    /// Writes `frame` and what is queued behind it (up to a bound, or one batch when batching),
    /// then flushes once. `Some` when the writer must stop.
    async fn write(
        &mut self,
        mut frame: Frame,
        mut closing: std::pin::Pin<&mut WaitForCancellationFuture<'_>>,
    ) -> Option<Done> {
        if let Some(batching) = self.timing.batching {
            // Boxed, as every path an idle connection is not on.
            frame = Box::pin(batch::gather(
                frame,
                &mut self.rx,
                batching,
                closing.as_mut(),
            ))
            .await;
        }
        // Under constant traffic the queue never empties: look at the close signal once per
        // batch too (cheap enough here, unlike per frame).
        if self.control.closing.is_cancelled() {
            return Some(Done::Close(Some(frame)));
        }
        // A peer that stops reading (zero window) must not hold a write forever: a batch that
        // cannot be written within pong_timeout closes the connection.
        let stall = tokio::time::sleep(self.timing.pong_timeout);
        tokio::pin!(stall);
        let mut written = 0;
        loop {
            // Feeding usually completes at once (it buffers); the close signal is only looked
            // at when the socket makes us wait.
            let fed = tokio::select! {
                biased;
                fed = self.sink.feed(frame.message()) => fed,
                () = &mut closing => return Some(Done::Close(Some(frame))),
                () = &mut stall => return Some(self.stalled()),
            };
            if fed.is_err() {
                return Some(self.failed());
            }
            written += 1;
            // A batched connection writes one frame per window.
            if written >= MAX_FRAMES_PER_FLUSH || self.timing.batching.is_some() {
                break;
            }
            match self.rx.try_recv() {
                Ok(next) => frame = next,
                Err(_) => break,
            }
        }
        let flushed = tokio::select! {
            biased;
            flushed = self.sink.flush() => flushed,
            () = &mut closing => return Some(Done::Close(None)),
            () = &mut stall => return Some(self.stalled()),
        };
        if flushed.is_err() {
            return Some(self.failed());
        }
        None
    }

    /// Sends the ping the liveness sweep asked for, and notes when (its pong is awaited).
    async fn ping(&mut self) -> Result<(), Done> {
        let sent_at = store::now_ms();
        let ping = self.sink.send(WsMessage::Ping(Default::default()));
        match tokio::time::timeout(self.timing.pong_timeout, ping).await {
            Ok(Ok(())) => {
                self.control.note_ping_written(sent_at);
                Ok(())
            }
            Ok(Err(_)) => Err(self.failed()),
            Err(_) => Err(self.stalled()),
        }
    }

    /// Before parking: the socket keeps the waker of the task that last wrote to it
    /// (tokio-tungstenite's write-waker slot), and a waker keeps its task's memory (~900
    /// bytes) allocated after the task has ended. A flush with a no-op waker puts that waker
    /// in its place (`poll_ready` would not: it registers nothing when the sink is ready).
    /// Nothing is left to flush here, so it completes at once; `Pending` if it did not (the
    /// reader holds the socket this instant), and the writer goes on instead of parking.
    fn release_waker(&mut self) -> std::task::Poll<Result<(), axum::Error>> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        futures_util::Sink::poll_flush(std::pin::Pin::new(&mut self.sink), &mut cx)
    }

    fn stalled(&self) -> Done {
        self.control
            .close_with(close_code::PONG_TIMEOUT, "writes stalled");
        Done::Close(None)
    }

    fn failed(&self) -> Done {
        self.control.close_with(1011, "write failed");
        Done::Failed
    }

    /// Writes the close frame with the code asked for; on server shutdown (1001) first what is
    /// still queued, starting with `unsent`, so the drain leaves no gap. Bounded.
    async fn finish(&mut self, mut unsent: Option<Frame>) {
        let code = self.control.code.load(Ordering::Acquire);
        let reason = self.control.reason.get().copied().unwrap_or("");
        let (sink, rx) = (&mut self.sink, &mut self.rx);
        let batching = self.timing.batching.is_some();
        let finish = async {
            if code == 1001 {
                if let Some(frame) = unsent.take() {
                    if sink.feed(frame.message()).await.is_err() {
                        return;
                    }
                }
                if batching {
                    if let Some(frame) = batch::drain(rx) {
                        if sink.feed(frame.message()).await.is_err() {
                            return;
                        }
                    }
                }
                while let Ok(frame) = rx.try_recv() {
                    if sink.feed(frame.message()).await.is_err() {
                        return;
                    }
                }
            }
            let close = CloseFrame {
                code: if code == 0 { 1000 } else { code },
                reason: reason.into(),
            };
            let _ = sink.send(WsMessage::Close(Some(close))).await;
            let _ = sink.close().await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(3), finish).await;
    }
}

/// Runs a parked writer again, as a task of its own (on a runtime that has shut down, the
/// task is dropped at once, and the writer with it).
fn resume(writer: Writer) {
    let runtime = writer.runtime.clone();
    // Not instrumented: this future is polled once per delivery, and entering a span on every
    // poll was measurable in fan-out profiles. It logs nothing on its hot path.
    runtime.spawn(run(writer));
}

/// A writer's task: writes until quiet, then parks (ending the task) or, if something came
/// meanwhile, goes on; ends for good once the connection is closed. A plain fn returning an
/// `async move` block: an `async fn` would keep its argument twice in the task's state.
#[allow(clippy::manual_async_fn)] // on purpose, see above
fn run(mut writer: Writer) -> impl std::future::Future<Output = ()> + Send {
    async move {
        loop {
            match writer.active().await {
                Done::Quiet => {
                    match writer.release_waker() {
                        std::task::Poll::Ready(Ok(())) => {}
                        // The socket failed: nothing more can be written.
                        std::task::Poll::Ready(Err(_)) => {
                            writer.control.close_with(1011, "write failed");
                            return;
                        }
                        // Busy (the reader holds the socket this instant): not parked now.
                        std::task::Poll::Pending => continue,
                    }
                    let parker = writer.rx.parker();
                    match parker.park(writer, resume) {
                        Ok(()) => return,
                        Err(back) => writer = back,
                    }
                }
                Done::Close(unsent) => {
                    Box::pin(writer.finish(unsent)).await;
                    return;
                }
                Done::Failed => return,
            }
        }
    }
}
