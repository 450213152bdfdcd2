//! Settings commands: notifications, do-not-disturb, per-channel notifications, theme.

use super::AppRef;
use crate::{
    error::CmdResult,
    types::{AppEvent, Settings},
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
