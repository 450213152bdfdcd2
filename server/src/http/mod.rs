//! HTTP, the outermost layer: the router, `/healthz` and `/readyz` here; the REST API under
//! `/api` in one route module per area (`accounts`, `chat`, `docs`, `attachments`) that turns
//! requests into calls on the areas; the extractors they share (`extract`) and the browsers'
//! session cookie they accept (`session_cookie`); the `/ws` upgrade, whose checks happen before
//! any WebSocket exists (`upgrade`); the web app at `/` (`web`); and the accept loop
//! (`transport`).

mod access;
mod accounts;
mod analytics;
mod attachments;
mod chat;
mod cors;
mod docs;
mod extract;
mod hooks;
mod metrics;
mod people;
mod session_cookie;
pub mod tls;
mod tokens;
pub(crate) mod transport;
mod upgrade;
mod web;
mod webhooks;

use accounts::{change_password, login, logout, me, register};
use chat::{
    channel_history, create_channel, delete_channel, join_channel, list_channels, post_message,
};
pub(crate) use extract::{ApiJson, Authed, MaybeAuthed};
use upgrade::upgrade;
pub(crate) use upgrade::{prepare_upgrade, UpgradeQuery};

use std::sync::Arc;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
};
use parley_protocol::api::Health;

use crate::AppState;

type AppRef = State<Arc<AppState>>;

pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    if state.config.metrics.enabled {
        router = router.route("/metrics", get(metrics::metrics));
    }
    let router = router
        .route("/ws", get(upgrade))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/register", post(register))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me).patch(people::update_me))
        .route("/api/me/password", post(change_password))
        .merge(tokens::routes())
        .route("/api/channels", get(list_channels).post(create_channel))
        .route("/api/channels/{name}", delete(delete_channel))
        .route("/api/channels/{name}/join", post(join_channel))
        .route(
            "/api/channels/{name}/messages",
            get(channel_history).post(post_message),
        )
        .route("/api/channels/{name}/events", post(chat::publish_event))
        .merge(docs::routes())
        .merge(attachments::routes())
        .merge(people::routes())
        .merge(webhooks::routes())
        .merge(analytics::routes())
        .merge(hooks::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            access::log_request,
        ));
    // Everything the routes above do not match: the web app, or a plain 404.
    let router = if state.config.web.enabled {
        router.fallback(web::serve)
    } else {
        router.fallback(access::not_found)
    };
    let router = match cors::layer(&state.config.server.cors_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(state)
}

/// Liveness: the process answers requests. Nothing else is checked, so a slow disk does not
/// get a working server restarted; readiness is `/readyz`.
async fn healthz(State(state): AppRef) -> Response {
    health(StatusCode::OK, "ok", Some(state.connections.len() as u64))
}

/// Readiness: the store answers and the server is not shutting down (or draining before it
/// does, `server.drain_period`). A load balancer sends new clients only while this is 200.
async fn readyz(State(state): AppRef) -> Response {
    if state.draining.is_cancelled() || state.connections.shutdown.is_cancelled() {
        return health(StatusCode::SERVICE_UNAVAILABLE, "shutting down", None);
    }
    if !state.stores.control.healthy().await {
        return health(
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable",
            None,
        );
    }
    health(
        StatusCode::OK,
        "ready",
        Some(state.connections.len() as u64),
    )
}

fn health(status: StatusCode, text: &str, connections: Option<u64>) -> Response {
    let health = Health {
        status: text.to_owned(),
        connections,
    };
    (status, Json(health)).into_response()
}
