//! Inbound hooks, Slack-compatible: `POST /api/hooks` (admins) makes a URL that posts to one
//! channel as a named bot; `POST /hooks/{id}/{secret}` with `{"text": "..."}` posts there. A
//! hook is a bot token scoped to `send` in that channel (its id and the token itself form the
//! URL), so revoking it, its expiry and the bot's being disabled work as for any token.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    routing::post,
    Json, Router,
};
use parley_protocol::{
    api::{HookCreated, NewBotToken, NewHook, ScopeOp},
    ErrorCode,
};

use super::{ApiJson, AppRef, Authed};
use crate::{
    error::{Error, Result},
    AppState,
};

/// The label of a hook's token (how it shows in the bot's token list).
const LABEL: &str = "inbound hook";

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/hooks", post(create))
        .route("/hooks/{id}/{secret}", post(incoming))
}

async fn create(
    State(state): AppRef,
    authed: Authed,
    ApiJson(body): ApiJson<NewHook>,
) -> Result<(StatusCode, Json<HookCreated>)> {
    if !authed.user.is_admin {
        return Err(Error::forbidden("only workspace admins make inbound hooks"));
    }
    let channel = state
        .chat
        .channel(&body.channel, Some(&authed.user))
        .await?;
    let name = channel.record.name.clone();
    let issued = state
        .accounts
        .issue_bot_token(
            &authed.user,
            body.bot,
            NewBotToken {
                label: Some(format!("{LABEL} ({name})")),
                channels: vec![name.clone()],
                operations: vec![ScopeOp::Send.as_str().to_owned()],
                expires_in: None,
            },
        )
        .await?;
    // The bot posts there: it becomes a member (admins may add anyone).
    let bot = state
        .stores
        .tokens
        .bot_by_id(body.bot)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::UserNotFound, "no such bot"))?;
    if !channel.is_member(bot.id) && !channel.is_instance() {
        state.chat.invite(&authed.user, &name, &bot.name).await?;
    }
    Ok((
        StatusCode::CREATED,
        Json(HookCreated {
            id: issued.id,
            channel: name,
            path: format!("/hooks/{}/{}", issued.id, issued.token),
        }),
    ))
}

/// A hook's post: `{"text": "..."}` (other Slack fields are ignored); answered `ok` as Slack
/// does. An unknown id or secret, a revoked token, a disabled bot: 401 `invalid_credentials`.
async fn incoming(
    State(state): AppRef,
    Path((id, secret)): Path<(i64, String)>,
    body: Bytes,
) -> Result<&'static str> {
    let record = state
        .accounts
        .authenticate(&secret)
        .await
        .map_err(|_| unknown_hook())?;
    let channel = match record.scope.as_deref() {
        Some(scope) if record.id == id && scope.operations == [ScopeOp::Send] => {
            scope.channels.first().cloned().ok_or_else(unknown_hook)?
        }
        _ => return Err(unknown_hook()),
    };
    // Bots' tokens only: a person's scoped token is not a hook.
    if state
        .stores
        .tokens
        .bot_by_id(record.user.id)
        .await?
        .is_none()
    {
        return Err(unknown_hook());
    }
    #[derive(serde::Deserialize)]
    struct Payload {
        #[serde(default)]
        text: String,
    }
    let payload: Payload = serde_json::from_slice(&body).map_err(|e| {
        Error::new(
            ErrorCode::InvalidRequest,
            format!("the body is not a JSON object with \"text\": {e}"),
        )
    })?;
    let client_id = format!("hook-{:016x}", rand::random::<u64>());
    state
        .chat
        .send_message(&record.user, &channel, &payload.text, &client_id)
        .await?;
    Ok("ok")
}

fn unknown_hook() -> Error {
    Error::new(
        ErrorCode::InvalidCredentials,
        "no such hook (or it was revoked)",
    )
}
