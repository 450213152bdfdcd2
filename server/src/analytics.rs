//! Live analytics: every `analytics.interval` the server publishes a `metrics_update` custom
//! event (durable, so a dashboard opened later draws the recent past) to `analytics.channel`,
//! a private channel whose members are the workspace's admins. Its data is the last minute's
//! active users, connections, messages and custom events, send latency (average and 95th
//! percentile), error answers, rate-limited requests, and the webhook backlog.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use parley_protocol::{
    api::{AnalyticsHistory, AnalyticsSample},
    Event, UserRef,
};
use serde_json::json;

use crate::{store::CustomEvent, AppState};

/// What the updates are published as (the server itself; no account has id 0).
fn server_user() -> UserRef {
    UserRef {
        id: 0,
        name: "parley".into(),
        display_name: Some("Parley".into()),
        avatar: None,
    }
}

/// Counters at one tick.
#[derive(Clone, Copy, Default)]
struct Totals {
    messages: u64,
    events: u64,
    errors: u64,
    rate_limited: u64,
}

/// One interval's share of the last minute.
struct Tick {
    at: Instant,
    delta: Totals,
    latencies: Vec<u32>,
    sends: u64,
}

pub fn spawn(state: Arc<AppState>) {
    if state.config.analytics.enabled {
        tokio::spawn(run(state));
    }
}

async fn run(state: Arc<AppState>) {
    let config = state.config.analytics.clone();
    let mut last = totals(&state);
    let mut window: VecDeque<Tick> = VecDeque::new();
    let mut ticker = tokio::time::interval(config.interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = state.draining.cancelled() => return,
        }
        let now = totals(&state);
        let (latencies, sends) = state.metrics.send_latency.take();
        window.push_back(Tick {
            at: Instant::now(),
            delta: Totals {
                messages: now.messages.saturating_sub(last.messages),
                events: now.events.saturating_sub(last.events),
                errors: now.errors.saturating_sub(last.errors),
                rate_limited: now.rate_limited.saturating_sub(last.rate_limited),
            },
            latencies,
            sends,
        });
        last = now;
        let minute = Duration::from_secs(60).max(config.interval);
        while window
            .front()
            .is_some_and(|t| t.at.elapsed() > minute + config.interval / 2)
        {
            window.pop_front();
        }
        if let Err(err) = publish(&state, &window, minute).await {
            tracing::warn!(%err, "the analytics update was not published");
        }
    }
}

fn totals(state: &AppState) -> Totals {
    let m = &state.metrics;
    Totals {
        messages: m.messages_accepted.get(),
        events: m.custom_events.durable.get() + m.custom_events.ephemeral.get(),
        errors: m.errors.get(),
        rate_limited: m.rate_limited.total(),
    }
}

async fn publish(
    state: &AppState,
    window: &VecDeque<Tick>,
    minute: Duration,
) -> crate::error::Result<()> {
    let config = &state.config.analytics;
    let channel = state
        .chat
        .ensure_admin_channel(&config.channel, config.history)
        .await?;
    let sum = |f: fn(&Totals) -> u64| window.iter().map(|t| f(&t.delta)).sum::<u64>();
    let mut latencies: Vec<u32> = window
        .iter()
        .flat_map(|t| t.latencies.iter().copied())
        .collect();
    latencies.sort_unstable();
    let sends: u64 = window.iter().map(|t| t.sends).sum();
    let ms = |micros: u32| f64::from(micros) / 1000.0;
    let average = (!latencies.is_empty()).then(|| {
        latencies.iter().map(|v| f64::from(*v)).sum::<f64>() / latencies.len() as f64 / 1000.0
    });
    let p95 = latencies
        .get((latencies.len() * 95).div_ceil(100).saturating_sub(1))
        .map(|v| ms(*v));
    let backlog: u64 = state
        .stores
        .webhooks
        .webhook_backlog()
        .await?
        .values()
        .map(|b| b.pending)
        .sum();
    let data = json!({
        "at": crate::store::now_ms(),
        "window_secs": minute.as_secs(),
        "interval_secs": config.interval.as_secs_f64(),
        "active_users": state.connections.active_users(),
        "connections": state.connections.len(),
        "messages": sum(|t| t.messages),
        "events": sum(|t| t.events),
        "send_latency_ms": {"avg": average, "p95": p95, "sends": sends},
        "errors": sum(|t| t.errors),
        "rate_limited": sum(|t| t.rate_limited),
        "webhook_backlog": backlog,
    });
    state
        .stores
        .events
        .append_custom(CustomEvent {
            channel_id: channel.record.id,
            channel_name: channel.record.name.clone(),
            publisher_id: 0,
            client_id: None,
            event: Event::Custom {
                event: "metrics_update".into(),
                data,
                publisher: server_user(),
            },
        })
        .await?;
    Ok(())
}

/// The stored `metrics_update` events of the analytics channel (at most `analytics.history`),
/// oldest first, for `GET /api/analytics`. The caller checked that the user is an admin.
pub async fn recent(state: &AppState) -> crate::error::Result<AnalyticsHistory> {
    let config = &state.config.analytics;
    if !config.enabled {
        return Err(crate::error::Error::new(
            parley_protocol::ErrorCode::AnalyticsDisabled,
            "live analytics are off on this server (analytics.enabled)",
        ));
    }
    let channel = state
        .chat
        .ensure_admin_channel(&config.channel, config.history)
        .await?;
    let id = channel.record.id;
    let events = &state.stores.events;
    let position = events.log_position(id).await?;
    // Membership changes share the log: read a little further back than `history`.
    let limit = u32::try_from(config.history.saturating_mul(2)).unwrap_or(u32::MAX);
    let after = position
        .pruned_through
        .max(position.head.saturating_sub(u64::from(limit)));
    let stored = events
        .events_between(id, after, position.head, limit)
        .await?;
    let mut samples: Vec<AnalyticsSample> = stored
        .into_iter()
        .filter_map(|e| {
            let frame: serde_json::Value = serde_json::from_str(&e.frame).ok()?;
            (frame["kind"] == "custom" && frame["event"] == "metrics_update").then(|| {
                AnalyticsSample {
                    seq: e.seq,
                    data: frame["data"].clone(),
                }
            })
        })
        .collect();
    let keep = usize::try_from(config.history).unwrap_or(usize::MAX);
    if samples.len() > keep {
        samples.drain(..samples.len() - keep);
    }
    Ok(AnalyticsHistory {
        channel: channel.record.name.clone(),
        interval_ms: u64::try_from(config.interval.as_millis()).unwrap_or(u64::MAX),
        samples,
    })
}
