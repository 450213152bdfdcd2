//! People commands: one's own profile (display name, avatar), avatars to show, invite links,
//! and the workspace's accounts as its admins manage them (disable, enable, delete, reset
//! codes). Every refusal is the server's (an admin-only operation by a member is `forbidden`).

use parley_protocol::{
    api::{AnalyticsHistory, InviteInfo, ResetCode, UserInfo},
    UserRef,
};
use tauri::ipc::Response;

use super::AppRef;
use crate::{
    error::CmdResult,
    session::{push_status, save_workspace},
    state::AppState,
    types::AppError,
};

/// The largest image the avatar picker hands over (the server has its own, smaller limit,
/// `accounts.max_avatar_size`, and says so).
const MAX_AVATAR_PICK: usize = 16 * 1024 * 1024;
/// The most accounts one `people` call gathers (pages of the server's `GET /api/users`).
const MAX_PEOPLE: usize = 5_000;

/// The account as the server now describes it becomes the session's user (kept in the
/// workspace file), and the UI hears of it.
async fn became(state: &AppState, user: UserRef) -> CmdResult<UserRef> {
    let file = {
        let mut session = state.session.lock().await;
        let Some(file) = session.workspace.as_mut() else {
            return Ok(user);
        };
        file.user = Some(user.clone());
        file.clone()
    };
    save_workspace(state, &file)?;
    push_status(state).await;
    Ok(user)
}

/// Sets the signed-in account's display name (the server validates it; empty clears it).
#[tauri::command]
pub async fn set_display_name(state: AppRef<'_>, name: String) -> CmdResult<UserRef> {
    let client = state.client().await?;
    let user = client.api().set_display_name(name.trim()).await?;
    became(&state, user).await
}

/// Makes an image (the file picker's bytes) the signed-in account's avatar.
#[tauri::command]
pub async fn set_avatar(state: AppRef<'_>, bytes: Vec<u8>) -> CmdResult<UserRef> {
    if bytes.is_empty() {
        return Err(AppError::invalid("choose an image"));
    }
    if bytes.len() > MAX_AVATAR_PICK {
        return Err(AppError::new(
            "attachment_too_large",
            "this image is too large for an avatar",
        ));
    }
    let client = state.client().await?;
    let user = client.api().set_avatar(bytes).await?;
    became(&state, user).await
}

/// Removes the signed-in account's avatar (initials are shown again).
#[tauri::command]
pub async fn remove_avatar(state: AppRef<'_>) -> CmdResult<UserRef> {
    let client = state.client().await?;
    let user = client.api().remove_avatar().await?;
    became(&state, user).await
}

/// An avatar's PNG bytes, from the path a user carries (`/api/users/{id}/avatar?v=…`).
#[tauri::command]
pub async fn avatar(state: AppRef<'_>, path: String) -> CmdResult<Response> {
    let client = state.client().await?;
    Ok(Response::new(client.api().avatar(&path).await?))
}

/// The workspace's accounts (admins; `forbidden` for others), every page of them up to
/// [`MAX_PEOPLE`].
#[tauri::command]
pub async fn people(state: AppRef<'_>) -> CmdResult<Vec<UserInfo>> {
    let client = state.client().await?;
    let mut users: Vec<UserInfo> = Vec::new();
    let mut after = None;
    loop {
        let page = client.api().users(after).await?;
        users.extend(page.users);
        match page.next {
            Some(next) if users.len() < MAX_PEOPLE && Some(next) != after => after = Some(next),
            _ => break,
        }
    }
    users.truncate(MAX_PEOPLE);
    Ok(users)
}

/// The workspace's live analytics for the Dashboard (admins; `forbidden` for others,
/// `analytics_disabled` when the server's are off): the stored updates, oldest first. The
/// channel they come on is followed first, so every later update arrives as a `custom` event
/// (none falls between the two).
#[tauri::command]
pub async fn dashboard(state: AppRef<'_>) -> CmdResult<AnalyticsHistory> {
    let client = state.client().await?;
    // The first read names the channel (and refuses non-admins); the second, made once the
    // channel is followed, is what the view starts from.
    let channel = client.api().analytics().await?.channel;
    client.subscribe(&channel).await?;
    Ok(client.api().analytics().await?)
}

/// Disables (closing its sessions at once) or enables an account (admins).
#[tauri::command]
pub async fn set_user_disabled(state: AppRef<'_>, id: i64, disabled: bool) -> CmdResult<()> {
    let client = state.client().await?;
    Ok(client.api().set_user_disabled(id, disabled).await?)
}

/// Deletes an account (admins); its messages stay, attributed to "deleted user".
#[tauri::command]
pub async fn delete_user(state: AppRef<'_>, id: i64) -> CmdResult<()> {
    let client = state.client().await?;
    Ok(client.api().delete_user(id).await?)
}

/// A one-time password-reset code for an account (admins), to hand to its owner.
#[tauri::command]
pub async fn reset_code(state: AppRef<'_>, id: i64) -> CmdResult<ResetCode> {
    let client = state.client().await?;
    Ok(client.api().reset_code(id).await?)
}

/// The live invites (admins: all of them; members: their own).
#[tauri::command]
pub async fn list_invites(state: AppRef<'_>) -> CmdResult<Vec<InviteInfo>> {
    let client = state.client().await?;
    Ok(client.api().invites().await?.invites)
}

/// Revokes an invite: its link admits nobody any more.
#[tauri::command]
pub async fn revoke_invite(state: AppRef<'_>, id: i64) -> CmdResult<()> {
    let client = state.client().await?;
    Ok(client.api().revoke_invite(id).await?)
}

/// An invite link: the workspace's address (for a workspace hosted on the LAN, its first LAN
/// address), the certificate fingerprint to pin (when there is one) and a new invite code.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct InviteLinkView {
    pub link: String,
    pub server: String,
    pub fingerprint: Option<String>,
    /// Unix milliseconds.
    pub expires_at: i64,
    pub uses: u32,
    /// Only people on this computer can use it (a workspace hosted on the loopback address).
    pub this_computer_only: bool,
}

/// Creates an invite (`POST /api/invites`: admins, or members where the server allows) and
/// the link that carries it. Works for any workspace: one hosted here (on the LAN or only for
/// this computer) or one joined.
#[tauri::command]
pub async fn create_invite_link(
    state: AppRef<'_>,
    uses: Option<u32>,
    expires_in: Option<String>,
) -> CmdResult<InviteLinkView> {
    let client = state.client().await?;
    let file = state
        .session
        .lock()
        .await
        .workspace
        .clone()
        .ok_or_else(AppError::not_signed_in)?;
    let hosted = super::session::host_info(state.clone()).await?;
    let (server, fingerprint) = match &hosted {
        Some(info) if info.lan => (
            info.join_urls
                .first()
                .cloned()
                .unwrap_or_else(|| info.url.clone()),
            info.fingerprint.clone(),
        ),
        Some(info) => (info.url.clone(), None),
        None => (file.server.clone(), file.fingerprint.clone()),
    };
    let uses = uses.unwrap_or(1).max(1);
    let created = client
        .api()
        .create_invite(&parley_protocol::api::CreateInvite {
            uses: Some(uses),
            expires_in: Some(expires_in.unwrap_or_else(|| "7d".into())),
        })
        .await?;
    let link = parley_client::invite::InviteLink {
        server: server.clone(),
        fingerprint: fingerprint.clone(),
        code: created.code,
    };
    Ok(InviteLinkView {
        link: link.to_link(),
        this_computer_only: crate::lan::is_loopback_url(&server),
        server,
        fingerprint,
        expires_at: created.expires_at,
        uses: created.uses_left,
    })
}
