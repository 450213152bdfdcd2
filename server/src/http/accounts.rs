//! The account routes: register, log in (either also setting the browser's session cookie when
//! asked), log out (clearing it), who am I, and changing one's password.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use parley_protocol::{
    api::{Credentials, PasswordChange, PasswordChanged, Session},
    UserRef,
};
use serde::Deserialize;

use super::{session_cookie, ApiJson, AppRef, Authed};
use crate::{error::Result, store::TokenRecord, AppState};

/// The body of `POST /api/register` and `POST /api/login`: the credentials, and whether a
/// browser wants the session as an HttpOnly cookie too (`"cookie": true`).
#[derive(Deserialize)]
pub(super) struct SignIn {
    #[serde(flatten)]
    credentials: Credentials,
    #[serde(default)]
    cookie: bool,
}

pub(super) async fn register(
    State(state): AppRef,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response> {
    let SignIn {
        credentials,
        cookie,
    } = body;
    let (user, token) = state
        .accounts
        .register(
            client.ip(),
            &credentials.name,
            &credentials.password,
            credentials.display_name,
            credentials.invite.as_deref(),
        )
        .await?;
    state.chat.welcome(&user).await;
    let session = Session {
        token,
        user: user.to_ref(),
    };
    Ok(signed_in(&state, StatusCode::CREATED, session, cookie))
}

pub(super) async fn login(
    State(state): AppRef,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response> {
    let SignIn {
        credentials,
        cookie,
    } = body;
    let label = credentials.device.unwrap_or_else(|| "login".into());
    let (user, token) = state
        .accounts
        .login(
            client.ip(),
            &credentials.name,
            &credentials.password,
            &label,
        )
        .await?;
    let session = Session {
        token,
        user: user.to_ref(),
    };
    Ok(signed_in(&state, StatusCode::OK, session, cookie))
}

/// The answer to a sign-in: the session as JSON, and the session cookie when asked for.
fn signed_in(state: &AppState, status: StatusCode, session: Session, cookie: bool) -> Response {
    let set_cookie = cookie.then(|| {
        session_cookie::set(
            &session.token,
            state.config.web.session_cookie_max_age,
            tls(state),
        )
    });
    let mut response = (status, Json(session)).into_response();
    if let Some(value) = set_cookie {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Whether this server serves TLS itself (the session cookie is then `Secure`).
fn tls(state: &AppState) -> bool {
    state.config.server.tls_files().is_some()
}

/// Revokes the request's token (bearer or cookie); a session cookie that came along is cleared.
pub(super) async fn logout(
    State(state): AppRef,
    headers: HeaderMap,
    authed: Authed,
) -> Result<Response> {
    state.accounts.logout(&authed.token).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if session_cookie::present(&headers) {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, session_cookie::clear(tls(&state)));
    }
    Ok(response)
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
