//! The WebSocket upgrade for `/ws`, and the checks `/docs` shares with it: the origin (listed,
//! or this server's own web app), protocol version, shutdown, connection caps (per address
//! first) and token (bearer header, `?token=`, or the session cookie), all before any WebSocket
//! exists.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{ws::WebSocketUpgrade, ConnectInfo, Query, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};
use parley_protocol::{ErrorCode, PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde::Deserialize;

use super::{extract::bearer, session_cookie, AppRef};
use crate::{
    address::ConnectionPermit,
    error::{Error, Result},
    store::TokenRecord,
    AppState,
};

#[derive(Deserialize)]
pub(crate) struct UpgradeQuery {
    pub(crate) v: Option<String>,
    pub(crate) token: Option<String>,
    /// `/ws` only: batched delivery, the window in milliseconds (0 = off).
    pub(crate) batch_ms: Option<String>,
}

/// The batching a `/ws` client asked for with `batch_ms`, checked against
/// `websocket.max_batch_window`.
fn batching(state: &AppState, asked: Option<&str>) -> Result<Option<crate::ws::Batching>> {
    let Some(asked) = asked else {
        return Ok(None);
    };
    let ms: u32 = asked.trim().parse().map_err(|_| {
        Error::new(
            ErrorCode::InvalidRequest,
            "batch_ms must be a whole number of milliseconds",
        )
    })?;
    let ws = &state.config.websocket;
    // A connection's writer sends no ping while it gathers a batch: no window outlasts
    // ping_interval.
    let longest = ws.max_batch_window.min(ws.ping_interval);
    if u128::from(ms) > longest.as_millis() {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!(
                "batch_ms may be at most {} (websocket.max_batch_window, at most ping_interval)",
                longest.as_millis()
            ),
        ));
    }
    Ok((ms > 0).then(|| crate::ws::Batching {
        window: std::time::Duration::from_millis(ms.into()),
        max_bytes: usize::try_from(ws.max_batch_bytes).unwrap_or(usize::MAX),
    }))
}

pub(super) async fn upgrade(
    State(state): AppRef,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<UpgradeQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let batching = match batching(&state, query.batch_ms.as_deref()) {
        Ok(batching) => batching,
        Err(err) => return err.into_response(),
    };
    match prepare_upgrade(&state, client, &headers, query).await {
        Ok((auth, permit)) => {
            let ws_config = &state.config.websocket;
            let max = ws_config.max_frame_size as usize;
            ws.max_frame_size(max)
                .max_message_size(max)
                .read_buffer_size(ws_config.read_buffer_size as usize)
                .write_buffer_size(ws_config.write_buffer_size as usize)
                .on_upgrade(move |socket| {
                    // Our own task rather than axum's upgrade task: that one keeps the space of
                    // its upgrade machinery for as long as the connection lives (~4 KiB).
                    tokio::spawn(crate::chat::session::run(
                        state, socket, auth, permit, batching,
                    ));
                    std::future::ready(())
                })
        }
        Err(err) => err.into_response(),
    }
}

pub(crate) async fn prepare_upgrade(
    state: &Arc<AppState>,
    client: SocketAddr,
    headers: &HeaderMap,
    query: UpgradeQuery,
) -> Result<(Option<TokenRecord>, ConnectionPermit)> {
    if !state.config.realtime.enabled {
        return Err(Error::new(
            ErrorCode::RealtimeDisabled,
            "realtime is disabled on this server",
        ));
    }
    if state.connections.shutdown.is_cancelled() {
        return Err(Error::new(
            ErrorCode::ShuttingDown,
            "the server is shutting down",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let allowed = &state.config.server.allowed_origins;
        // The web app served here (`web.enabled`) comes from the request's own host.
        let own_app = state.config.web.enabled && session_cookie::same_origin(headers);
        if !own_app
            && !allowed
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
        {
            return Err(Error::new(
                ErrorCode::OriginNotAllowed,
                format!("origin {origin:?} is not this server's and not in allowed_origins"),
            ));
        }
    }
    let version = match headers.get(PROTOCOL_HEADER) {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u32>().ok())
                .unwrap_or(0),
        ),
        None => query.v.map(|v| v.trim().parse::<u32>().unwrap_or(0)),
    };
    if let Some(version) = version {
        if version != PROTOCOL_VERSION {
            return Err(Error::new(
                ErrorCode::VersionMismatch,
                format!(
                    "this server speaks protocol {PROTOCOL_VERSION}; the client speaks {version}"
                ),
            ));
        }
    }
    let realtime = &state.config.realtime;
    // The address's share first: one address at its cap must not take the server's last slots.
    let (held, _) = state.connections.per_address.held_by(client.ip());
    if held >= realtime.max_connections_per_address {
        return Err(Error::new(
            ErrorCode::TooManyConnections,
            "this address holds as many connections as one address may (realtime.max_connections_per_address)",
        ));
    }
    let permit = Arc::clone(&state.connections.permits)
        .try_acquire_owned()
        .map_err(|_| Error::new(ErrorCode::ServerBusy, "the server is at max_connections"))?;
    // A browser's session cookie last: the origin check above already kept other sites out.
    let token = bearer(headers)
        .map(str::to_owned)
        .or(query.token)
        .or_else(|| session_cookie::token(headers).map(str::to_owned));
    let auth = match token {
        Some(token) => Some(state.accounts.authenticate(&token).await?),
        None => None,
    };
    // Counted for good only now that we know whether the connection is anonymous.
    let slot = state
        .connections
        .per_address
        .admit_everywhere(
            client.ip(),
            auth.is_none(),
            realtime.max_connections_per_address,
            realtime.max_anonymous_connections_per_address,
        )
        .await?;
    Ok((auth, ConnectionPermit::new(permit, slot)))
}
