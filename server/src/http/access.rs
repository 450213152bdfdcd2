//! The access log: one line per HTTP request, at `info` under the target `parley::access`
//! (JSON with `server.log_format = "json"`; `PARLEY_LOG=info,parley::access=off` silences it).
//! Each line says the method, the route as the router matched it (`/api/channels/{name}`, never
//! the request's own path and query: a `?token=` must never reach a log), the status, the
//! duration, the signed-in user's id when the request carried a valid token, and the client's
//! address. WebSocket sessions get their own line when they end (`ws::Connections::close`).
//! The same middleware counts every request by method, route template and status
//! (`parley_http_requests_total`), logged or not.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Instant,
};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::metrics::Metrics;

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
pub(crate) async fn log_request(
    State(metrics): State<Arc<Metrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    // A cheap handle (the router's own `Arc<str>`), not a copy of the text.
    let route = request.extensions().get::<MatchedPath>().cloned();
    // Filtered out (`PARLEY_LOG`): no slot, no clock.
    if !tracing::enabled!(target: "parley::access", tracing::Level::INFO) {
        let response = next.run(request).await;
        metrics.http_request(
            &method,
            route.as_ref().map(MatchedPath::as_str),
            response.status(),
        );
        return response;
    }
    let started = Instant::now();
    let client = client_of(&request);
    let user = AccessUser::default();
    request.extensions_mut().insert(user.clone());
    let response = next.run(request).await;
    let route = route.as_ref().map(MatchedPath::as_str);
    metrics.http_request(&method, route, response.status());
    log_line(
        &method,
        route.unwrap_or("-"),
        response.status(),
        started,
        user.0.get().copied(),
        client,
    );
    response
}

/// Requests no route matches: 404, logged with the route `-`.
pub(crate) async fn not_found(State(state): super::AppRef, request: Request) -> Response {
    let status = StatusCode::NOT_FOUND;
    state.metrics.http_request(request.method(), None, status);
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

/// A request the fallback answered for the web app: counted and logged under the route `web`.
pub(crate) fn web_request(
    metrics: &Metrics,
    method: &axum::http::Method,
    status: StatusCode,
    started: Instant,
    client: Option<SocketAddr>,
) {
    metrics.http_request(method, Some("web"), status);
    log_line(method, "web", status, started, None, client);
}

pub(crate) fn client_of(request: &Request) -> Option<SocketAddr> {
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
