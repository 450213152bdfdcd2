//! Chat commands: channels, history, sending through the outbox, edits, reactions, threads,
//! read state, presence, search and attachments.

use std::path::PathBuf;

use parley_client::{Client, OutboxEntry};
use parley_protocol::{
    rpc, ChannelInfo, ChannelMember, ChannelSettings, ChannelType, Message, PresenceEntry, UserRef,
};
use tauri::ipc::{Channel, Response};

use super::AppRef;
use crate::{
    error::CmdResult,
    state::AppState,
    types::{AppError, ChannelView, SearchResults, ThreadOpened, ThreadPlace, UploadProgress},
};

/// The most messages one history call returns.
const MAX_PAGE: u32 = 200;
/// The largest file the picker may hand over in one call (drag and drop streams from disk).
const MAX_PICKED_BYTES: usize = 64 * 1024 * 1024;

/// A channel as the UI addresses it: any name the server may have made (`@me`, `dm:1-2`,
/// `inbox#42`, a thread's or a document's channel), so only bounded here; the server decides.
/// A new channel's name follows `parley_protocol::names` instead (`create_channel`).
fn check_channel(name: &str) -> CmdResult<()> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(AppError::invalid("no such channel name"));
    }
    Ok(())
}

#[tauri::command]
pub async fn list_channels(
    app: tauri::AppHandle,
    state: AppRef<'_>,
) -> CmdResult<Vec<ChannelView>> {
    let client = state.client().await?;
    let views = crate::sidebar::refresh_channels(state.inner(), &client).await?;
    crate::tray::show_unread(&app, state.inner(), &client);
    Ok(views)
}

#[tauri::command]
pub async fn create_channel(
    state: AppRef<'_>,
    name: String,
    private: bool,
    topic: Option<String>,
) -> CmdResult<ChannelInfo> {
    let client = state.client().await?;
    let name = name.trim().trim_start_matches('#').to_owned();
    if !parley_protocol::names::is_valid_channel_name(&name) {
        let rule = parley_protocol::names::channel_name_rule();
        return Err(AppError::invalid(format!("{name:?}: {rule}")));
    }
    let settings = ChannelSettings {
        kind: Some(if private {
            ChannelType::Private
        } else {
            ChannelType::Public
        }),
        presence: Some(true),
        topic: topic.filter(|t| !t.trim().is_empty()),
        ..Default::default()
    };
    let info = client
        .request(rpc::CreateChannel {
            channel: name,
            settings,
        })
        .await?;
    follow(&state, &client, &info.name).await;
    Ok(info)
}

async fn follow(state: &AppState, client: &Client, name: &str) {
    if let Ok(mut attention) = state.attention.lock() {
        attention.followed.insert(name.to_owned());
    }
    if let Err(err) = client.subscribe(name).await {
        tracing::warn!(channel = %name, %err, "cannot follow");
    }
}

#[tauri::command]
pub async fn join_channel(state: AppRef<'_>, name: String) -> CmdResult<ChannelInfo> {
    let client = state.client().await?;
    check_channel(&name)?;
    let info = client.join(&name).await?;
    follow(&state, &client, &info.name).await;
    Ok(info)
}

/// Stops being a member of a channel: it leaves the sidebar, and is no longer followed.
#[tauri::command]
pub async fn leave_channel(state: AppRef<'_>, name: String) -> CmdResult<()> {
    let client = state.client().await?;
    check_channel(&name)?;
    client.leave(&name).await?;
    unfollow(&state, &name);
    Ok(())
}

/// Sets the channel's topic (empty: clears it); its members may. Everyone following the
/// channel sees the new one (`channel_updated`).
#[tauri::command]
pub async fn set_channel_topic(
    state: AppRef<'_>,
    name: String,
    topic: String,
) -> CmdResult<ChannelInfo> {
    let client = state.client().await?;
    check_channel(&name)?;
    Ok(client.set_topic(&name, &topic).await?)
}

/// Deletes a channel for everyone (its admins and workspace admins; the server decides).
#[tauri::command]
pub async fn delete_channel(state: AppRef<'_>, name: String) -> CmdResult<()> {
    let client = state.client().await?;
    check_channel(&name)?;
    client.api().delete_channel(&name).await?;
    unfollow(&state, &name);
    Ok(())
}

fn unfollow(state: &AppState, name: &str) {
    if let Ok(mut attention) = state.attention.lock() {
        attention.followed.remove(name);
    }
}

/// The most members one `channel_members` call gathers.
const MAX_MEMBERS: usize = 5000;

/// A channel's members with their roles (at most [`MAX_MEMBERS`]).
#[tauri::command]
pub async fn channel_members(state: AppRef<'_>, channel: String) -> CmdResult<Vec<ChannelMember>> {
    let client = state.client().await?;
    check_channel(&channel)?;
    Ok(client.members(&channel, MAX_MEMBERS).await?)
}

/// Adds `user` to `channel` as a member (any member may invite; a private channel's only way
/// in). Returns who was added.
#[tauri::command]
pub async fn invite(state: AppRef<'_>, channel: String, user: String) -> CmdResult<UserRef> {
    let client = state.client().await?;
    check_channel(&channel)?;
    let user = user.trim().trim_start_matches('@').to_owned();
    if user.is_empty() || user.len() > 64 {
        return Err(AppError::invalid("enter the name of the person to invite"));
    }
    Ok(client.request(rpc::Invite { channel, user }).await?)
}

/// The channel on screen (None: none): followed now, and silent while the window has focus.
/// `also`: other channels whose messages the UI shows (an open thread's); the messages of all
/// the rest come only as `activity` summaries.
#[tauri::command]
pub async fn open_channel(
    state: AppRef<'_>,
    name: Option<String>,
    also: Vec<String>,
) -> CmdResult<()> {
    if let Ok(mut attention) = state.attention.lock() {
        attention.show(name.clone(), also);
    }
    if let Some(name) = name {
        let client = state.client().await?;
        let first = state
            .attention
            .lock()
            .map(|mut a| a.followed.insert(name.clone()))
            .unwrap_or(false);
        if first {
            let c = client.clone();
            tokio::spawn(async move {
                let _ = c.subscribe(&name).await;
            });
        }
    }
    Ok(())
}

#[tauri::command]
pub async fn history(
    state: AppRef<'_>,
    channel: String,
    before: Option<u64>,
    limit: u32,
) -> CmdResult<Vec<Message>> {
    let client = state.client().await?;
    check_channel(&channel)?;
    Ok(client
        .history(&channel, before, limit.clamp(1, MAX_PAGE))
        .await?)
}

#[tauri::command]
pub async fn send_message(
    state: AppRef<'_>,
    channel: String,
    text: String,
    attachments: Vec<i64>,
) -> CmdResult<OutboxEntry> {
    let client = state.client().await?;
    check_channel(&channel)?;
    Ok(client.send_with(&channel, &text, &attachments).await?)
}

#[tauri::command]
pub async fn outbox(state: AppRef<'_>) -> CmdResult<Vec<OutboxEntry>> {
    Ok(state.client().await?.outbox().await?)
}

#[tauri::command]
pub async fn retry_message(state: AppRef<'_>, local_id: i64) -> CmdResult<bool> {
    Ok(state.client().await?.retry(local_id).await?)
}

#[tauri::command]
pub async fn discard_message(state: AppRef<'_>, local_id: i64) -> CmdResult<bool> {
    Ok(state.client().await?.discard(local_id).await?)
}

#[tauri::command]
pub async fn edit_message(
    state: AppRef<'_>,
    channel: String,
    message_id: i64,
    text: String,
) -> CmdResult<OutboxEntry> {
    Ok(state
        .client()
        .await?
        .edit(&channel, message_id, &text)
        .await?)
}

#[tauri::command]
pub async fn delete_message(
    state: AppRef<'_>,
    channel: String,
    message_id: i64,
) -> CmdResult<OutboxEntry> {
    Ok(state.client().await?.delete(&channel, message_id).await?)
}

#[tauri::command]
pub async fn react(
    state: AppRef<'_>,
    channel: String,
    message_id: i64,
    emoji: String,
    add: bool,
) -> CmdResult<OutboxEntry> {
    if emoji.is_empty() || emoji.len() > 64 {
        return Err(AppError::new("invalid_emoji", "not an emoji"));
    }
    Ok(state
        .client()
        .await?
        .react(&channel, message_id, &emoji, add)
        .await?)
}

/// Tells the channel this user is typing (ephemeral; dropped when offline).
#[tauri::command]
pub async fn typing(state: AppRef<'_>, channel: String) -> CmdResult<()> {
    let client = state.client().await?;
    match client.request(rpc::Typing { channel }).await {
        Ok(_) | Err(parley_client::Error::Offline) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

#[tauri::command]
pub async fn mark_read(
    app: tauri::AppHandle,
    state: AppRef<'_>,
    channel: String,
    seq: u64,
) -> CmdResult<()> {
    let client = state.client().await?;
    // The client keeps the position (offline too), counts it and tells the server.
    let marked = client.mark_read(&channel, seq).await;
    crate::tray::show_unread(&app, state.inner(), &client);
    Ok(marked?)
}

#[tauri::command]
pub async fn mute(state: AppRef<'_>, channel: String, until: Option<i64>) -> CmdResult<()> {
    state.client().await?.mute(&channel, until).await?;
    Ok(())
}

#[tauri::command]
pub async fn unmute(state: AppRef<'_>, channel: String) -> CmdResult<()> {
    state.client().await?.unmute(&channel).await?;
    Ok(())
}

#[tauri::command]
pub async fn presence(state: AppRef<'_>, channel: String) -> CmdResult<Vec<PresenceEntry>> {
    let client = state.client().await?;
    match client.request(rpc::ListPresence { channel }).await {
        Ok(presence) => Ok(presence),
        Err(parley_client::Error::Offline) => Ok(Vec::new()),
        Err(err) => Err(err.into()),
    }
}

#[tauri::command]
pub async fn open_dm(state: AppRef<'_>, users: Vec<String>) -> CmdResult<ChannelInfo> {
    let client = state.client().await?;
    let users: Vec<String> = users
        .into_iter()
        .map(|u| u.trim().trim_start_matches('@').to_owned())
        .filter(|u| !u.is_empty())
        .collect();
    if users.is_empty() {
        return Err(AppError::invalid("name at least one person"));
    }
    let info = client.request(rpc::OpenDm { users }).await?;
    follow(&state, &client, &info.name).await;
    Ok(info)
}

/// Where the thread `thread#<root id>` lives (a search hit or a notification in a thread): the
/// root message's channel, from the cache.
#[tauri::command]
pub async fn thread_place(state: AppRef<'_>, channel: String) -> CmdResult<ThreadPlace> {
    let client = state.client().await?;
    let message_id: i64 = channel
        .strip_prefix("thread#")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| AppError::invalid("not a thread channel (thread#<message id>)"))?;
    match client.message_channel(message_id).await? {
        Some(parent) => Ok(ThreadPlace {
            channel: parent,
            message_id,
        }),
        None => Err(AppError::new(
            "not_cached",
            "this thread's message is not on this computer yet: open its channel first",
        )),
    }
}

#[tauri::command]
pub async fn open_thread(
    state: AppRef<'_>,
    channel: String,
    message_id: i64,
) -> CmdResult<ThreadOpened> {
    let client = state.client().await?;
    let opened = client
        .request(rpc::OpenThread {
            channel,
            message_id,
        })
        .await?;
    let name = opened.thread.channel.clone();
    follow(&state, &client, &name).await;
    Ok(ThreadOpened {
        channel: name,
        root: opened.root,
        thread: opened.thread,
    })
}

#[tauri::command]
pub async fn search(
    state: AppRef<'_>,
    query: String,
    channel: Option<String>,
) -> CmdResult<SearchResults> {
    let client = state.client().await?;
    if query.trim().is_empty() {
        return Ok(SearchResults {
            local: Vec::new(),
            server: Vec::new(),
            server_error: None,
        });
    }
    let local = client.search(&query, channel.as_deref(), 50).await?;
    let (server, server_error) = match client.search_server(&query, channel.as_deref(), 50).await {
        Ok(hits) => (hits, None),
        Err(err) => (Vec::new(), Some(err.to_string())),
    };
    Ok(SearchResults {
        local,
        server,
        server_error,
    })
}

async fn upload(
    client: &Client,
    path: PathBuf,
    on_progress: Channel<UploadProgress>,
) -> CmdResult<i64> {
    let attachment = client
        .upload(&path, move |sent, total| {
            let _ = on_progress.send(UploadProgress { sent, total });
        })
        .await?;
    Ok(attachment.id)
}

/// Uploads a file from disk (dropped on the window); resolves to the attachment id.
#[tauri::command]
pub async fn upload_path(
    state: AppRef<'_>,
    path: String,
    on_progress: Channel<UploadProgress>,
) -> CmdResult<i64> {
    let path = PathBuf::from(path);
    let chosen = state
        .chosen
        .lock()
        .map(|mut c| c.allows(&path, std::time::Instant::now()))
        .unwrap_or(false);
    if !chosen {
        return Err(AppError::new(
            "path_not_chosen",
            format!(
                "{} was not dropped on the window: only files you drop or pick are uploaded",
                path.display()
            ),
        ));
    }
    let client = state.client().await?;
    if !path.is_file() {
        return Err(AppError::invalid(format!(
            "{} is not a file",
            path.display()
        )));
    }
    upload(&client, path, on_progress).await
}

/// Uploads bytes from the file picker (written to a temporary file in the app's data
/// directory for the upload, removed after; an interrupted picker upload starts over).
#[tauri::command]
pub async fn upload_bytes(
    state: AppRef<'_>,
    name: String,
    bytes: Vec<u8>,
    on_progress: Channel<UploadProgress>,
) -> CmdResult<i64> {
    let client = state.client().await?;
    if bytes.len() > MAX_PICKED_BYTES {
        return Err(AppError::new(
            "attachment_too_large",
            "files over 64 MiB: drop them on the window instead",
        ));
    }
    let safe: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .take(200)
        .collect();
    let safe = if safe.trim().is_empty() || safe.starts_with('.') {
        format!("file{safe}")
    } else {
        safe
    };
    let dir = state
        .paths
        .uploads_dir()
        .join(format!("{:016x}", rand::random::<u64>()));
    parley_client::files::private_dir(&dir).map_err(AppError::internal)?;
    let path = dir.join(safe);
    std::fs::write(&path, &bytes).map_err(|e| AppError::new("storage", e.to_string()))?;
    let result = upload(&client, path, on_progress).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// An attachment's bytes (the 320 px PNG thumbnail when `thumbnail`).
#[tauri::command]
pub async fn attachment(state: AppRef<'_>, id: i64, thumbnail: bool) -> CmdResult<Response> {
    let client = state.client().await?;
    Ok(Response::new(client.attachment(id, thumbnail).await?))
}
