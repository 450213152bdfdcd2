//! How the rest of the server reaches a connection: `ConnControl` (ask it to close, see when
//! it was last heard from, which channels dropped it).

use std::sync::{
    atomic::{AtomicI64, AtomicU16, Ordering},
    Mutex, OnceLock,
};

use crate::store;

/// Milliseconds on a monotonic clock, counted from the first call (never 0): the liveness
/// sweep's schedule and deadlines.
pub(crate) fn monotonic_ms() -> i64 {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    let start = *START.get_or_init(std::time::Instant::now);
    i64::try_from(start.elapsed().as_millis())
        .unwrap_or(i64::MAX)
        .saturating_add(1)
}

/// What the liveness sweep found (see [`ConnControl::check_liveness`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Liveness {
    Fine,
    /// A ping is due: the writer must be woken to send it.
    PingDue,
    /// Its pong is overdue: the connection was asked to close.
    Closed,
}

/// Shared between a connection, its writer and the hubs it is subscribed to: how to ask it to
/// close, and when it was last heard from.
pub struct ConnControl {
    pub id: u64,
    pub(crate) closing: tokio_util::sync::CancellationToken,
    pub(crate) code: AtomicU16,
    pub(crate) reason: OnceLock<&'static str>,
    pub(crate) last_active: AtomicI64,
    pub(crate) last_pong: AtomicI64,
    /// When the ping awaiting its pong was started (wall clock, as `last_pong` and
    /// `last_active`, which it is compared with); set by the writer.
    ping_sent: AtomicI64,
    /// When that ping was written ([`monotonic_ms`]; 0 = none awaited): its pong is awaited
    /// for `pong_timeout` from there, however long the write itself took.
    ping_written: AtomicI64,
    /// When the liveness sweep last asked for a ping ([`monotonic_ms`]).
    last_ping: AtomicI64,
    /// A ping asked for by the liveness sweep and not yet sent by the writer.
    pub(crate) ping_due: std::sync::atomic::AtomicBool,
    /// The reader has ended (however it did): the writer writes the close frame and ends.
    pub(crate) reader_done: std::sync::atomic::AtomicBool,
    /// The token this session authenticated with (0 = anonymous).
    pub(crate) token_id: AtomicI64,
    /// Set while the reader handles a request: it is not reading the socket then, so pongs and
    /// activity cannot be seen, and the connection must not be judged idle or dead for it.
    pub(crate) busy: std::sync::atomic::AtomicBool,
    /// Channels whose hub ended this connection's subscription on its own (access revoked,
    /// channel deleted); the session forgets them before handling its next request.
    pub(crate) dropped: Mutex<Vec<i64>>,
    /// For the access line written when the connection ends: its route, client, start and the
    /// user it signed in as (0 = anonymous).
    pub(crate) route: &'static str,
    pub(crate) client: std::net::IpAddr,
    pub(crate) opened: std::time::Instant,
    pub(crate) user_id: AtomicI64,
    /// The signed-in user's account as it is now, when it changed (display name, avatar)
    /// since the session signed in; the session takes it before its next request, so what it
    /// stamps on messages is current.
    /// Boxed: rarely set, and every connection would carry its size otherwise.
    profile: Mutex<Option<Box<store::UserRecord>>>,
    profile_changed: std::sync::atomic::AtomicBool,
}

impl ConnControl {
    pub(crate) fn new(id: u64, route: &'static str, client: std::net::IpAddr) -> Self {
        let now = store::now_ms();
        Self {
            id,
            closing: tokio_util::sync::CancellationToken::new(),
            code: AtomicU16::new(0),
            reason: OnceLock::new(),
            last_active: AtomicI64::new(now),
            last_pong: AtomicI64::new(now),
            ping_sent: AtomicI64::new(0),
            ping_written: AtomicI64::new(0),
            last_ping: AtomicI64::new(monotonic_ms()),
            ping_due: std::sync::atomic::AtomicBool::new(false),
            reader_done: std::sync::atomic::AtomicBool::new(false),
            token_id: AtomicI64::new(0),
            busy: std::sync::atomic::AtomicBool::new(false),
            dropped: Mutex::new(Vec::new()),
            route,
            client,
            opened: std::time::Instant::now(),
            user_id: AtomicI64::new(0),
            profile: Mutex::new(None),
            profile_changed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Called by a hub that ended this connection's subscription to `channel_id`.
    pub fn note_dropped(&self, channel_id: i64) {
        if let Ok(mut dropped) = self.dropped.lock() {
            dropped.push(channel_id);
        }
    }

    pub(crate) fn take_dropped(&self) -> Vec<i64> {
        self.dropped
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default()
    }

    /// The signed-in user's account changed: the session uses `user` from its next request on.
    pub(crate) fn note_profile(&self, user: store::UserRecord) {
        if let Ok(mut profile) = self.profile.lock() {
            *profile = Some(Box::new(user));
            self.profile_changed.store(true, Ordering::Release);
        }
    }

    /// The account as it is now, if it changed since the last call (one atomic load when not).
    pub(crate) fn take_profile(&self) -> Option<store::UserRecord> {
        if !self.profile_changed.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.profile
            .lock()
            .ok()
            .and_then(|mut p| p.take())
            .map(|user| *user)
    }

    /// Asks the connection to close with `code`. The first request wins.
    pub fn close_with(&self, code: u16, reason: &'static str) {
        if self
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let _ = self.reason.set(reason);
        }
        self.closing.cancel();
    }

    /// The liveness sweep's look at this connection at `now` (ms): whether its pong is overdue
    /// (it is closed then) or a ping is due (then asked for: the caller wakes the writer).
    ///
    /// A ping's pong is awaited for `pong_timeout`; any frame read since the ping proves the
    /// peer alive too (its pong may be queued behind requests it sent), and a reader busy with
    /// a long request (a big backlog) cannot have read the pong yet: only silence closes.
    ///
    /// `now` is [`monotonic_ms`]: the schedule and the deadline do not move with the wall clock.
    pub(crate) fn check_liveness(
        &self,
        now: i64,
        ping_interval_ms: i64,
        pong_timeout_ms: i64,
    ) -> Liveness {
        let written = self.ping_written.load(Ordering::Acquire);
        if written > 0 {
            if now < written.saturating_add(pong_timeout_ms) {
                return Liveness::Fine;
            }
            let sent = self.ping_sent.load(Ordering::Relaxed);
            let heard = self
                .last_pong
                .load(Ordering::Relaxed)
                .max(self.last_active.load(Ordering::Relaxed));
            self.ping_written.store(0, Ordering::Relaxed);
            if heard < sent && !self.busy.load(Ordering::Relaxed) {
                self.close_with(
                    parley_protocol::close_code::PONG_TIMEOUT,
                    "no pong within pong_timeout",
                );
                return Liveness::Closed;
            }
        }
        let due = self
            .last_ping
            .load(Ordering::Relaxed)
            .saturating_add(ping_interval_ms);
        if now < due || self.ping_due.load(Ordering::Acquire) {
            return Liveness::Fine;
        }
        self.last_ping.store(now, Ordering::Relaxed);
        self.ping_due.store(true, Ordering::Release);
        Liveness::PingDue
    }

    /// The writer wrote the ping it started at `sent_at` (wall clock, ms): its pong is awaited.
    pub(crate) fn note_ping_written(&self, sent_at: i64) {
        self.ping_sent.store(sent_at, Ordering::Relaxed);
        self.ping_written.store(monotonic_ms(), Ordering::Release);
    }

    /// The close code asked for so far (0 = none).
    pub fn close_code(&self) -> u16 {
        self.code.load(Ordering::Acquire)
    }

    /// When the client was last heard from (now, while one of its requests is being handled).
    pub fn last_active(&self) -> i64 {
        if self.busy.load(Ordering::Relaxed) {
            return store::now_ms();
        }
        self.last_active.load(Ordering::Relaxed)
    }

    pub(crate) fn touch(&self) {
        self.last_active.store(store::now_ms(), Ordering::Relaxed);
    }

    /// Takes what one read of the connection gave: the message (the peer was heard from), or
    /// how reading ends: `Err(true)` when the peer ended the stream, `Err(false)` when a read
    /// error closes the connection (with the code that fits it).
    pub fn received(
        &self,
        next: Option<Result<axum::extract::ws::Message, axum::Error>>,
    ) -> Result<axum::extract::ws::Message, bool> {
        match next {
            None => Err(true),
            Some(Ok(message)) => {
                self.touch();
                Ok(message)
            }
            Some(Err(err)) => {
                self.close_for_read_error(err);
                Err(false)
            }
        }
    }

    /// Closes with the code that fits a failed read (oversize frame, bad UTF-8, protocol).
    fn close_for_read_error(&self, err: axum::Error) {
        let inner = err.into_inner();
        match inner.downcast_ref::<tungstenite::Error>() {
            Some(tungstenite::Error::Capacity(_)) => {
                self.close_with(1009, "frame larger than the size limit");
            }
            Some(tungstenite::Error::Utf8(_)) => {
                self.close_with(1007, "text frame is not valid UTF-8");
            }
            Some(tungstenite::Error::Protocol(_)) => {
                self.close_with(1002, "protocol error");
            }
            _ => {
                tracing::debug!(error = %inner, "read failed");
                self.close_with(1011, "read failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::{ConnControl, Liveness};

    const INTERVAL: i64 = 1_000;
    const TIMEOUT: i64 = 500;

    fn control() -> ConnControl {
        ConnControl::new(1, "/ws", std::net::Ipv4Addr::LOCALHOST.into())
    }

    /// Pretends the connection opened and was last heard from at `at` (ms; the tests use the
    /// same numbers for the wall and the monotonic clock).
    fn opened_at(control: &ConnControl, at: i64) {
        for field in [&control.last_ping, &control.last_pong, &control.last_active] {
            field.store(at, Ordering::Relaxed);
        }
    }

    /// The writer started a ping at `sent` and finished writing it at `written`.
    fn ping(control: &ConnControl, sent: i64, written: i64) {
        control.ping_due.store(false, Ordering::Relaxed);
        control.ping_sent.store(sent, Ordering::Relaxed);
        control.ping_written.store(written, Ordering::Relaxed);
    }

    #[test]
    fn a_ping_is_asked_for_once_per_interval_and_not_again_while_due_or_awaited() {
        let c = control();
        opened_at(&c, 10_000);
        assert_eq!(c.check_liveness(10_999, INTERVAL, TIMEOUT), Liveness::Fine);
        assert_eq!(
            c.check_liveness(11_000, INTERVAL, TIMEOUT),
            Liveness::PingDue
        );
        assert!(c.ping_due.load(Ordering::Relaxed));
        // Not yet sent by the writer: not asked for twice.
        assert_eq!(c.check_liveness(12_500, INTERVAL, TIMEOUT), Liveness::Fine);
        // Written at 12,600 and answered: awaited until the timeout, then settled; the next
        // is due an interval after the last was asked for.
        ping(&c, 12_600, 12_600);
        c.last_pong.store(12_650, Ordering::Relaxed);
        assert_eq!(c.check_liveness(13_000, INTERVAL, TIMEOUT), Liveness::Fine);
        assert_eq!(
            c.check_liveness(13_100, INTERVAL, TIMEOUT),
            Liveness::PingDue
        );
        assert_eq!(c.ping_written.load(Ordering::Relaxed), 0);
        c.ping_due.store(false, Ordering::Relaxed);
        assert_eq!(c.check_liveness(14_099, INTERVAL, TIMEOUT), Liveness::Fine);
        assert_eq!(
            c.check_liveness(14_100, INTERVAL, TIMEOUT),
            Liveness::PingDue
        );
        assert_eq!(c.close_code(), 0);
    }

    #[test]
    fn silence_past_the_timeout_closes_unless_heard_from_or_busy() {
        let c = control();
        opened_at(&c, 10_000);
        ping(&c, 11_000, 11_000);
        assert_eq!(c.check_liveness(11_499, INTERVAL, TIMEOUT), Liveness::Fine);
        // Any frame read since the ping counts as an answer.
        c.last_active.store(11_200, Ordering::Relaxed);
        assert_ne!(
            c.check_liveness(11_500, INTERVAL, TIMEOUT),
            Liveness::Closed
        );
        // A reader busy with a request cannot read the pong: not dead either.
        ping(&c, 20_000, 20_000);
        c.busy.store(true, Ordering::Relaxed);
        assert_ne!(
            c.check_liveness(20_600, INTERVAL, TIMEOUT),
            Liveness::Closed
        );
        assert_eq!(c.close_code(), 0);
        // Silent and idle: closed with 4001.
        c.busy.store(false, Ordering::Relaxed);
        ping(&c, 30_000, 30_000);
        assert_eq!(
            c.check_liveness(30_500, INTERVAL, TIMEOUT),
            Liveness::Closed
        );
        assert_eq!(c.close_code(), parley_protocol::close_code::PONG_TIMEOUT);
        assert!(c.closing.is_cancelled());
    }

    /// A ping that took long to write (behind a backlog, on a slow link) still gets the whole
    /// `pong_timeout` for its pong, counted from when it was written.
    #[test]
    fn the_pong_is_awaited_from_when_the_ping_was_written() {
        let c = control();
        opened_at(&c, 10_000);
        ping(&c, 11_000, 11_400);
        assert_eq!(c.check_liveness(11_899, INTERVAL, TIMEOUT), Liveness::Fine);
        assert_eq!(c.close_code(), 0);
        c.last_pong.store(11_850, Ordering::Relaxed);
        assert_ne!(
            c.check_liveness(11_900, INTERVAL, TIMEOUT),
            Liveness::Closed
        );
        assert_eq!(c.close_code(), 0);
    }
}
