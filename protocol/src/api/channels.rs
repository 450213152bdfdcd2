//! Channels over HTTP: `GET|POST /api/channels`, `DELETE /api/channels/{name}`,
//! `POST /api/channels/{name}/join`, `GET|POST /api/channels/{name}/messages`. The answers are
//! the WebSocket's types ([`ChannelInfo`], [`HistoryPage`](crate::HistoryPage),
//! [`SendResult`](crate::SendResult)).

use serde::{Deserialize, Serialize};

use crate::{ChannelInfo, ChannelSettings};

/// `GET /api/channels`: the channels the caller can see (anonymous callers see public ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelList {
    pub channels: Vec<ChannelInfo>,
}

/// `POST /api/channels` (201 with the [`ChannelInfo`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CreateChannel {
    pub channel: String,
    #[serde(flatten)]
    pub settings: ChannelSettings,
}

/// `POST /api/channels/{name}/events`: a custom event, as the `publish` operation carries it
/// (the answer is a [`PublishResult`](crate::PublishResult), 201, or 200 for a repeated
/// `client_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct PublishEvent {
    pub event: String,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub data: serde_json::Value,
    #[serde(default)]
    pub durable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// For a `user_specific` channel: whose instance (admins and bots only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// The query of `GET /api/channels/{name}/messages`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistoryQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `POST /api/channels/{name}/messages`: 201 with the new message's `SendResult`, 200 with the
/// original when `client_id` was sent before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PostMessage {
    pub text: String,
    pub client_id: String,
}
