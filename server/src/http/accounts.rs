//! The account routes: register, log in, log out, who am I, and changing one's password.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::StatusCode,
    Json,
};
use parley_protocol::{
    api::{Credentials, PasswordChange, PasswordChanged, Session},
    UserRef,
};

use super::{ApiJson, AppRef, Authed};
use crate::{error::Result, store::TokenRecord};

pub(super) async fn register(
    State(state): AppRef,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<Session>)> {
    let (user, token) = state
        .accounts
        .register(
            client.ip(),
            &body.name,
            &body.password,
            body.display_name,
            body.invite.as_deref(),
        )
        .await?;
    state.chat.welcome(&user).await;
    Ok((
        StatusCode::CREATED,
        Json(Session {
            token,
            user: user.to_ref(),
        }),
    ))
}

pub(super) async fn login(
    State(state): AppRef,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<Session>> {
    let label = body.device.unwrap_or_else(|| "login".into());
    let (user, token) = state
        .accounts
        .login(client.ip(), &body.name, &body.password, &label)
        .await?;
    Ok(Json(Session {
        token,
        user: user.to_ref(),
    }))
}

pub(super) async fn logout(State(state): AppRef, authed: Authed) -> Result<StatusCode> {
    state.accounts.logout(&authed.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn me(authed: Authed) -> Json<UserRef> {
    Json(authed.user.to_ref())
}

pub(super) async fn change_password(
    State(state): AppRef,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    authed: Authed,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<PasswordChanged>> {
    let token = TokenRecord {
        id: authed.token_id,
        user: authed.user,
        scope: authed.scope,
        expires_at: None,
    };
    let revoked = state
        .accounts
        .change_password(
            client.ip(),
            &token,
            &body.current_password,
            &body.new_password,
            body.sign_out_others,
        )
        .await?;
    Ok(Json(PasswordChanged {
        signed_out: revoked as u64,
    }))
}
