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
        hosted: false,
        port: None,
        user: None,
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
/// get their accounts from its administrator). Runs `parley-server user add` on the hosted
/// data, beside the running server.
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
    host::add_account(
        &state.paths.server_data(),
        username.trim(),
        &password,
        false,
    )
    .await
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
