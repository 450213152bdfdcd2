//! `GET /api/analytics`: the recent live analytics, for a dashboard (admins).

use std::sync::Arc;

use axum::{extract::State, routing::get, Json, Router};
use parley_protocol::api::AnalyticsHistory;

use super::{AppRef, Authed};
use crate::{
    error::{Error, Result},
    AppState,
};

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/analytics", get(recent))
}

async fn recent(State(state): AppRef, authed: Authed) -> Result<Json<AnalyticsHistory>> {
    if !authed.user.is_admin {
        return Err(Error::forbidden("only workspace admins see the analytics"));
    }
    Ok(Json(crate::analytics::recent(&state).await?))
}
