//! The chat routes (`/api/channels`): list, create, delete and join channels, read history,
//! post a message and publish a custom event, each handed to the chat area.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use parley_protocol::{
    api::{ChannelList, CreateChannel, HistoryQuery, PostMessage, PublishEvent},
    ChannelInfo, HistoryPage, PublishResult, SendResult,
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

/// `POST /api/channels/{name}/events`: 201 with the result, 200 for a repeated `client_id`.
pub(super) async fn publish_event(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PublishEvent>,
) -> Result<(StatusCode, Json<PublishResult>)> {
    let request = crate::chat::Publish {
        channel: name,
        event: body.event,
        data: body.data,
        durable: body.durable,
        client_id: body.client_id,
        user: body.user,
    };
    let result = state
        .chat
        .publish(&authed.user, authed.scope.as_deref(), request)
        .await?;
    Ok((created_unless(result.duplicate), Json(result)))
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
    Ok((created_unless(result.duplicate), Json(result)))
}

/// 201 for something new, 200 for a repeat of an earlier request (`duplicate`).
fn created_unless(duplicate: bool) -> StatusCode {
    if duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}
