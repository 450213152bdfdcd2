//! `/api/webhooks`: outbound webhook endpoints, for workspace admins.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get, post},
    Json, Router,
};
use parley_protocol::{
    api::{NewWebhook, WebhookCreated, WebhookInfo, WebhookList, WebhookReplayed},
    ErrorCode,
};

use super::{ApiJson, AppRef, Authed};
use crate::{
    error::{Error, Result},
    store::{EndpointBacklog, EndpointRecord, NewEndpoint, UserRecord},
    AppState,
};

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/webhooks", get(list).post(create))
        .route("/api/webhooks/{id}", delete(remove))
        .route("/api/webhooks/{id}/replay", post(replay))
}

fn admin_only(user: &UserRecord) -> Result<()> {
    if user.is_admin {
        Ok(())
    } else {
        Err(Error::forbidden("only workspace admins manage webhooks"))
    }
}

fn info(endpoint: EndpointRecord, backlog: EndpointBacklog) -> WebhookInfo {
    WebhookInfo {
        id: endpoint.id,
        url: endpoint.url,
        events: endpoint.events,
        channels: endpoint.channels,
        source: endpoint.source,
        disabled: endpoint.disabled,
        pending: backlog.pending,
        dead: backlog.dead,
        last_error: endpoint.last_error,
        created_at: endpoint.created_at,
    }
}

fn not_found(id: i64) -> Error {
    Error::new(
        ErrorCode::WebhookNotFound,
        format!("no webhook endpoint {id}"),
    )
}

async fn list(State(state): AppRef, authed: Authed) -> Result<Json<WebhookList>> {
    admin_only(&authed.user)?;
    let store = &state.stores.webhooks;
    let backlog = store.webhook_backlog().await?;
    let webhooks = store
        .webhook_endpoints()
        .await?
        .into_iter()
        .map(|e| {
            let counts = backlog.get(&e.id).copied().unwrap_or_default();
            info(e, counts)
        })
        .collect();
    Ok(Json(WebhookList { webhooks }))
}

async fn create(
    State(state): AppRef,
    authed: Authed,
    ApiJson(body): ApiJson<NewWebhook>,
) -> Result<(StatusCode, Json<WebhookCreated>)> {
    admin_only(&authed.user)?;
    let secret = body.secret.unwrap_or_else(crate::webhooks::new_secret);
    crate::webhooks::check_endpoint(&body.url, &secret, &body.events, &body.channels)?;
    let endpoint = state
        .stores
        .webhooks
        .add_endpoint(
            NewEndpoint {
                url: body.url,
                secret: secret.clone(),
                events: body.events,
                channels: body.channels,
                source: "api".into(),
            },
            state.config.webhook_delivery.max_endpoints,
        )
        .await?;
    state.webhooks.wake();
    Ok((
        StatusCode::CREATED,
        Json(WebhookCreated {
            webhook: info(endpoint, EndpointBacklog::default()),
            secret,
        }),
    ))
}

async fn remove(State(state): AppRef, authed: Authed, Path(id): Path<i64>) -> Result<StatusCode> {
    admin_only(&authed.user)?;
    let store = &state.stores.webhooks;
    let endpoint = store
        .webhook_endpoints()
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| not_found(id))?;
    if endpoint.source == "config" {
        return Err(Error::forbidden(
            "this endpoint is declared in the configuration ([[webhooks]]): remove it there",
        ));
    }
    if !store.remove_endpoint(id).await? {
        return Err(not_found(id));
    }
    state.webhooks.wake();
    Ok(StatusCode::NO_CONTENT)
}

async fn replay(
    State(state): AppRef,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<Json<WebhookReplayed>> {
    admin_only(&authed.user)?;
    let requeued = state.stores.webhooks.replay_dead(id).await?;
    state.webhooks.wake();
    Ok(Json(WebhookReplayed { requeued }))
}
