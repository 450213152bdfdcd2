//! The access log: one line per HTTP request, at `info` under the target `parley::access`
//! (JSON with `server.log_format = "json"`; `PARLEY_LOG=info,parley::access=off` silences it).
//! Each line says the method, the route as the router matched it (`/api/channels/{name}`, never
//! the request's own path and query: a `?token=` must never reach a log), the status, the
//! duration, the signed-in user's id when the request carried a valid token, and the client's
//! address. WebSocket sessions get their own line when they end (`ws::Connections::close`).

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Instant,
};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Where the extractors that authenticate (`Authed`, `MaybeAuthed`) leave the user's id for the
/// request's access line.
#[derive(Clone, Default)]
pub(crate) struct AccessUser(Arc<OnceLock<i64>>);

impl AccessUser {
    pub(crate) fn set(&self, user_id: i64) {
        let _ = self.0.set(user_id);
    }
}

/// The middleware of every matched route (`Router::route_layer`).
pub(crate) async fn log_request(mut request: Request, next: Next) -> Response {
    // Filtered out (`PARLEY_LOG`): no allocation, no slot, no clock.
    if !tracing::enabled!(target: "parley::access", tracing::Level::INFO) {
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "-".to_owned(), |p| p.as_str().to_owned());
    let client = client_of(&request);
    let user = AccessUser::default();
    request.extensions_mut().insert(user.clone());
    let response = next.run(request).await;
    log_line(
        &method,
        &route,
        response.status(),
        started,
        user.0.get().copied(),
        client,
    );
    response
}

/// Requests no route matches: 404, logged with the route `-`.
pub(crate) async fn not_found(request: Request) -> Response {
    let status = StatusCode::NOT_FOUND;
    log_line(
        request.method(),
        "-",
        status,
        Instant::now(),
        None,
        client_of(&request),
    );
    status.into_response()
}

fn client_of(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

fn log_line(
    method: &axum::http::Method,
    route: &str,
    status: StatusCode,
    started: Instant,
    user_id: Option<i64>,
    client: Option<SocketAddr>,
) {
    tracing::info!(
        target: "parley::access",
        kind = "http",
        method = %method,
        route,
        status = status.as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        user_id,
        client = client.map(|c| c.ip().to_string()),
        "request"
    );
}
