//! The routes of invites and people: `/api/invites`, `/api/users` (admins), the admin
//! operations on `/api/users/{id}/…`, `/api/password-reset`, `PATCH /api/me` and avatars.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    body::Body,
    extract::{ConnectInfo, Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
    Json, Router,
};
use parley_protocol::{
    api::{
        CreateInvite, InviteCreated, InviteInfo, InviteList, PasswordReset, ProfileChange,
        ResetCode, UserInfo, UserList, UsersQuery,
    },
    ErrorCode, UserRef,
};

use super::{ApiJson, AppRef, Authed};
use crate::{
    error::{Error, Result},
    store::{AccountRecord, InviteRecord},
    AppState,
};

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/invites", post(create_invite).get(list_invites))
        .route("/api/invites/{id}", delete(revoke_invite))
        .route("/api/users", get(list_users))
        .route("/api/users/{id}", delete(delete_user))
        .route("/api/users/{id}/disable", post(disable))
        .route("/api/users/{id}/enable", post(enable))
        .route("/api/users/{id}/reset-code", post(reset_code))
        .route("/api/users/{id}/avatar", get(avatar))
        .route("/api/password-reset", post(password_reset))
        .route("/api/me/avatar", put(set_avatar).delete(remove_avatar))
}

fn invite_info(invite: &InviteRecord) -> InviteInfo {
    InviteInfo {
        id: invite.id,
        uses_left: invite.uses_left,
        expires_at: invite.expires_at,
        created_by: invite.created_by.to_ref(),
        created_at: invite.created_at,
    }
}

async fn create_invite(
    State(state): AppRef,
    authed: Authed,
    ApiJson(body): ApiJson<CreateInvite>,
) -> Result<(StatusCode, Json<InviteCreated>)> {
    let (code, invite) = state
        .accounts
        .create_invite(&authed.user, body.uses, body.expires_in.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(InviteCreated {
            code,
            id: invite.id,
            uses_left: invite.uses_left,
            expires_at: invite.expires_at,
            created_by: invite.created_by.to_ref(),
        }),
    ))
}

async fn list_invites(State(state): AppRef, authed: Authed) -> Result<Json<InviteList>> {
    let invites = state.accounts.invites(&authed.user).await?;
    Ok(Json(InviteList {
        invites: invites.iter().map(invite_info).collect(),
    }))
}

async fn revoke_invite(
    State(state): AppRef,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    state.accounts.revoke_invite(&authed.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn user_info(account: AccountRecord) -> UserInfo {
    UserInfo {
        id: account.user.id,
        name: account.user.name,
        display_name: account.user.display_name,
        avatar: account.user.avatar,
        admin: account.user.is_admin,
        disabled: account.disabled,
        created_at: account.created_at,
    }
}

async fn list_users(
    State(state): AppRef,
    authed: Authed,
    Query(query): Query<UsersQuery>,
) -> Result<Json<UserList>> {
    let limit = query
        .limit
        .unwrap_or(crate::accounts::people::MAX_USERS_PAGE);
    let accounts = state
        .accounts
        .accounts(&authed.user, query.after, Some(limit))
        .await?;
    let full = accounts.len() as u32 >= limit.clamp(1, crate::accounts::people::MAX_USERS_PAGE);
    let next = full.then(|| accounts.last().map(|a| a.user.id)).flatten();
    Ok(Json(UserList {
        users: accounts.into_iter().map(user_info).collect(),
        next,
    }))
}

async fn disable(State(state): AppRef, authed: Authed, Path(id): Path<i64>) -> Result<StatusCode> {
    state.accounts.set_disabled(&authed.user, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn enable(State(state): AppRef, authed: Authed, Path(id): Path<i64>) -> Result<StatusCode> {
    state.accounts.set_disabled(&authed.user, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the account, then tells the channel directory (and the hubs and documents of
/// private channels) that the user is no longer a member of the channels they were in.
async fn delete_user(
    State(state): AppRef,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    let memberships = if authed.user.is_admin {
        state.stores.channels.memberships_of(id).await?
    } else {
        Vec::new()
    };
    state.accounts.delete_user(&authed.user, id).await?;
    let Some(gone) = state.stores.people.account(id).await? else {
        return Ok(StatusCode::NO_CONTENT);
    };
    for membership in memberships {
        let Some(channel) = state
            .stores
            .channels
            .channel_by_id(membership.channel_id)
            .await?
        else {
            continue;
        };
        // The store removed the membership; this updates what the server holds in memory.
        if let Err(err) = state
            .chat
            .leave_channel(&gone.user, &channel.record.name)
            .await
        {
            tracing::debug!(%err, "a deleted user's channel was not left");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_code(
    State(state): AppRef,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<Json<ResetCode>> {
    let (code, expires_at) = state.accounts.reset_code(&authed.user, id).await?;
    Ok(Json(ResetCode { code, expires_at }))
}

async fn password_reset(
    State(state): AppRef,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<PasswordReset>,
) -> Result<StatusCode> {
    state
        .accounts
        .reset_password(client.ip(), &body.name, &body.code, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn update_me(
    State(state): AppRef,
    authed: Authed,
    ApiJson(body): ApiJson<ProfileChange>,
) -> Result<Json<UserRef>> {
    let user = match body.display_name {
        Some(name) => state.accounts.set_display_name(&authed.user, &name).await?,
        None => authed.user,
    };
    Ok(Json(user.to_ref()))
}

async fn set_avatar(State(state): AppRef, authed: Authed, body: Body) -> Result<Response> {
    let max = state.config.accounts.max_avatar_size;
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes.to_vec(),
        Err(_) => {
            // The rest of the body may be unread: the connection cannot be reused.
            let mut refusal = crate::attachments::avatar_too_large(max).into_response();
            refusal
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Ok(refusal);
        }
    };
    let png = state.attachments.avatar_png(bytes).await?;
    let user = state.accounts.set_avatar(&authed.user, Some(png)).await?;
    Ok(Json(user.to_ref()).into_response())
}

async fn remove_avatar(State(state): AppRef, authed: Authed) -> Result<Json<UserRef>> {
    let user = state.accounts.set_avatar(&authed.user, None).await?;
    Ok(Json(user.to_ref()))
}

/// A user's avatar (PNG), to signed-in users. Its URL changes with the image (`?v=`), so it
/// may be cached for a day; `ETag` answers revalidations with 304.
async fn avatar(
    State(state): AppRef,
    _authed: Authed,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response> {
    let Some((image, tag)) = state.accounts.avatar(id).await? else {
        return Err(Error::new(
            ErrorCode::UserNotFound,
            "this user has no avatar",
        ));
    };
    let etag = format!("\"{tag}\"");
    let cache = [
        (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
        (header::ETAG, etag.clone()),
    ];
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, "image/png".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        cache,
        image,
    )
        .into_response())
}
