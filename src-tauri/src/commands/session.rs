//! Session commands: status, host or join a workspace, register, sign in and out, events.

use std::{sync::Arc, time::Duration};

use tauri::{ipc::Channel, AppHandle};

use super::AppRef;
use crate::{
    error::CmdResult,
    host,
    session::{self, push_status, save_workspace, SignIn},
    state::{AppState, WorkspaceFile},
    types::{AppError, AppEvent, SessionStatus},
};

#[tauri::command]
pub async fn session_status(state: AppRef<'_>) -> CmdResult<SessionStatus> {
    let mut restored = state.restored.subscribe();
    let _ = tokio::time::timeout(Duration::from_secs(30), restored.wait_for(|done| *done)).await;
    Ok(session::status(&state).await)
}

#[tauri::command]
pub async fn subscribe_events(state: AppRef<'_>, on_event: Channel<AppEvent>) -> CmdResult<()> {
    if let Ok(mut ui) = state.ui.lock() {
        *ui = Some(on_event);
    }
    Ok(())
}

#[tauri::command]
pub async fn host_workspace(
    app: AppHandle,
    state: AppRef<'_>,
    username: String,
    password: String,
    lan: Option<bool>,
) -> CmdResult<SessionStatus> {
    let state: Arc<AppState> = state.inner().clone();
    if username.trim().is_empty() || password.len() < 8 {
        return Err(AppError::invalid(
            "choose a user name and a password of at least 8 characters",
        ));
    }
    session::stop_client(&state).await;
    session::stop_hosted(&state).await;
    host::create_admin(&state.paths.server_data(), username.trim(), &password).await?;
    let mut file = WorkspaceFile {
        hosted: true,
        lan: lan.unwrap_or(false),
        ..WorkspaceFile::default()
    };
    session::start_hosted(&state, &mut file).await?;
    let (token, user) =
        session::authenticate(&file.server, SignIn::Login, &username, &password).await?;
    signed_in(&app, &state, file, &token, user).await
}

/// After a successful sign-in: remember the workspace and the user (the token in the keyring),
/// start the client, tell the UI.
async fn signed_in(
    app: &AppHandle,
    state: &Arc<AppState>,
    mut file: WorkspaceFile,
    token: &str,
    user: parley_protocol::UserRef,
) -> CmdResult<SessionStatus> {
    file.user = Some(user.clone());
    save_workspace(state, &file)?;
    session::remember_token(state, &file.server, &user.name, token);
    let server = file.server.clone();
    state.session.lock().await.workspace = Some(file);
    session::start_client(app, state, &server, token, &user).await?;
    push_status(state).await;
    Ok(session::status(state).await)
}

#[tauri::command]
pub async fn join_workspace(state: AppRef<'_>, server: String) -> CmdResult<SessionStatus> {
    let server = session::normalize_server(&server)?;
    session::check_server(&server).await?;
    session::stop_client(&state).await;
    session::stop_hosted(&state).await;
    let file = WorkspaceFile {
        server,
        ..WorkspaceFile::default()
    };
    save_workspace(&state, &file)?;
    state.session.lock().await.workspace = Some(file);
    push_status(&state).await;
    Ok(session::status(&state).await)
}

async fn sign(
    app: AppHandle,
    state: Arc<AppState>,
    how: SignIn,
    username: String,
    password: String,
) -> CmdResult<SessionStatus> {
    let file = state
        .session
        .lock()
        .await
        .workspace
        .clone()
        .ok_or_else(|| AppError::new("no_workspace", "host or join a workspace first"))?;
    let (token, user) = session::authenticate(&file.server, how, &username, &password).await?;
    signed_in(&app, &state, file, &token, user).await
}

#[tauri::command]
pub async fn sign_in(
    app: AppHandle,
    state: AppRef<'_>,
    username: String,
    password: String,
) -> CmdResult<SessionStatus> {
    sign(
        app,
        state.inner().clone(),
        SignIn::Login,
        username,
        password,
    )
    .await
}

/// Sets a new password with the one-time reset code an admin gave (`POST /api/password-reset`),
/// then signs in with it.
#[tauri::command]
pub async fn reset_password(
    app: AppHandle,
    state: AppRef<'_>,
    username: String,
    code: String,
    new_password: String,
) -> CmdResult<SessionStatus> {
    if new_password.chars().count() < crate::hosted::MIN_PASSWORD_CHARS {
        return Err(AppError::invalid("a password has at least 8 characters"));
    }
    let server = state
        .session
        .lock()
        .await
        .workspace
        .as_ref()
        .map(|w| w.server.clone())
        .ok_or_else(|| AppError::new("no_workspace", "host or join a workspace first"))?;
    let username = username.trim().to_owned();
    parley_client::HttpApi::new(&server)?
        .reset_password(&parley_protocol::api::PasswordReset {
            name: username.clone(),
            code: code.trim().to_owned(),
            new_password: new_password.clone(),
        })
        .await?;
    sign(
        app,
        state.inner().clone(),
        SignIn::Login,
        username,
        new_password,
    )
    .await
}

#[tauri::command]
pub async fn register(
    app: AppHandle,
    state: AppRef<'_>,
    username: String,
    password: String,
) -> CmdResult<SessionStatus> {
    sign(
        app,
        state.inner().clone(),
        SignIn::Register,
        username,
        password,
    )
    .await
}

/// Signs out: the server revokes the token, the keyring forgets it, the client stops.
#[tauri::command]
pub async fn sign_out(state: AppRef<'_>) -> CmdResult<SessionStatus> {
    let (client, file) = {
        let session = state.session.lock().await;
        (session.client.clone(), session.workspace.clone())
    };
    if let (Some(client), Some(file)) = (client, file) {
        // Offline: the token stays valid on the server until it expires or is revoked there.
        let _ = client.api().logout().await;
        if let (Some(user), None) = (&file.user, std::env::var_os("PARLEY_NO_KEYRING")) {
            if let Err(reason) =
                parley_client::credentials::keyring_only::delete(&file.server, &user.name)
            {
                tracing::warn!(%reason, "cannot remove the token from the keyring");
            }
        }
    }
    session::stop_client(&state).await;
    {
        let mut session = state.session.lock().await;
        if let Some(file) = session.workspace.as_mut() {
            file.user = None;
            let file = file.clone();
            save_workspace(&state, &file)?;
        }
    }
    push_status(&state).await;
    Ok(session::status(&state).await)
}

/// Adds an account to the workspace this computer hosts (registration is off there: people
/// get their accounts from its administrator): through the running server when the app is
/// connected to it, else with `parley-server user add` on the hosted data.
#[tauri::command]
pub async fn add_person(state: AppRef<'_>, username: String, password: String) -> CmdResult<()> {
    let hosted = state
        .session
        .lock()
        .await
        .workspace
        .as_ref()
        .is_some_and(|w| w.hosted && w.user.is_some());
    if !hosted {
        return Err(AppError::new(
            "not_hosted",
            "people are added here only to a workspace this computer hosts",
        ));
    }
    if password.chars().count() < 8 {
        return Err(AppError::invalid("a password has at least 8 characters"));
    }
    match add_through_server(&state, username.trim(), &password).await {
        Ok(()) => Ok(()),
        // The server's own answer about the account stands.
        Err(err) if matches!(err.code.as_str(), "user_exists" | "invalid_user") => Err(err),
        // Not connected (or the server refuses invites): the admin command beside it, whose
        // memberships the running server only sees at its next start.
        Err(err) => {
            tracing::info!(code = %err.code, "adding the account with the admin command");
            host::add_account(
                &state.paths.server_data(),
                username.trim(),
                &password,
                false,
            )
            .await
        }
    }
}

/// Adds the account through the running server, so it joins the channels everyone joins at
/// once (members see it join): a one-use invite for ten minutes, a registration with it, and
/// the registration's session signed out again (the person signs in on their own device).
async fn add_through_server(state: &AppState, username: &str, password: &str) -> CmdResult<()> {
    let client = state.client().await?;
    let api = client.api();
    let invite = api
        .create_invite(&parley_protocol::api::CreateInvite {
            uses: Some(1),
            expires_in: Some("10m".into()),
        })
        .await?;
    let server = state
        .session
        .lock()
        .await
        .workspace
        .as_ref()
        .map(|w| w.server.clone())
        .ok_or_else(|| AppError::new("not_hosted", "no workspace"))?;
    let fresh = parley_client::HttpApi::new(&server)?;
    let created = fresh
        .register(&parley_protocol::api::Credentials {
            name: username.to_owned(),
            password: password.to_owned(),
            display_name: None,
            device: Some("added by an admin".into()),
            invite: Some(invite.code),
        })
        .await;
    let session = match created {
        Ok(session) => session,
        Err(err) => {
            // The invite is of no use to anyone else: take it back.
            let _ = api.revoke_invite(invite.id).await;
            return Err(err.into());
        }
    };
    if let Err(err) = fresh.with_token(&session.token).logout().await {
        tracing::warn!(%err, "the new account's first session stays signed in");
    }
    Ok(())
}

/// Forgets the workspace (signing out first); a hosted server stops (its data stays).
#[tauri::command]
pub async fn leave_workspace(state: AppRef<'_>) -> CmdResult<SessionStatus> {
    sign_out(state.clone()).await?;
    session::stop_hosted(&state).await;
    state.session.lock().await.workspace = None;
    let _ = std::fs::remove_file(state.paths.workspace_file());
    push_status(&state).await;
    Ok(session::status(&state).await)
}

/// The hosted workspace as its host sees it: where the app reaches it, where others join, the
/// certificate they pin, and how the server is doing.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct HostInfo {
    pub url: String,
    pub lan: bool,
    /// `https://ADDRESS:PORT` for each of this computer's LAN addresses (LAN hosting only).
    pub join_urls: Vec<String>,
    pub fingerprint: Option<String>,
    pub state: crate::types::HostState,
}

#[tauri::command]
pub async fn host_info(state: AppRef<'_>) -> CmdResult<Option<HostInfo>> {
    let host = state.host.lock().await;
    Ok(host.as_ref().map(|server| {
        let fingerprint = server.fingerprint();
        HostInfo {
            url: server.url(),
            lan: fingerprint.is_some(),
            join_urls: if fingerprint.is_some() {
                crate::lan::join_urls(server.port)
            } else {
                Vec::new()
            },
            fingerprint,
            state: server.state(),
        }
    }))
}

/// The hosted server's recent log lines (Settings shows them, e.g. after it crashed).
#[tauri::command]
pub async fn host_log(state: AppRef<'_>) -> CmdResult<Vec<String>> {
    Ok(crate::hosted::recent_log(&state.paths.server_data(), 200))
}

/// Starts the hosted server again after the supervisor gave up on it.
#[tauri::command]
pub async fn restart_host(state: AppRef<'_>) -> CmdResult<SessionStatus> {
    let state: Arc<AppState> = state.inner().clone();
    session::stop_hosted(&state).await;
    let mut file = state
        .session
        .lock()
        .await
        .workspace
        .clone()
        .filter(|w| w.hosted)
        .ok_or_else(|| AppError::new("not_hosted", "this computer hosts no workspace"))?;
    session::start_hosted(&state, &mut file).await?;
    save_workspace(&state, &file)?;
    state.session.lock().await.workspace = Some(file);
    push_status(&state).await;
    Ok(session::status(&state).await)
}

/// Joins a workspace with an invite link: pins the certificate it names (trust on first use),
/// creates the account with its code, and signs in.
#[tauri::command]
pub async fn accept_invite(
    app: AppHandle,
    state: AppRef<'_>,
    link: String,
    username: String,
    password: String,
) -> CmdResult<SessionStatus> {
    let state: Arc<AppState> = state.inner().clone();
    let invite = parley_client::invite::InviteLink::parse(&link)?;
    if let Some(fingerprint) = &invite.fingerprint {
        parley_client::tls::pin(&invite.server, fingerprint)?;
    }
    session::check_server(&invite.server).await?;
    session::stop_client(&state).await;
    session::stop_hosted(&state).await;
    let (token, user) =
        session::authenticate_with_invite(&invite.server, username.trim(), &password, &invite.code)
            .await?;
    let file = WorkspaceFile {
        server: invite.server.clone(),
        fingerprint: invite.fingerprint.clone(),
        ..WorkspaceFile::default()
    };
    signed_in(&app, &state, file, &token, user).await
}

/// Changes the signed-in account's password (`POST /api/me/password`); with
/// `sign_out_others`, every other device and token of the account is signed out. Answers how
/// many were.
#[tauri::command]
pub async fn change_password(
    state: AppRef<'_>,
    current_password: String,
    new_password: String,
    sign_out_others: bool,
) -> CmdResult<u64> {
    if new_password.chars().count() < crate::hosted::MIN_PASSWORD_CHARS {
        return Err(AppError::invalid("a password has at least 8 characters"));
    }
    let client = state
        .session
        .lock()
        .await
        .client
        .clone()
        .ok_or_else(|| AppError::new("not_signed_in", "sign in first"))?;
    let changed = client
        .api()
        .change_password(&parley_protocol::api::PasswordChange {
            current_password,
            new_password,
            sign_out_others,
        })
        .await?;
    Ok(changed.signed_out)
}
