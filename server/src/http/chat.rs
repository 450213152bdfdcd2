//! The chat routes (`/api/channels`): list, create, delete and join channels, read history and
//! post a message, each handed to the chat area.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use parley_protocol::{
    api::{ChannelList, CreateChannel, HistoryQuery, PostMessage},
    ChannelInfo, HistoryPage, SendResult,
};

use super::{ApiJson, AppRef, Authed, MaybeAuthed};
use crate::error::Result;

pub(super) async fn list_channels(
    State(state): AppRef,
    authed: super::extract::MaybeScoped,
) -> Result<Json<ChannelList>> {
    let mut channels = state.chat.visible_channels(authed.user.as_ref()).await?;
    channels.retain(|c| crate::scope::shows(authed.scope.as_deref(), &c.name));
    Ok(Json(ChannelList { channels }))
}

pub(super) async fn create_channel(
    State(state): AppRef,
    authed: Authed,
    ApiJson(body): ApiJson<CreateChannel>,
) -> Result<(StatusCode, Json<ChannelInfo>)> {
    let channel = state
        .chat
        .create_channel(&authed.user, &body.channel, body.settings)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(state.chat.channel_info(&channel, Some(&authed.user))),
    ))
}

pub(super) async fn delete_channel(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    state.chat.delete_channel(&authed.user, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn join_channel(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
) -> Result<Json<ChannelInfo>> {
    let channel = state.chat.join_channel(&authed.user, &name).await?;
    Ok(Json(state.chat.channel_info(&channel, Some(&authed.user))))
}

pub(super) async fn channel_history(
    State(state): AppRef,
    MaybeAuthed(user): MaybeAuthed,
    Path(name): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<HistoryPage>> {
    Ok(Json(
        state
            .chat
            .history(user.as_ref(), &name, query.before, query.limit)
            .await?,
    ))
}

pub(super) async fn post_message(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PostMessage>,
) -> Result<(StatusCode, Json<SendResult>)> {
    let result = state
        .chat
        .send_message(&authed.user, &name, &body.text, &body.client_id)
        .await?;
    let status = if result.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(result)))
}
