//! The sidebar's channel list: the client's channels with the client's read state (unread and
//! mention counts, mutes), and following every channel the user is a member of, once per
//! session.

use std::sync::Arc;

use parley_client::Client;
use parley_protocol::ChannelInfo;

use crate::{
    error::CmdResult,
    state::AppState,
    types::{AppError, ChannelView},
};

/// The sidebar's channels with the client's unread counts, following every channel the user
/// is in.
pub async fn refresh_channels(
    state: &Arc<AppState>,
    client: &Client,
) -> CmdResult<Vec<ChannelView>> {
    let infos: Vec<ChannelInfo> = client
        .channels()
        .await?
        .into_iter()
        // The personal channel (`@me`, mentions and read positions) is not a conversation.
        .filter(|c| !c.name.starts_with('@'))
        .collect();
    let reads = client.unread().await.unwrap_or_default();
    let me = client.state();
    let me = match me {
        parley_client::ConnectionState::Online { user } => Some(user.name),
        _ => None,
    };
    let mut views = Vec::with_capacity(infos.len());
    let mut to_follow = Vec::new();
    {
        let mut attention = state.attention.lock().map_err(AppError::internal)?;
        for info in infos {
            let read = reads.iter().find(|r| r.channel == info.name);
            if info.member && attention.followed.insert(info.name.clone()) {
                to_follow.push(info.name.clone());
            }
            let dm_with = if info.name.starts_with("dm:") {
                info.topic
                    .as_deref()
                    .unwrap_or_default()
                    .split(", ")
                    .filter(|n| !n.is_empty() && Some(*n) != me.as_deref())
                    .map(str::to_owned)
                    .collect()
            } else {
                Vec::new()
            };
            views.push(ChannelView {
                dm_with,
                last_read: read.map(|r| r.last_read).unwrap_or(0),
                unread: read.map(|r| r.unread).unwrap_or(0),
                mentions: read.map(|r| r.mentions).unwrap_or(0),
                muted_until: read.and_then(|r| r.muted_until),
                info,
            });
        }
    }
    for name in to_follow {
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(err) = client.subscribe(&name).await {
                tracing::warn!(channel = %name, %err, "cannot follow");
            }
        });
    }
    Ok(views)
}
