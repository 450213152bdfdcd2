//! Settings commands: notifications, do-not-disturb, per-channel notifications, theme.

use super::AppRef;
use crate::{
    error::CmdResult,
    types::{AppError, AppEvent, Settings},
};

pub fn load(path: &std::path::Path) -> Settings {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Saves and applies settings (the tray's do-not-disturb follows).
pub fn apply(
    app: &tauri::AppHandle,
    state: &crate::state::AppState,
    settings: Settings,
) -> CmdResult<Settings> {
    if !matches!(settings.theme.as_str(), "system" | "light" | "dark") {
        return Err(AppError::invalid("theme is system, light or dark"));
    }
    let path = state.paths.settings_file();
    if let Some(dir) = path.parent() {
        parley_client::files::private_dir(dir).map_err(AppError::internal)?;
    }
    let json = serde_json::to_string_pretty(&settings).map_err(AppError::internal)?;
    std::fs::write(&path, json).map_err(|e| AppError::new("storage", e.to_string()))?;
    if let Ok(mut current) = state.settings.lock() {
        *current = settings.clone();
    }
    crate::tray::refresh(app, state);
    Ok(settings)
}

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
    let saved = apply(&app, &state, settings)?;
    state.push(AppEvent::Settings {
        settings: saved.clone(),
    });
    Ok(saved)
}
