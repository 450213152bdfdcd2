//! The token and bot routes: one's own tokens (`/api/me/tokens`), and bot accounts with their
//! scoped tokens (`/api/bots`, workspace admins only).

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get, post},
    Json, Router,
};
use parley_protocol::api::{Bot, IssuedToken, NewBot, NewBotToken, TokenList};

use super::{ApiJson, AppRef, Authed};
use crate::{error::Result, AppState};

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/me/tokens", get(list_tokens))
        .route("/api/me/tokens/{id}", delete(revoke_token))
        .route("/api/bots", post(create_bot))
        .route("/api/bots/{id}/tokens", post(create_bot_token))
}

async fn list_tokens(State(state): AppRef, authed: Authed) -> Result<Json<TokenList>> {
    let list = state
        .accounts
        .list_tokens(authed.user.id, authed.token_id)
        .await?;
    Ok(Json(list))
}

async fn revoke_token(
    State(state): AppRef,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    state.accounts.revoke_own_token(authed.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_bot(
    State(state): AppRef,
    authed: Authed,
    ApiJson(body): ApiJson<NewBot>,
) -> Result<(StatusCode, Json<Bot>)> {
    let bot = state
        .accounts
        .create_bot(&authed.user, &body.name, body.display_name.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(bot)))
}

async fn create_bot_token(
    State(state): AppRef,
    authed: Authed,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<NewBotToken>,
) -> Result<(StatusCode, Json<IssuedToken>)> {
    let issued = state
        .accounts
        .issue_bot_token(&authed.user, id, body)
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}
