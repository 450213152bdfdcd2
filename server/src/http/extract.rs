//! What handlers take from a request besides the state: the signed-in user (`Authed`, or
//! `MaybeAuthed` for routes anonymous users may read) from the bearer token, and JSON bodies whose
//! refusals are Parley errors (`ApiJson`).

use std::sync::Arc;

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap},
    Json,
};
use parley_protocol::ErrorCode;
use serde::de::DeserializeOwned;

use crate::{
    error::{Error, Result},
    store::UserRecord,
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
/// The signed-in user of an API request (`Authorization: Bearer`).
pub(crate) struct Authed {
    pub(crate) user: UserRecord,
    pub(crate) token: String,
    /// The token's id (what revocation works with).
    pub(crate) token_id: i64,
}

impl FromRequestParts<Arc<AppState>> for Authed {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        let token = bearer(&parts.headers)
            .ok_or_else(Error::unauthenticated)?
            .to_owned();
        let record = state.accounts.authenticate(&token).await?;
        if let Some(access) = parts.extensions.get::<super::access::AccessUser>() {
            access.set(record.user.id);
        }
        Ok(Self {
            user: record.user,
            token,
            token_id: record.id,
        })
    }
}

/// The user, if the request carries a bearer token (anonymous otherwise).
pub(crate) struct MaybeAuthed(pub(crate) Option<UserRecord>);

impl FromRequestParts<Arc<AppState>> for MaybeAuthed {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        match bearer(&parts.headers) {
            Some(token) => {
                let user = state.accounts.authenticate(token).await?.user;
                if let Some(access) = parts.extensions.get::<super::access::AccessUser>() {
                    access.set(user.id);
                }
                Ok(Self(Some(user)))
            }
            None => Ok(Self(None)),
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
