//! The writer half of a connection: drains its bounded queue, gathers frames into one flush,
//! sends pings and enforces the liveness rules, and closes with the code it was asked for.

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use futures_util::{stream::SplitSink, SinkExt};
use parley_protocol::close_code;
use tokio::time::Instant;

use super::{batch, Batching, ConnControl};
use crate::{store, ws::Frame};

pub struct WriterTiming {
    ping_interval: Duration,
    pong_timeout: Duration,
    /// Batched delivery, when the client asked for it.
    pub batching: Option<Batching>,
}

impl From<&Arc<crate::Config>> for WriterTiming {
    fn from(config: &Arc<crate::Config>) -> Self {
        Self {
            ping_interval: config.websocket.ping_interval,
            pong_timeout: config.websocket.pong_timeout,
            batching: None,
        }
    }
}

/// Frames written before one flush.
const MAX_FRAMES_PER_FLUSH: usize = 256;

pub async fn write_loop(
    mut sink: SplitSink<WebSocket, WsMessage>,
    mut rx: super::OutboundRx,
    control: Arc<ConnControl>,
    timing: WriterTiming,
) {
    let mut ping =
        tokio::time::interval_at(Instant::now() + timing.ping_interval, timing.ping_interval);
    // The pong's deadline and the ping's time, while a pong is awaited (boxed: see `gather`).
    let mut pong_deadline: Option<(std::pin::Pin<Box<tokio::time::Sleep>>, i64)> = None;
    // One cancellation future for the whole loop: making a new one per frame registers and
    // deregisters a waiter each time, which showed up in fan-out profiles.
    let token = control.closing.clone();
    let closing = token.cancelled();
    tokio::pin!(closing);
    // A frame taken from the queue but not written when a close came: on shutdown it is
    // delivered first, so the drain below leaves no gap.
    let mut unsent: Option<Frame> = None;
    'outer: loop {
        // Queued frames first: the close signal is checked when there is nothing to write, or
        // when the socket makes a write wait (a stuck reader is closed from there).
        tokio::select! {
            biased;
            frame = rx.recv() => {
                let Some(mut frame) = frame else { break };
                if let Some(batching) = timing.batching {
                    // Boxed, as every path an idle connection is not on: this future lives as
                    // long as the connection and is as large as its largest state.
                    frame = Box::pin(batch::gather(frame, &mut rx, batching, closing.as_mut())).await;
                }
                // Under constant traffic the queue never empties: look at the close signal
                // once per batch too (cheap enough here, unlike per frame).
                if token.is_cancelled() {
                    unsent = Some(frame);
                    break;
                }
                // A peer that stops reading (zero window) must not hold a write forever: a
                // batch that cannot be written within pong_timeout closes the connection.
                let stall = tokio::time::sleep(timing.pong_timeout);
                tokio::pin!(stall);
                // Write everything already queued (up to a bound), then flush once.
                let mut written = 0;
                loop {
                    // Feeding usually completes at once (it buffers); the close signal is only
                    // looked at when the socket makes us wait.
                    let fed = tokio::select! {
                        biased;
                        fed = sink.feed(frame.message()) => fed,
                        () = &mut closing => {
                            unsent = Some(frame);
                            break 'outer;
                        }
                        () = &mut stall => {
                            control.close_with(close_code::PONG_TIMEOUT, "writes stalled");
                            break 'outer;
                        }
                    };
                    if fed.is_err() {
                        control.close_with(1011, "write failed");
                        return;
                    }
                    written += 1;
                    if written >= MAX_FRAMES_PER_FLUSH {
                        break;
                    }
                    // A batched connection writes one frame per window.
                    if timing.batching.is_some() {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(next) => frame = next,
                        Err(_) => break,
                    }
                }
                let flushed = tokio::select! {
                    biased;
                    flushed = sink.flush() => flushed,
                    () = &mut closing => break,
                    () = &mut stall => {
                        control.close_with(close_code::PONG_TIMEOUT, "writes stalled");
                        break;
                    }
                };
                if flushed.is_err() {
                    control.close_with(1011, "write failed");
                    return;
                }
            }
            _ = ping.tick() => {
                let sent_at = store::now_ms();
                let ping = sink.send(WsMessage::Ping(Default::default()));
                match Box::pin(tokio::time::timeout(timing.pong_timeout, ping)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => {
                        control.close_with(1011, "write failed");
                        return;
                    }
                    Err(_) => {
                        control.close_with(close_code::PONG_TIMEOUT, "writes stalled");
                        break;
                    }
                }
                if pong_deadline.is_none() {
                    let at = Instant::now() + timing.pong_timeout;
                    pong_deadline = Some((Box::pin(tokio::time::sleep_until(at)), sent_at));
                }
            }
            () = &mut closing => break,
            () = async { if let Some((at, _)) = pong_deadline.as_mut() { at.as_mut().await } }, if pong_deadline.is_some() => {
                let sent_at = pong_deadline.take().map_or(0, |(_, s)| s);
                // Any frame read since the ping proves the peer alive (its pong may be queued
                // behind requests it sent), and a reader busy with a long request (a big
                // backlog) cannot have read the pong yet: only silence closes.
                let heard = control.last_pong.load(Ordering::Relaxed)
                    .max(control.last_active.load(Ordering::Relaxed));
                if heard < sent_at && !control.busy.load(Ordering::Relaxed) {
                    control.close_with(close_code::PONG_TIMEOUT, "no pong within pong_timeout");
                    break;
                }
            }
        }
    }
    let code = control.code.load(Ordering::Acquire);
    let reason = control.reason.get().copied().unwrap_or("");
    let finish = async {
        if code == 1001 {
            // Server shutdown: deliver everything already queued before saying goodbye.
            if let Some(frame) = unsent.take() {
                if sink.feed(frame.message()).await.is_err() {
                    return;
                }
            }
            if timing.batching.is_some() {
                if let Some(frame) = batch::drain(&mut rx) {
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
    let _ = Box::pin(tokio::time::timeout(Duration::from_secs(3), finish)).await;
}
