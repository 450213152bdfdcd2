//! Settings commands: notifications, do-not-disturb, per-channel notifications, theme, and
//! the user's status.

use super::AppRef;
use crate::{
    error::CmdResult,
    types::{AppEvent, MyStatus, Settings},
};

#[tauri::command]
pub async fn get_settings(state: AppRef<'_>) -> CmdResult<Settings> {
    Ok(state.settings())
}

#[tauri::command]
pub async fn set_settings(
    app: tauri::AppHandle,
    state: AppRef<'_>,
    settings: Settings,
) -> CmdResult<Settings> {
    let saved = crate::settings::save(&state, settings)?;
    crate::tray::refresh(&app, &state);
    state.push(AppEvent::Settings {
        settings: saved.clone(),
    });
    Ok(saved)
}

/// Sets this user's status: `online` (active: none), `away` or `dnd`, with an optional text
/// and expiry (Unix ms). Kept in the settings and applied to the server now when connected,
/// and on every later connection until it is changed or expires.
#[tauri::command]
pub async fn set_my_status(
    state: AppRef<'_>,
    status: String,
    text: Option<String>,
    until: Option<i64>,
) -> CmdResult<Settings> {
    let mut settings = state.settings();
    settings.status = match status.as_str() {
        "online" => None,
        _ => Some(MyStatus {
            status,
            text: text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
            until,
        }),
    };
    let saved = crate::settings::save(&state, settings)?;
    state.push(AppEvent::Settings {
        settings: saved.clone(),
    });
    if let Ok(client) = state.client().await {
        crate::status::apply(state.inner(), &client).await;
    }
    Ok(saved)
}
