//! What handlers take from a request besides the state: the signed-in user (`Authed`, or
//! `MaybeAuthed` for routes anonymous users may read) from the bearer token or else the
//! session cookie (`session_cookie`, whose requests pass its forgery check here), and JSON
//! bodies whose refusals are Parley errors (`ApiJson`).

use std::sync::Arc;

use axum::{
    extract::{FromRequest, FromRequestParts, MatchedPath, RawPathParams, Request},
    http::{header, request::Parts, HeaderMap},
    Json,
};
use parley_protocol::{api::TokenScope, ErrorCode};
use serde::de::DeserializeOwned;

use super::session_cookie;
use crate::{
    error::{Error, Result},
    scope,
    store::{TokenRecord, UserRecord},
    AppState,
};

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The request's token: the bearer header's, else the session cookie's after the check that
/// a cookie-signed request changing something comes from this server's pages. None: neither.
fn request_token(parts: &Parts, state: &AppState) -> Result<Option<String>> {
    if let Some(token) = bearer(&parts.headers) {
        return Ok(Some(token.to_owned()));
    }
    let Some(token) = session_cookie::token(&parts.headers) else {
        return Ok(None);
    };
    session_cookie::check_csrf(
        &parts.method,
        &parts.headers,
        &state.config.server.cors_origins,
    )?;
    Ok(Some(token.to_owned()))
}

/// The signed-in user of an API request (`Authorization: Bearer`, or the session cookie).
pub(crate) struct Authed {
    pub(crate) user: UserRecord,
    pub(crate) token: String,
    /// The token's id (what revocation works with).
    pub(crate) token_id: i64,
    /// A scoped token's scope; the route was checked against it already.
    pub(crate) scope: Option<Arc<TokenScope>>,
}

/// The token's user, after checking the route against a scoped token's scope: the one place
/// every authenticated `/api` request passes (`scope::for_route`).
async fn signed_in(parts: &mut Parts, state: &Arc<AppState>, token: &str) -> Result<TokenRecord> {
    let record = state.accounts.authenticate(token).await?;
    if let Some(access) = parts.extensions.get::<super::access::AccessUser>() {
        access.set(record.user.id);
    }
    if let Some(token_scope) = record.scope.as_deref() {
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        let params = RawPathParams::from_request_parts(parts, state).await.ok();
        let channel = params
            .as_ref()
            .and_then(|p| p.iter().find(|(key, _)| *key == "name").map(|(_, v)| v));
        let need = scope::for_route(parts.method.as_str(), &route, channel);
        scope::check(Some(token_scope), &need)?;
    }
    Ok(record)
}

impl FromRequestParts<Arc<AppState>> for Authed {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        let token = request_token(parts, state)?.ok_or_else(Error::unauthenticated)?;
        let record = signed_in(parts, state, &token).await?;
        Ok(Self {
            user: record.user,
            token,
            token_id: record.id,
            scope: record.scope,
        })
    }
}

/// The user, if the request carries a bearer token or session cookie (anonymous otherwise).
pub(crate) struct MaybeAuthed(pub(crate) Option<UserRecord>);

impl FromRequestParts<Arc<AppState>> for MaybeAuthed {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        let scoped = MaybeScoped::from_request_parts(parts, state).await?;
        Ok(Self(scoped.user))
    }
}

/// Like [`MaybeAuthed`], with a scoped token's scope (for listings that show only its channels).
pub(crate) struct MaybeScoped {
    pub(crate) user: Option<UserRecord>,
    pub(crate) scope: Option<Arc<TokenScope>>,
}

impl FromRequestParts<Arc<AppState>> for MaybeScoped {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        match request_token(parts, state)? {
            Some(token) => {
                let record = signed_in(parts, state, &token).await?;
                Ok(Self {
                    user: Some(record.user),
                    scope: record.scope,
                })
            }
            None => Ok(Self {
                user: None,
                scope: None,
            }),
        }
    }
}

/// A JSON body whose rejections are Parley errors (`invalid_request` with serde's message).
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(value)| Self(value))
            .map_err(|rejection| Error::new(ErrorCode::InvalidRequest, rejection.body_text()))
    }
}
