//! The attachment routes (`/api/attachments`, `/api/uploads`): authentication and the request's
//! parts, handed to the attachments area as plain values. Bodies stay streams: an upload is
//! written to disk as it arrives.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};

use parley_protocol::api::{StartUpload, UploadOffset, UploadQuery};

use super::{ApiJson, AppRef, Authed};
use crate::{attachments, error::Result, AppState};

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/attachments", post(upload))
        .route("/api/attachments/{id}", get(download))
        .route("/api/attachments/{id}/thumbnail", get(thumbnail))
        .route("/api/uploads", post(session_start))
        .route(
            "/api/uploads/{id}",
            get(session_status)
                .put(session_append)
                .delete(session_cancel),
        )
        .route("/api/uploads/{id}/finish", post(session_finish))
}

async fn upload(
    State(state): AppRef,
    authed: Authed,
    Query(query): Query<UploadQuery>,
    body: Body,
) -> Response {
    attachments::upload(
        Arc::clone(&state.attachments),
        authed.user.id,
        query.name,
        body,
    )
    .await
}

async fn download(State(state): AppRef, authed: Authed, Path(id): Path<i64>) -> Result<Response> {
    attachments::download(&state.attachments, &authed.user, id).await
}

async fn thumbnail(State(state): AppRef, authed: Authed, Path(id): Path<i64>) -> Result<Response> {
    attachments::thumbnail(&state.attachments, &authed.user, id).await
}

async fn session_start(
    State(state): AppRef,
    authed: Authed,
    ApiJson(body): ApiJson<StartUpload>,
) -> Result<Response> {
    let started = attachments::session_start(&state.attachments, authed.user.id, body).await?;
    Ok(started.into_response())
}

async fn session_status(
    State(state): AppRef,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response> {
    let status = attachments::session_status(&state.attachments, authed.user.id, id).await?;
    Ok(status.into_response())
}

async fn session_append(
    State(state): AppRef,
    authed: Authed,
    Path(id): Path<String>,
    Query(at): Query<UploadOffset>,
    body: Body,
) -> Response {
    attachments::session_append(&state.attachments, authed.user.id, id, at.offset, body).await
}

async fn session_cancel(
    State(state): AppRef,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response> {
    let status = attachments::session_cancel(&state.attachments, authed.user.id, id).await?;
    Ok(status.into_response())
}

async fn session_finish(
    State(state): AppRef,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response> {
    let stored =
        attachments::session_finish(Arc::clone(&state.attachments), authed.user.id, id).await?;
    Ok(stored.into_response())
}
