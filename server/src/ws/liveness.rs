//! The liveness sweep: one task for the whole server that asks each connection's writer for a
//! ping every `websocket.ping_interval` and closes (4001) a connection whose pong has not come
//! within `websocket.pong_timeout` (`ConnControl::check_liveness` has the rule). One sweep
//! instead of a ping timer in every connection: an idle connection then needs no task of its
//! own to stay checked (its writer parks, see `writer`).

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use super::Connections;

/// How often the sweep looks: a quarter of the shorter of the two settings, so a ping or a
/// close comes at most that late, within [10 ms, 1 s].
pub fn sweep_period(ping_interval: Duration, pong_timeout: Duration) -> Duration {
    (ping_interval.min(pong_timeout) / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// Runs the sweep until `stop` is cancelled.
pub async fn liveness_loop(
    connections: Arc<Connections>,
    (ping_interval, pong_timeout): (Duration, Duration),
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(sweep_period(ping_interval, pong_timeout));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = super::control::monotonic_ms();
        connections.check_liveness(now, ms(ping_interval), ms(pong_timeout));
    }
}
