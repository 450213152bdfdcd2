//! Background upkeep: retention, revoked-token checks, pruning idle rate-limit state,
//! expiring upload sessions, and the WebSocket liveness sweep (pings and pong timeouts).
//! Each loop ends when the server shuts down.

use std::{sync::Arc, time::Duration};

use crate::{store, AppState};

pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(retention_loop(Arc::clone(&state)));
    tokio::spawn(index_loop(Arc::clone(&state)));
    tokio::spawn(crate::attachments::expire_sessions(
        Arc::clone(&state.attachments),
        state.connections.shutdown.clone(),
    ));
    let websocket = &state.config.websocket;
    tokio::spawn(crate::ws::liveness_loop(
        Arc::clone(&state.connections),
        (websocket.ping_interval, websocket.pong_timeout),
        state.connections.shutdown.clone(),
    ));
    tokio::spawn(token_check_loop(state));
}

/// How often new messages are added to the search index (searches also index first).
const INDEX_EVERY: Duration = Duration::from_millis(250);

/// Keeps the search index behind the writes by at most `INDEX_EVERY` (plus a backlog).
async fn index_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(INDEX_EVERY);
    loop {
        tokio::select! {
            () = state.connections.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        loop {
            match state.chat.index_pending().await {
                Ok(true) => continue, // more waiting
                Ok(false) => break,
                Err(err) => {
                    tracing::warn!(%err, "search indexing failed");
                    break;
                }
            }
        }
    }
}

async fn retention_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(
        state
            .config
            .realtime
            .retention_sweep_interval
            .max(Duration::from_millis(50)),
    );
    loop {
        tokio::select! {
            () = state.connections.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(err) = enforce_retention(&state).await {
            tracing::warn!(%err, "retention sweep failed");
        }
        state.prune_rate_limits();
    }
}

/// Applies each channel's retention (its own settings or the instance defaults).
pub async fn enforce_retention(state: &AppState) -> crate::Result<()> {
    let realtime = &state.config.realtime;
    for channel in state.chat.directory.all() {
        let record = &channel.record;
        let retention = record
            .message_retention_secs
            .unwrap_or(realtime.message_retention.as_secs());
        let keep = record.message_history.unwrap_or(realtime.message_history);
        if retention == 0 && keep == 0 {
            continue;
        }
        let cutoff = (retention > 0).then(|| store::now_ms() - (retention as i64) * 1000);
        let pruned = state
            .stores
            .events
            .prune(record.id, cutoff, Some(keep))
            .await?;
        if let Some(seq) = pruned {
            tracing::debug!(
                channel = record.name,
                through = seq,
                "retention removed old events"
            );
        }
    }
    Ok(())
}

async fn token_check_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(
        state
            .config
            .server
            .token_check_interval
            .max(Duration::from_millis(50)),
    );
    loop {
        tokio::select! {
            () = state.connections.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let ids = state.connections.token_ids();
        if ids.is_empty() {
            continue;
        }
        match state.stores.accounts.revoked_among(ids).await {
            Ok(revoked) if !revoked.is_empty() => state.connections.close_tokens(&revoked),
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "token check failed"),
        }
    }
}
